"""kubeplay.codecache: dataclasses' generated methods compiled once, kept on disk, and the
classes made from cached code the same as those dataclasses makes itself."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubeplay import codecache


def _make_class() -> type:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Probe:
        path: str
        port: int = 80
        tags: tuple[str, ...] = dataclasses.field(default_factory=tuple)

    return Probe


def _with_cache(
    monkeypatch: pytest.MonkeyPatch, path: Path
) -> Callable[[], tuple[codecache.CodeCache, type]]:
    def build() -> tuple[codecache.CodeCache, type]:
        cache = codecache.CodeCache(path)
        monkeypatch.setattr(dataclasses, "exec", cache.exec, raising=False)
        try:
            return cache, _make_class()
        finally:
            monkeypatch.delattr(dataclasses, "exec")

    return build


def test_second_process_compiles_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = _with_cache(monkeypatch, tmp_path / "cache.marshal")
    first, _ = build()
    compiled = len(first.new)
    assert compiled and first.hits == 0
    first.save(force=True)
    second, _ = build()
    assert second.new == {}
    assert second.hits == compiled


@pytest.mark.parametrize(
    "check",
    [
        pytest.param(lambda c: c("/a") == c("/a", 80, ()), id="defaults-and-eq"),
        pytest.param(lambda c: hash(c("/a")) == hash(c("/a")), id="frozen-hash"),
        pytest.param(
            lambda c: repr(c("/a")).endswith("Probe(path='/a', port=80, tags=())"), id="repr"
        ),
        pytest.param(lambda c: not hasattr(c("/a"), "__dict__"), id="slots"),
        pytest.param(
            # the field's own annotation ("int" here, this module has postponed annotations);
            # code compiled with our __future__ flags would give the name "_type_port"
            lambda c: c.__init__.__annotations__["port"] == "int",
            id="annotations-as-dataclasses-gives-them",
        ),
    ],
)
def test_class_from_cached_code_behaves_as_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, check: Callable[[Any], bool]
) -> None:
    build = _with_cache(monkeypatch, tmp_path / "cache.marshal")
    first, _ = build()
    first.save(force=True)
    _, cached = build()
    plain = _make_class()
    assert check(cached) == check(plain)
    assert check(cached)


def test_frozen_class_from_cached_code_refuses_assignment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = _with_cache(monkeypatch, tmp_path / "cache.marshal")
    build()[0].save(force=True)
    _, cached = build()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cached("/a").port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty-file"),
        pytest.param(b"\x00garbage", id="not-marshal"),
        pytest.param(b"\xe9\x00\x00\x00\x00", id="not-a-dict"),
    ],
)
def test_unreadable_cache_file_is_an_empty_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    path = tmp_path / "cache.marshal"
    path.write_bytes(content)
    cache, cls = _with_cache(monkeypatch, path)()
    assert cache.entries == {} and cache.new
    assert cls("/a").port == 80


def test_nothing_written_under_dont_write_bytecode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cache.marshal"
    cache, _ = _with_cache(monkeypatch, path)()
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    cache.save()
    assert not path.exists()
    cache.save(force=True)
    assert path.exists()


def test_unwritable_directory_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache, _ = _with_cache(monkeypatch, blocker / "sub" / "cache.marshal")()
    cache.save(force=True)  # no error: the cache is an optimisation
    assert cache.new
