"""openai and anthropic are optional: nothing imports them at run time (they are in the
'sdks' extra, for type-checking and tests), so the engine, the CLI and the simulator run in
an interpreter that cannot import them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import ROOT

BLOCK = """
import sys

class NoSdks:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("openai", "anthropic"):
            raise ImportError(f"{name} is not installed here")
        return None

sys.meta_path.insert(0, NoSdks())
"""


def test_the_engine_runs_every_wire_without_the_sdks() -> None:
    code = BLOCK + textwrap.dedent(
        """
        from archon_async import Engine
        config = {"layers": [[
            {"type": "generator", "model": "gpt-4o-mini", "model_type": "OpenAI_API"},
            {"type": "generator", "model": "claude-3-5-sonnet-20240620",
             "model_type": "Anthropic_API"},
            {"type": "generator", "model": "gemini-1.5-pro", "model_type": "Google_API"},
        ]]}
        with Engine(config, simulate=True) as engine:
            result = engine.generate_sync("Hi?")
        assert result.trace.call_count == 3 and result.trace.failed_calls == 0
        from archon_async.cli import main
        assert main(["validate", "--all-archon"]) == 0
        assert not [m for m in sys.modules if m.split(".")[0] in ("openai", "anthropic")]
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")
