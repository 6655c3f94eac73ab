"""Compiled strict schemas cached on disk, so validating a small file needs neither
jsonschema nor the 1.8 MB definitions file.

One JSON file per kind under `<dir>/<kubernetes-validate version>/<schema version>/`: the
kind's schema with only the definitions it reaches (`kube.schemas.compile_schema`), or `null`
when there is no such kind or it cannot be compiled (then `validate` uses jsonschema). A new
kubernetes-validate version gets a directory of its own. Files are written atomically; a
cache that cannot be written (read-only root) is only slower. Decides nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

from kubeplay.kube import schemas, validate

_VERSION = re.compile(r"""__version__\s*=\s*['"]([^'"]+)['"]""")


def _validator_version(root: Path) -> str:
    try:
        text = (root.parent / "version.py").read_text()
    except OSError:
        return "unknown"
    match = _VERSION.search(text)
    return match[1] if match else "unknown"


class CompiledSchemaCache:
    """`validate.CompiledSchemas` backed by files under `directory`."""

    def __init__(self, directory: Path) -> None:
        self._root = validate.schema_root()
        self._dir = directory / f"{_validator_version(self._root)}-{schemas.COMPILE_VERSION}"
        self._memo: dict[tuple[str, str, str], Any] = {}
        self._definitions: dict[str, Any] = {}

    def __call__(self, version: str, kind: str, api_version: str) -> Any:
        key = (version, kind, api_version)
        if key not in self._memo:
            self._memo[key] = self._load(version, kind, api_version)
        return self._memo[key]

    def _load(self, version: str, kind: str, api_version: str) -> Any:
        name = schemas.schema_filename(kind, api_version)
        if "/" in name or name.startswith("."):
            return None
        path = self._dir / version / name
        try:
            with path.open("rb") as fh:
                return json.load(fh)
        except (OSError, ValueError):
            pass
        compiled = self._compile(version, name)
        self._store(path, compiled)
        return compiled

    def _compile(self, version: str, name: str) -> Any:
        source = self._root / f"v{version}-local-strict"
        try:
            with (source / name).open("rb") as fh:
                schema = json.load(fh)
        except FileNotFoundError:
            return None
        if version not in self._definitions:
            with (source / "_definitions.json").open("rb") as fh:
                self._definitions[version] = json.load(fh).get("$defs", {})
        return schemas.compile_schema(schema, self._definitions[version])

    @staticmethod
    def _store(path: Path, compiled: Any) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(compiled, separators=(",", ":")))
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
