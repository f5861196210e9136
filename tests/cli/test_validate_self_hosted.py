"""`validate` advises a concurrency for self-hosted servers that have none set."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.conftest import run_cli


def _config(path: Path, provider: dict[str, object]) -> Path:
    generator = {
        "type": "generator",
        "model": "local",
        "model_type": "OpenAI_Compatible",
        "temperature": 0.7,
        "max_tokens": 64,
        "samples": 2,
    }
    path.write_bytes(
        orjson.dumps(
            {"name": "local", "layers": [[generator]], "providers": {"OpenAI_Compatible": provider}}
        )
    )
    return path


def test_validate_advises_max_concurrency_for_a_self_hosted_server(tmp_path: Path) -> None:
    bare = _config(tmp_path / "bare.json", {"base_url": "http://127.0.0.1:8080/v1"})
    capped = _config(
        tmp_path / "capped.json", {"base_url": "http://127.0.0.1:8080/v1", "max_concurrency": 4}
    )
    done = run_cli("validate", str(bare), str(capped), timeout=60)
    assert done.returncode == 0, done.stderr
    bare_part, capped_part = done.stdout.split(f"ok {capped}")
    assert (
        "OpenAI_Compatible is self-hosted: set providers.OpenAI_Compatible.max_concurrency"
        in bare_part
    )
    assert "llama-server --parallel" in bare_part
    assert "self-hosted" not in capped_part
