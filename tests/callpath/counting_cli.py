"""``archon-async`` with a counting simulated provider: every chat request it receives is
appended (its sample count ``n``) to the file named by ``ARCHON_TEST_REQUESTS`` *on arrival*,
so the count survives a SIGKILL of this process. Run as ``python -m tests.callpath.counting_cli``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from archon_async.cli import main
from archon_async.simulate import _simulator

_serve = _simulator.Simulator.serve


async def _counted(self: Any, request: Any, wire: Any) -> Any:
    body = await request.json()  # aiohttp keeps the body: the simulator reads it again
    samples = body.get("n", 1) if isinstance(body, dict) else 1
    handle = os.open(os.environ["ARCHON_TEST_REQUESTS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(handle, f"{samples}\n".encode())
    finally:
        os.close(handle)
    return await _serve(self, request, wire)


if __name__ == "__main__":
    _simulator.Simulator.serve = _counted  # type: ignore[method-assign]
    sys.exit(main(sys.argv[1:]))
