"""The Python code that runs first inside the sandbox and then runs the program.

It is passed with ``python -I -c`` (so no file of ours has to be visible inside), with the
arguments ``MODE WORKDIR MAX_PROCESSES STARTED_FD``:

* ``tests``: the program is a solution followed by its tests (HumanEval, MBPP). It runs as
  a module named ``__sandbox__``, not ``__main__``, as in human-eval's harness, so a
  solution's ``if __name__ == "__main__":`` block does not run. Only when every statement
  has run does the driver write the per-run marker (read from standard input, a pipe, before
  the program starts) on its own line to standard output and leave at once with status 0.
  ``sys.exit(0)``, ``os._exit(0)``, ``raise SystemExit(0)`` or an ``atexit`` hook end the
  process without the marker, so they fail.
* ``main``: the program is a whole script reading standard input (CodeContests); it runs as
  ``__main__`` and its exit status and output are its own.

Before the program, the driver enters the scratch directory, writes one byte to
``STARTED_FD`` (the time limit counts from there: the sandbox's own start, slow on a loaded
machine, is not the program's time), closes every inherited descriptor above 2, and sets
``RLIMIT_NPROC`` (from inside: the kernel counts processes per user in
each user namespace, so the limit bounds this run alone). Where it is PID 1 of its namespace
(the ``unshare`` backend) it forks, so that the program is not PID 1 (which ignores signals
it has no handler for), reaps the orphans and exits with the program's status; its exit then
ends every process left in the namespace.

A program written to read the marker from its own process memory (frame introspection) can
still forge a pass: no harness that runs tests in the program's process, human-eval's
included, stops that. The marker never appears in a file, the command line or the
environment the program can read.
"""

from __future__ import annotations

__all__ = ["DRIVER", "SOCKET_GUARD"]

DRIVER = r"""
def _sandbox_run():
    import os, resource, sys, traceback
    mode, workdir, nproc, started = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    os.chdir(workdir)
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    if os.getpid() == 1:
        child = os.fork()
        if child:
            os.closerange(3, 65536)
            while True:
                done, status = os.wait()
                if done == child:
                    code = os.waitstatus_to_exitcode(status)
                    os._exit(code if code >= 0 else 128 - code)
    os.write(started, b"1")
    os.closerange(3, 65536)
    sys.argv = ["main.py"]
    if mode == "main":
        import runpy
        runpy.run_path("main.py", run_name="__main__")
        return
    marker = b""
    while True:
        chunk = os.read(0, 4096)
        if not chunk:
            break
        marker += chunk
    exit_now, write, print_exc = os._exit, os.write, traceback.print_exc
    stdout, stderr = sys.stdout, sys.stderr
    namespace = {"__name__": "__sandbox__", "__file__": "main.py", "__builtins__": __builtins__}
    try:
        with open("main.py", encoding="utf-8") as handle:
            source = handle.read()
        exec(compile(source, "main.py", "exec"), namespace)
    except BaseException:
        try:
            print_exc(file=stderr)
            stderr.flush()
        finally:
            exit_now(1)
    try:
        stdout.flush()
    except BaseException:
        pass
    write(1, b"\n" + marker.strip() + b"\n")
    exit_now(0)


_sandbox_run()
"""

#: Prepended to the driver when no network namespace is available (``allow_unsafe``): a guard
#: against accidents, not a boundary (code can reach the C level by other means).
SOCKET_GUARD = r"""
import _socket as _sb_c, socket as _sb_socket
_sb_orig = _sb_c.socket
def _sb_refuse(*args, **kwargs):
    raise PermissionError(1, "network access is disabled in the sandbox")
class _SbSocket(_sb_orig):
    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if fileno is None and (family == -1 or family in (_sb_c.AF_INET, _sb_c.AF_INET6)):
            _sb_refuse()
        _sb_orig.__init__(self, family, type, proto, fileno)
_sb_c.socket = _sb_c.SocketType = _SbSocket
_sb_socket.create_connection = _sb_refuse
del _sb_socket, _sb_c
"""
