"""The walls around a sandboxed program: the command that starts it isolated.

Two backends give the same view, tried in this order:

* ``bwrap``: bubblewrap (Debian/Ubuntu package ``bubblewrap``), the isolation tool of
  Flatpak: new PID, network, IPC, UTS, mount (and, for an ordinary user, user) namespaces;
* ``unshare``: util-linux's ``unshare``, ``mount``, ``setpriv`` and ``chroot`` (on every
  Linux), for installs that have only pip: the same namespaces, with the new root built by
  a short shell script inside the new mount namespace.

Inside, the program sees a read-only system (``/usr`` and its links, the few ``/etc`` files
the dynamic loader reads, the Python installation it runs on), ``/proc`` of its own PID
namespace, the usual ``/dev`` nodes, and one writable place: ``/sandbox``, a size-limited
tmpfs of its own holding a read-only ``main.py``. Home directories, the project, ``/tmp`` and
every other file of the host are absent. It has no network interface but a loopback of its
own (so the host's 127.0.0.1 is unreachable), no capability, ``no_new_privs`` (setuid bits do
nothing), an allow-listed environment and no inherited descriptor. When the caller is root,
the program runs as a user id of its own (`run_uid`): root would be exempt from the process
limit and would own every root-owned file; an ordinary caller's program keeps the caller's id
(mapped in a user namespace). The namespace dies with the run: nothing it started survives.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "BACKENDS",
    "SCRATCH",
    "Backend",
    "Launch",
    "bwrap_command",
    "environment",
    "run_uid",
    "unshare_command",
]

Backend = Literal["bwrap", "unshare"]
BACKENDS: tuple[Backend, ...] = ("bwrap", "unshare")

#: The program's working directory inside, its only writable place.
SCRATCH = "/sandbox"
_SCRATCH_BYTES = 64 * 1024 * 1024
_SHM_BYTES = 8 * 1024 * 1024
_DEVICES = ("null", "zero", "full", "random", "urandom")
_TOP = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")
_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True, slots=True)
class Launch:
    """One run's host paths: the program file, and an empty directory (``unshare`` only)."""

    program: Path
    newroot: Path


def environment(scratch: str) -> dict[str, str]:
    """The whole environment of a sandboxed program: nothing of the caller's."""
    return {"PATH": _PATH, "LANG": "C.UTF-8", "HOME": scratch, "TMPDIR": scratch}


def run_uid() -> int | None:
    """The host user id a root caller's program runs as: a fresh one per run (so that each
    run's ``RLIMIT_NPROC`` counts its own processes only), None for an ordinary caller."""
    if os.geteuid() != 0:
        return None
    return 2_000_000 + secrets.randbelow(1_000_000_000)


def _system() -> tuple[list[str], list[tuple[str, str]]]:
    """The host directories shown read-only, and the top-level links re-created as links."""
    binds: list[str] = []
    links: list[tuple[str, str]] = []
    for top in _TOP:
        if os.path.islink(top):
            links.append((os.readlink(top), top))
        elif os.path.isdir(top):
            binds.append(top)
    # The interpreter's own installation (a venv, pyenv, conda) when it lives elsewhere.
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        path = os.path.abspath(prefix)
        inside = any(path == top or path.startswith(top + "/") for top in binds)
        if path != "/" and not inside and os.path.isdir(path):
            binds.append(path)
        real = os.path.realpath(path)
        if real != path and real != "/" and os.path.isdir(real):
            binds.append(real)
    return sorted(set(binds)), links


