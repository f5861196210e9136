"""The architectures shipped inside the package, found by name.

The repository's ``configs/`` folder is installed as ``archon_async/configs`` (ours at the top,
the configurations published with Archon under ``archon/``), so a name such as ``default`` or
``archon/MoA-lite`` loads the same file from a clone and from an installed wheel. A path that
exists always wins over a name: a user's own ``default.json`` is never shadowed.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

__all__ = ["SHIPPED_CONFIGS", "find_shipped", "resolve_config_path", "shipped_config_names"]

#: Where the shipped configurations live (a symlink to the repository's configs/ in a clone).
SHIPPED_CONFIGS = Path(__file__).resolve().parent / "configs"


def shipped_config_names(folder: str = "") -> list[str]:
    """The names of the shipped configurations, e.g. ``default``, ``archon/MoA-lite``.

    Args:
        folder: only those of one folder (``"archon"``); ``""`` lists every one.
    """
    root = SHIPPED_CONFIGS / folder if folder else SHIPPED_CONFIGS
    return sorted(
        path.relative_to(SHIPPED_CONFIGS).with_suffix("").as_posix()
        for path in root.rglob("*.json")
    )


def find_shipped(name: str) -> Path | None:
    """The shipped file a name stands for, or None.

    ``default``, ``default.json`` and ``configs/default.json`` (the README's relative path,
    typed where no clone is) all name ``archon_async/configs/default.json``.
    """
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if parts[:1] == ("configs",):
        parts = parts[1:]
    if not parts or any(part in ("..", ".") for part in parts) or parts[0] == "/":
        return None
    candidate = SHIPPED_CONFIGS.joinpath(*parts)
    if candidate.suffix != ".json":
        candidate = candidate.with_name(candidate.name + ".json")
    return candidate if candidate.is_file() else None


def resolve_config_path(value: str | Path) -> Path:
    """A config path as given if it exists, else the shipped config it names, else as given
    (so that reading it reports the missing file)."""
    path = Path(value)
    if path.exists():
        return path
    return find_shipped(str(value)) or path
