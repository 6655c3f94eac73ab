"""The on-disk cache of compiled schemas: written once per kubernetes-validate version and
Kubernetes version, read back without compiling, harmless when it cannot be written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubeplay.kube import schemas, validate
from kubeplay.state import schemacache
from kubeplay.state.schemacache import CompiledSchemaCache


def _refuse_compile(*_args: Any) -> Any:
    raise AssertionError("compiled again although the cache holds it")


def test_a_compiled_schema_is_kept_per_validator_and_kube_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = validate.resolve_schema_version("")
    compiled = CompiledSchemaCache(tmp_path)(version, "Pod", "v1")
    assert compiled is not None and "io.k8s.api.core.v1.PodSpec" in compiled["defs"]
    from kubernetes_validate import __version__

    assert (
        tmp_path / f"{__version__}-{schemas.COMPILE_VERSION}" / version / "pod-v1.json"
    ).is_file()

    monkeypatch.setattr(CompiledSchemaCache, "_compile", _refuse_compile)
    assert CompiledSchemaCache(tmp_path)(version, "Pod", "v1") == compiled


def test_another_kubernetes_validate_version_has_its_own_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = validate.resolve_schema_version("")
    CompiledSchemaCache(tmp_path)(version, "Pod", "v1")
    monkeypatch.setattr(schemacache, "_validator_version", lambda _root: "0.0.1")
    CompiledSchemaCache(tmp_path)(version, "Pod", "v1")
    assert (tmp_path / f"0.0.1-{schemas.COMPILE_VERSION}" / version / "pod-v1.json").is_file()


def test_an_unknown_kind_is_remembered_as_none(tmp_path: Path) -> None:
    version = validate.resolve_schema_version("")
    assert CompiledSchemaCache(tmp_path)(version, "Gadget", "v1") is None
    assert CompiledSchemaCache(tmp_path)(version, "Gadget", "../v1") is None


def test_a_cache_that_cannot_be_written_is_only_slower(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the directory should be")
    version = validate.resolve_schema_version("")
    assert CompiledSchemaCache(blocker)(version, "Pod", "v1") is not None
    assert blocker.read_text() == "a file where the directory should be"


def test_a_corrupt_cache_file_is_compiled_again(tmp_path: Path) -> None:
    version = validate.resolve_schema_version("")
    good = CompiledSchemaCache(tmp_path)(version, "Pod", "v1")
    for path in tmp_path.rglob("pod-v1.json"):
        path.write_text("{not json")
    assert CompiledSchemaCache(tmp_path)(version, "Pod", "v1") == good
