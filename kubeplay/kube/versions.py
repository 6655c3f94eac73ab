"""The Kubernetes versions whose schemas kubernetes-validate bundles, read from its directory
listing: without the validator, the YAML loader or jsonschema, so that the supervisor can
name the version in its probes' User-Agent (`engine.probes.kube_version`) at no memory cost."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from pathlib import Path

from kubeplay.errors import UsageError

_VERSION = re.compile(r"v?(\d+)\.(\d+)(\.\d+)?")


def resolve_schema_version(kube_version: str) -> str:
    """The bundled schema version for a Kubernetes version ("" = newest), as `1.30.0`."""
    bundled = bundled_versions()
    if not kube_version:
        return str(bundled[-1])
    match = _VERSION.fullmatch(kube_version.strip())
    if not match:
        raise UsageError(f"Kubernetes version {kube_version!r}: expected MAJOR.MINOR, like 1.30")
    wanted = (int(match[1]), int(match[2]))
    usable = [v for v in bundled if _major_minor(v) <= wanted]
    if not usable or wanted > _major_minor(bundled[-1]):
        oldest, newest = (".".join(map(str, _major_minor(v))) for v in (bundled[0], bundled[-1]))
        raise UsageError(
            f"Kubernetes version {kube_version}: not supported (schemas for {oldest} to {newest})"
        )
    return str(usable[-1])


def schema_root() -> Path:
    """kubernetes-validate's bundled schema directory, found without importing the package
    (its import pulls in jsonschema: ~0.3 s that a valid small file does not need)."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("kubernetes-validate is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"


@functools.cache
def bundled_versions() -> list[str]:
    """The Kubernetes versions kubernetes-validate bundles schemas for, oldest first (its
    `utils.all_versions()`, from the directory names `v1.30.0-local-strict`)."""
    names = {m[1] for entry in os.listdir(schema_root()) if (m := _SCHEMA_DIR.match(entry))}
    return sorted(names, key=lambda v: tuple(int(p) for p in v.split(".")))


_SCHEMA_DIR = re.compile(r"v(\d+\.\d+\.\d+)-")


def _major_minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)