def bwrap_command(
    binary: str, launch: Launch, *, uid: int | None, setpriv: str | None
) -> list[str]:
    """The bubblewrap command that runs what follows it in the sandbox.

    Root keeps only the capabilities ``setpriv`` needs to drop to ``uid`` (bubblewrap keeps
    all of them for root otherwise); an ordinary caller gets a user namespace.
    """
    command = [binary, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    command += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if uid is None:
        command += ["--unshare-user", "--cap-drop", "ALL"]
    else:
        command += ["--cap-drop", "ALL"]
        command += [part for cap in _SETPRIV_CAPS for part in ("--cap-add", cap)]
    binds, links = _system()
    # Directories bubblewrap creates for mount points are private to root otherwise.
    for directory in _ancestors([*binds, *_ETC]):
        command += ["--perms", "0755", "--dir", directory]
    for path in binds:
        command += ["--ro-bind", path, path]
    for target, link in links:
        command += ["--symlink", target, link]
    for path in _ETC:
        command += ["--ro-bind-try", path, path]
    command += ["--proc", "/proc", "--dev", "/dev", "--size", str(_SHM_BYTES)]
    command += ["--tmpfs", "/dev/shm", "--perms", "0777", "--size", str(_SCRATCH_BYTES)]
    command += ["--tmpfs", SCRATCH, "--ro-bind", str(launch.program), f"{SCRATCH}/main.py"]
    # The root bubblewrap builds is a tmpfs: read-only too once every mount point is made.
    command += ["--remount-ro", "/", "--chdir", SCRATCH, "--clearenv"]
    for key, value in environment(SCRATCH).items():
        command += ["--setenv", key, value]
    return [*command, "--", *_drop(setpriv, uid)]


def _ancestors(paths: list[str]) -> list[str]:
    """Every directory above ``paths`` (not ``/``), parents first."""
    found = {str(parent) for path in paths for parent in Path(path).parents if str(parent) != "/"}
    return sorted(found, key=lambda directory: (directory.count("/"), directory))


_SETPRIV_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")


def _drop(setpriv: str | None, uid: int | None) -> list[str]:
    """``setpriv`` leaving no capability, no way to gain one, and (as root) ``uid``."""
    if setpriv is None:
        return []
    command = [setpriv, "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"]
    if uid is not None:
        command += [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    return [*command, "--"]


def unshare_command(
    tools: dict[str, str], launch: Launch, *, uid: int | None, program: list[str]
) -> list[str]:
    """The util-linux command that runs ``program`` in the sandbox.

    ``tools`` maps ``unshare``, ``mount``, ``chroot``, ``setpriv``, ``sh`` to their paths.
    An ordinary caller becomes root of a new user namespace to build the new root, then
    ``setpriv`` takes every capability away before the program starts.
    """
    command = [tools["unshare"]]
    if uid is None:
        command += ["--user", "--map-root-user"]
    command += ["--mount", "--pid", "--fork", "--kill-child", "--net", "--ipc", "--uts"]
    script = _root_script(tools, launch, [*_drop(tools["setpriv"], uid), *program])
    return [*command, "--", tools["sh"], "-c", script]


def _root_script(tools: dict[str, str], launch: Launch, program: list[str]) -> str:
    """The shell script that builds the new root in the new mount namespace and starts
    ``program`` in it (mounts made here are private to the namespace)."""
    q = shlex.quote
    mount = q(tools["mount"])
    root = q(str(launch.newroot))
    lines = ["set -eu", f"{mount} --make-rprivate /", f"{mount} -t tmpfs -o mode=0755 tmpfs {root}"]

    def bind(source: str, target: str, *, file: bool = False, options: str = "ro,") -> None:
        make = f"touch {root}{q(target)}" if file else f"mkdir -p {root}{q(target)}"
        lines.extend(
            [
                f"mkdir -p {root}{q(os.path.dirname(target))}",
                make,
                f"{mount} --rbind {q(source)} {root}{q(target)}",
                f"{mount} -o remount,bind,{options}nosuid {root}{q(target)}",
            ]
        )

    binds, links = _system()
    for path in binds:
        bind(path, path, options="ro,nodev,")
    for target, link in links:
        lines.append(f"ln -s {q(target)} {root}{q(link)}")
    for path in _ETC:
        if os.path.exists(path):
            bind(path, path, file=os.path.isfile(path), options="ro,nodev,")
    for device in _DEVICES:
        bind(f"/dev/{device}", f"/dev/{device}", file=True, options="")
    lines += [
        f"mkdir -p {root}/dev/shm {root}{SCRATCH} {root}/proc",
        f"{mount} -t tmpfs -o mode=1777,size={_SHM_BYTES},nosuid,nodev tmpfs {root}/dev/shm",
        f"{mount} -t tmpfs -o mode=0777,size={_SCRATCH_BYTES},nosuid,nodev tmpfs {root}{SCRATCH}",
    ]
    bind(str(launch.program), f"{SCRATCH}/main.py", file=True, options="ro,nodev,")
    # A fresh /proc shows this PID namespace only; some containers refuse it (then none).
    lines.append(
        f"{mount} -t proc -o nosuid,nodev,noexec proc {root}/proc "
        f"&& {mount} --bind {root}/proc/sys {root}/proc/sys "
        f"&& {mount} -o remount,bind,ro {root}/proc/sys || true"
    )
    lines.append(f"{mount} -o remount,bind,ro,nosuid,nodev {root}")
    # The shell's environment is already the allow-listed one (see `environment`).
    lines.append(f"exec {q(tools['chroot'])} {root} " + " ".join(q(part) for part in program))
    return "\n".join(lines)


def unshare_tools() -> dict[str, str] | None:
    """The util-linux tools the ``unshare`` backend needs, or None if one is missing."""
    # The caller's PATH, and the sbin folders an ordinary user's PATH lacks (chroot is there).
    search = os.environ.get("PATH", _PATH) + ":/usr/sbin:/sbin"
    found = {name: shutil.which(name, path=search) for name in _TOOLS}
    if any(path is None for path in found.values()):
        return None
    return {name: str(path) for name, path in found.items()}


_TOOLS = ("unshare", "mount", "chroot", "setpriv", "sh")
