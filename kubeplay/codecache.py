"""Compiled code of the methods `dataclasses` generates, kept on disk between commands.

`@dataclass` writes each class's __init__, __repr__, __eq__, __hash__, __setattr__ and
__delattr__ as source text and compiles it with exec(): for the ~100 frozen dataclasses a
command such as `play` or `get pods` imports that is 700 compilations, about a third of the
command's CPU time. A .pyc keeps a module's compiled code between runs but not those texts;
this does the same for them. `install()` gives the dataclasses module an exec() that looks the
text up in a cache file next to the package's .pyc files (one per interpreter cache tag, as
for .pyc) and compiles only what is not there; the code objects are those compile() makes of
the same text, with no inherited __future__ flags, as dataclasses' own exec() compiles it, so
the classes are the same. New texts are added to the file at exit (atomically: a temporary
file renamed over it). A missing, unreadable or foreign file is an empty cache; one that
cannot be written is left alone, as Python does with .pyc files; like them, nothing is
written under PYTHONDONTWRITEBYTECODE, so `make bytecode` fills it for every module
(`python -m kubeplay.codecache`).

Commands install it (cli/__init__.py); the long-running supervisor does not (it compiles once
and would keep the cache in memory).
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import dataclasses
import marshal
import os
import sys
from pathlib import Path
from typing import Any

MAX_ENTRIES = 4000  # more than every dataclass of kubeplay in all its variants, several times


def default_path() -> Path:
    tag = sys.implementation.cache_tag or "nocache"
    return Path(__file__).parent / "__pycache__" / f"dataclass-code.{tag}.marshal"


class CodeCache:
    """source text -> marshalled code object, loaded from and saved to `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries = _load(path)
        self.new: dict[str, bytes] = {}
        self.hits = 0

    def code(self, source: str) -> Any:
        raw = self.entries.get(source)
        if raw is not None:
            with contextlib.suppress(EOFError, ValueError, TypeError):
                code = marshal.loads(raw)
                self.hits += 1
                return code
        # what exec(source) in the dataclasses module compiles: no __future__ flags of ours
        code = compile(source, "<string>", "exec", dont_inherit=True)
        self.new[source] = marshal.dumps(code)
        return code

    def exec(self, source: Any, globals: dict[str, Any] | None = None, locals: Any = None) -> None:
        if isinstance(source, str):
            source = self.code(source)
        builtins.exec(source, globals, locals)

    def save(self, *, force: bool = False) -> None:
        """Write the entries plus what this process compiled; nothing new, nothing written
        (nor under PYTHONDONTWRITEBYTECODE, unless `force`)."""
        if not self.new or (sys.dont_write_bytecode and not force):
            return
        merged = {**_load(self.path), **self.new}  # what other processes added meanwhile
        if len(merged) > MAX_ENTRIES:
            merged = dict(self.new)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                marshal.dump(merged, out)
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            return
        self.entries = merged
        self.new = {}


def _load(path: Path) -> dict[str, bytes]:
    try:
        with open(path, "rb") as f:
            data = marshal.load(f)
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return data


_installed: list[CodeCache] = []


def install(path: Path | None = None) -> CodeCache:
    """Make `dataclasses` compile through a cache at `path` (default: next to the .pyc
    files), saved at exit; once per process."""
    if _installed:
        return _installed[0]
    cache = CodeCache(path or default_path())
    # the module's global `exec` shadows the builtin for dataclasses' own calls only
    dataclasses.exec = cache.exec  # type: ignore[attr-defined]
    atexit.register(cache.save)
    _installed.append(cache)
    return cache


def build(path: Path | None = None) -> int:
    """Import every kubeplay module through the cache and write it; the entry count."""
    import importlib
    import pkgutil

    import kubeplay

    cache = install(path)
    for mod in pkgutil.walk_packages(kubeplay.__path__, "kubeplay."):
        if not mod.name.endswith("__main__"):
            importlib.import_module(mod.name)
    cache.save(force=True)
    return len(cache.entries)


if __name__ == "__main__":  # `make bytecode`; the package's module, not this __main__ copy
    from kubeplay import codecache

    print(f"{codecache.build()} dataclass methods compiled into {codecache.default_path()}")
