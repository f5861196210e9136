"""``archon-async serve CONFIG [CONFIG ...]``: the server on uvicorn, with a graceful stop.

On SIGINT or SIGTERM uvicorn stops accepting connections, readiness turns to 503, requests
in flight get ``--grace-s`` seconds to finish, then the ones left are cancelled (and with
them their provider calls) and the engines close.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import Any

from ._architecture import Architecture
from ._cli_callpath import check_shared_limits, shared_limits_url
from ._cli_common import nonnegative_float, nonnegative_int, port_number, positive_int
from ._exceptions import ConfigError

__all__ = ["add_serve_command"]


def add_serve_command(commands: Any) -> None:
    """Add the ``serve`` subcommand to the CLI's subparsers."""
    # Written out rather than imported: the serve extra (Starlette) may not be installed.
    default_body, default_concurrent, env_keys = 4 * 1024 * 1024, 256, "ARCHON_SERVE_API_KEYS"

    serve = commands.add_parser(
        "serve",
        help="serve architectures as OpenAI-compatible chat models",
        description="Serve each architecture as a model named by its config's name, on "
        "OpenAI's chat-completions API (streaming included).",
    )
    serve.add_argument("configs", nargs="+", type=Path, metavar="CONFIG")
    serve.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=port_number, default=8000, help="port (default: 8000; 0: any free one)"
    )
    serve.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help=f"a key callers must present as a bearer token (repeatable; also --api-key-file "
        f"and ${env_keys}); without any, the server takes every request",
    )
    serve.add_argument(
        "--api-key-file", type=Path, metavar="FILE", help="a file of caller keys, one per line"
    )
    serve.add_argument(
        "--max-body-bytes",
        type=positive_int,
        default=default_body,
        metavar="N",
        help="the largest request body accepted (413 beyond)",
    )
    serve.add_argument(
        "--max-concurrent",
        type=positive_int,
        default=default_concurrent,
        metavar="N",
        help=f"requests in flight per API key (429 beyond; default {default_concurrent})",
    )
    serve.add_argument(
        "--grace-s",
        type=nonnegative_int,
        default=30,
        metavar="S",
        help="on shutdown, how long requests in flight may take to finish (default 30)",
    )
    serve.add_argument(
        "--simulate", action="store_true", help="answer with the in-process simulated provider"
    )
    serve.add_argument(
        "--simulate-url", metavar="URL", help="use a simulated provider already running at URL"
    )
    serve.add_argument(
        "--simulate-latency-ms",
        type=nonnegative_float,
        metavar="MS",
        help="latency of simulated calls",
    )
    serve.add_argument(
        "--keys",
        type=Path,
        metavar="FILE",
        help='provider keys: a JSON file {"OPENAI_API_KEY": [...], ...}; default: environment',
    )
    from ._cli_callpath import add_shared_limits_option

    add_shared_limits_option(serve)
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        from .serve import create_app, load_api_keys
        from .serve._server import serve_app
    except ImportError as exc:
        raise ConfigError(
            f"serving needs the serve extra ({exc.name} is missing): "
            "pip install 'archon-async[serve]'"
        ) from None

    api_keys = load_api_keys(args.api_key, file=args.api_key_file)
    simulate: Any = args.simulate_url or args.simulate
    if simulate is True:
        from .simulate import SimulationSettings

        simulate = SimulationSettings(latency_s=(args.simulate_latency_ms or 0) / 1000)
    architectures = [Architecture.from_file(path) for path in args.configs]
    check_shared_limits(args)
    app = create_app(
        architectures,
        api_keys=api_keys,
        simulate=simulate,
        keys=args.keys,
        max_body_bytes=args.max_body_bytes,
        max_concurrent_per_key=args.max_concurrent,
        shared_limits=shared_limits_url(args),
        shared_limits_prefix=args.shared_limits_prefix,
    )
    if not api_keys and not _is_loopback(args.host):
        sys.stderr.write(
            f"archon-async: warning: no API key is required and {args.host} is not the "
            "loopback: anyone who reaches it spends your providers' credit (--api-key)\n"
        )
    names = ", ".join(architecture.name for architecture in architectures)
    host = f"[{args.host}]" if ":" in args.host else args.host

    def serving(port: int) -> None:  # said once it listens, with the port bound (--port 0)
        sys.stderr.write(f"archon-async: serving {names} on http://{host}:{port}/v1\n")
        sys.stderr.flush()

    started = serve_app(
        app,
        host=args.host,
        port=args.port,
        grace_s=args.grace_s,
        verbose=args.verbose,
        on_started=serving,
    )
    return 0 if started else 1


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
