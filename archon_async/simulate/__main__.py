"""``python -m archon_async.simulate``: serve the simulated provider in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from ._server import SimulatedServer
from ._settings import FAULT_KINDS, SimulationSettings

__all__ = ["build_settings", "main"]

_PROG = "python -m archon_async.simulate"


class _CannotListen(Exception):
    """The server could not bind its address; the message is the whole explanation."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Serve a simulated LLM provider (OpenAI, Anthropic, Gemini and Bedrock "
        "wire formats) on this machine. Flags override the --config file.",
    )
    parser.add_argument("--port", type=int, default=None, help="port (default 8765; 0 = any)")
    parser.add_argument("--host", default=None, help="interface (default 127.0.0.1)")
    parser.add_argument("--latency-ms", type=float, default=None, help="fixed latency per call")
    parser.add_argument("--jitter-ms", type=float, default=None, help="extra random latency")
    parser.add_argument("--rpm", type=int, default=None, help="requests per minute per model")
    parser.add_argument(
        "--rpm-window-s", type=float, default=None, help="window the rpm is counted over"
    )
    parser.add_argument("--rate-limiter", choices=["sliding_window", "token_bucket"], default=None)
    parser.add_argument("--fault-rate", type=float, default=None, help="share of faulty replies")
    parser.add_argument(
        "--faults", default=None, help=f"comma-separated fault kinds: {','.join(FAULT_KINDS)}"
    )
    parser.add_argument("--timeout-fault-s", type=float, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--skill", type=float, default=None, help="default model skill, 0..1")
    parser.add_argument(
        "--answer-key", default=None, help='JSON file: {"question or id": "answer", ...}'
    )
    parser.add_argument("--reply-tokens", type=int, default=None, help="words per generic reply")
    parser.add_argument("--require-key", action="store_true", default=None)
    parser.add_argument(
        "--request-log", type=int, default=None, help="latest requests kept for GET /requests"
    )
    parser.add_argument(
        "--lenient",
        dest="enforce_request_rules",
        action="store_false",
        default=None,
        help="serve requests the real APIs refuse (reasoning-model parameters, Anthropic "
        "output limits, role order)",
    )
    parser.add_argument(
        "--chunk-interval-ms", type=float, default=None, help="pause between streamed pieces"
    )
    parser.add_argument("--config", default=None, help="JSON file of SimulationSettings fields")
    return parser


def build_settings(argv: Sequence[str] | None = None) -> SimulationSettings:
    """The settings the command line asks for: the config file, then the flags over it.

    Raises:
        SystemExit: the arguments or the files are invalid (argparse's convention).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    fields: dict[str, Any] = {"port": 8765}
    try:
        if args.config:
            fields.update(orjson.loads(Path(args.config).read_bytes()))
        if args.answer_key:
            fields["answer_key"] = orjson.loads(Path(args.answer_key).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        parser.error(str(exc))
    flags = {
        "port": args.port,
        "host": args.host,
        "latency_s": None if args.latency_ms is None else args.latency_ms / 1000,
        "jitter_s": None if args.jitter_ms is None else args.jitter_ms / 1000,
        "rpm": args.rpm,
        "rpm_window_s": args.rpm_window_s,
        "rate_limiter": args.rate_limiter,
        "fault_rate": args.fault_rate,
        "faults": None if args.faults is None else [f for f in args.faults.split(",") if f],
        "timeout_fault_s": args.timeout_fault_s,
        "seed": args.seed,
        "skill": args.skill,
        "reply_tokens": args.reply_tokens,
        "require_key": args.require_key,
        "request_log": args.request_log,
        "enforce_request_rules": args.enforce_request_rules,
        "chunk_interval_s": None
        if args.chunk_interval_ms is None
        else args.chunk_interval_ms / 1000,
    }
    fields.update({name: value for name, value in flags.items() if value is not None})
    try:
        return SimulationSettings.model_validate(fields)
    except ValueError as exc:
        parser.error(str(exc))


async def _serve(settings: SimulationSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = SimulatedServer(settings)
    try:
        await server.start()
    except OSError as exc:
        raise _CannotListen(_listen_error(settings, exc)) from None
    try:
        sys.stdout.write(f"simulated provider listening on {server.base_url}\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await server.aclose()


def _listen_error(settings: SimulationSettings, exc: OSError) -> str:
    where = f"{settings.host}:{settings.port}"
    if exc.errno == errno.EADDRINUSE:
        return f"cannot listen on {where}: the port is in use (pick another --port, or 0)"
    # asyncio's bind errors repeat the address around strerror; os.strerror is just the
    # cause. Name lookup errors (socket.gaierror) have negative numbers of their own.
    if exc.errno is not None and exc.errno > 0:
        reason = os.strerror(exc.errno).lower()
    else:
        reason = (exc.strerror or str(exc)).lower()
    return f"cannot listen on {where}: {reason}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until SIGINT or SIGTERM; returns the exit status.

    Returns 2 (argparse's status for bad usage), with a one-line message on stderr, when
    the address cannot be bound (a port in use, an unknown host).
    """
    settings = build_settings(argv)
    try:
        asyncio.run(_serve(settings))
    except _CannotListen as exc:
        sys.stderr.write(f"{_PROG}: error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
