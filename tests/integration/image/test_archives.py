"""load_archive: docker-archive and oci-archive files made with skopeo from a hand-made layout.

The layout (layouts.py) holds the busybox rootfs plus a small gzip layer; skopeo turns it into
each archive format, and the store must load it back with the same image id and names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeplay.errors import ImageError
from kubeplay.image import ImageStore
from tests.integration.image import layouts

pytestmark = pytest.mark.root


@pytest.fixture
def two_layer_layout(tmp_path: Path, busybox_tar: Path) -> tuple[Path, str]:
    top = layouts.make_tar(
        [
            layouts.directory("etc"),
            layouts.file("etc/motd", b"second layer\n"),
        ]
    )
    layout = tmp_path / "layout"
    image_id = layouts.write_layout(
        layout,
        [busybox_tar.read_bytes(), top],
        tag="v1",
        gzip_layers=True,
        config={"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"], "WorkingDir": "/"},
    )
    return layout, image_id


@pytest.mark.parametrize("transport", ["docker-archive", "oci-archive"])
def test_load_archive(
    store: ImageStore, tmp_path: Path, two_layer_layout: tuple[Path, str], transport: str
) -> None:
    layout, image_id = two_layer_layout
    archive = tmp_path / f"{transport}.tar"
    layouts.skopeo_copy(f"oci:{layout}:v1", f"{transport}:{archive}:demo/app:1")
    (record,) = store.load_archive(archive)
    assert record.names == ("docker.io/demo/app:1",)
    # the archive's config digest, as `podman load` shows it (no docker -> OCI conversion)
    assert record.image_id == image_id
    assert record.config.cmd == ("/bin/sh",) and record.config.env == ("PATH=/bin",)
    assert record.created == "2024-01-02T03:04:05Z"
    top, bottom = store.layer_dirs(record.image_id)
    assert (top / "etc" / "motd").read_text() == "second layer\n"
    assert (bottom / "bin" / "busybox").is_file()
    assert store.get("docker.io/demo/app:1").image_id == image_id
    assert list((store.root / "tmp").iterdir()) == []


def test_load_twice_and_shared_layers(
    store: ImageStore, tmp_path: Path, two_layer_layout: tuple[Path, str], busybox_tar: Path
) -> None:
    layout, _ = two_layer_layout
    archive = tmp_path / "a.tar"
    layouts.skopeo_copy(f"oci:{layout}:v1", f"oci-archive:{archive}:localhost/app:1")
    store.import_rootfs(busybox_tar, "busybox")
    first = store.load_archive(archive)
    again = store.load_archive(archive)
    assert first == again
    assert len(list((store.root / "layers").iterdir())) == 2  # busybox layer shared
    store.remove("localhost/app:1")
    assert len(list((store.root / "layers").iterdir())) == 1
    assert store.get("busybox").names == ("localhost/busybox:latest",)


def test_oci_archive_with_bare_tag_is_unnamed(
    store: ImageStore, tmp_path: Path, two_layer_layout: tuple[Path, str]
) -> None:
    layout, image_id = two_layer_layout
    archive = tmp_path / "bare.tar"
    layouts.skopeo_copy(f"oci:{layout}:v1", f"oci-archive:{archive}:latest")
    (record,) = store.load_archive(archive)
    assert record.names == ()
    assert store.get(image_id[7:19]).image_id == image_id


def test_docker_archive_from_tar_of_a_path_with_colon(
    store: ImageStore, tmp_path: Path, two_layer_layout: tuple[Path, str]
) -> None:
    layout, image_id = two_layer_layout
    plain = tmp_path / "plain.tar"
    layouts.skopeo_copy(f"oci:{layout}:v1", f"docker-archive:{plain}:app:2")
    odd = tmp_path / "odd:name.tar"
    plain.rename(odd)
    (record,) = store.load_archive(odd)
    assert record.names == ("docker.io/library/app:2",)
    assert record.image_id == image_id


def test_not_an_archive(store: ImageStore, tmp_path: Path, busybox_tar: Path) -> None:
    with pytest.raises(ImageError, match="neither a docker-archive nor an oci-archive"):
        store.load_archive(busybox_tar)
    junk = tmp_path / "junk"
    junk.write_text("no tar here")
    with pytest.raises(ImageError, match="not a readable tar archive"):
        store.load_archive(junk)
    with pytest.raises(ImageError, match="no such file"):
        store.load_archive(tmp_path / "missing.tar")


def test_skopeo_failure_is_reported(
    store: ImageStore, tmp_path: Path, two_layer_layout: tuple[Path, str]
) -> None:
    layout, _ = two_layer_layout
    archive = tmp_path / "a.tar"
    layouts.skopeo_copy(f"oci:{layout}:v1", f"oci-archive:{archive}:localhost/app:1")
    broken = ImageStore(store.root, skopeo="false")
    with pytest.raises(ImageError, match="skopeo copy failed"):
        broken.load_archive(archive)
    assert store.list() == []
