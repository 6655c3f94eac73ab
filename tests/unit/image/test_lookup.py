"""ImageStore lookups against a hand-written index (no root, no blobs needed to resolve).

Exercises name/id/digest resolution order and the ambiguous-prefix error without importing a
real image, so it runs anywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeplay.errors import ImageError, NotFoundError
from kubeplay.image import ImageStore, index

A = "sha256:" + "ab12" + "0" * 60
B = "sha256:" + "ab12" + "f" * 60
C = "sha256:" + "c" * 64
M = "sha256:" + "d" * 64


def _entry(image_id: str, *names: str) -> index.IndexEntry:
    return index.IndexEntry(
        names=list(names),
        manifest=M if image_id == C else image_id,
        config=image_id,
        layer_blobs=[],
        diff_ids=[],
        size=0,
        created="",
    )


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    entries = {
        A: _entry(A, "docker.io/library/demo:latest"),
        B: _entry(B, "localhost/demo:latest", "localhost/demo:1"),
        C: _entry(C, "quay.io/team/app:2"),
    }
    tmp_path.mkdir(exist_ok=True)
    index.dump(tmp_path / "index.json", entries)
    return ImageStore(tmp_path)


@pytest.mark.parametrize(
    ("ref", "image_id"),
    [
        pytest.param("demo", B, id="short-localhost-first"),
        pytest.param("demo:1", B, id="short-tag"),
        pytest.param("docker.io/library/demo", A, id="qualified"),
        pytest.param("ab120", A, id="id-prefix"),
        pytest.param("sha256:ab12ff", B, id="id-prefix-sha"),
        pytest.param("cccc", C, id="id-prefix-4"),
        pytest.param(f"quay.io/team/app@{M}", C, id="by-digest"),
    ],
)
def test_resolve(store: ImageStore, ref: str, image_id: str) -> None:
    found = store._resolve(index.load(store.root / "index.json"), ref)
    assert found is not None and found[0] == image_id


@pytest.mark.parametrize(
    "ref",
    ["demo:2", "ccc", "quay.io/team/other@" + M, "sha256:" + "e" * 64, "nothing"],
)
def test_not_found(store: ImageStore, ref: str) -> None:
    assert store.find(ref) is None
    with pytest.raises(NotFoundError, match=r": not found$"):
        store.get(ref)


def test_ambiguous_prefix(store: ImageStore) -> None:
    with pytest.raises(ImageError, match=r"image ab12: ambiguous id prefix \(2 images\)"):
        store.find("ab12")


def test_index_version_checked(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text('{"version": 99, "images": {}}')
    with pytest.raises(ImageError, match="unsupported version 99"):
        ImageStore(tmp_path).list()


def test_empty_store(tmp_path: Path) -> None:
    assert ImageStore(tmp_path / "none").list() == []
