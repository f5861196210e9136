"""The public API is exactly what __all__ lists, sorted, and every name resolves."""

from __future__ import annotations

import archon_async


def test_all_is_sorted_and_complete() -> None:
    names = [name for name in archon_async.__all__ if name != "__version__"]
    assert names == sorted(names)
    public = {name for name in dir(archon_async) if not name.startswith("_")}
    public -= {"annotations", "version", "PackageNotFoundError", "core"}
    public = {name for name in public if not _is_submodule(name)}
    assert public == set(names)


def test_fixed_public_names_exist() -> None:
    for name in ("Architecture", "Engine", "ArchonError", "ConfigError"):
        assert name in archon_async.__all__
    assert issubclass(archon_async.ConfigError, archon_async.ArchonError)


def _is_submodule(name: str) -> bool:
    return type(getattr(archon_async, name)).__name__ == "module"
