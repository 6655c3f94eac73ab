"""ImageStore with real files: import the busybox rootfs, find, tag, remove, share layers.

Root only (chown, mknod while unpacking). Each test has its own store under tmp_path and a
busybox rootfs built once per session with scripts/busybox-rootfs.sh.
"""

from __future__ import annotations

import gzip
import os
import stat
import threading
from pathlib import Path

import pytest

from kubeplay.errors import ImageError, NotFoundError
from kubeplay.image import ImageStore
from kubeplay.plan.images import ImageConfig

pytestmark = pytest.mark.root


def _layer_dirs(store: ImageStore) -> list[str]:
    return sorted(p.name for p in (store.root / "layers").iterdir())


def _blobs(store: ImageStore) -> set[str]:
    return {p.name for p in (store.root / "blobs" / "sha256").iterdir()}


def test_import_busybox_rootfs(store: ImageStore, busybox_tar: Path) -> None:
    record = store.import_rootfs(
        busybox_tar,
        "busybox",
        changes=['CMD ["/bin/sh"]', "ENV GREETING=hi", "WORKDIR /var/www", "EXPOSE 80"],
    )
    assert record.names == ("localhost/busybox:latest",)
    assert record.config == ImageConfig(
        cmd=("/bin/sh",), env=("GREETING=hi",), working_dir="/var/www", exposed_ports=("80/tcp",)
    )
    assert record.image_id.startswith("sha256:") and len(record.image_id) == 71
    assert len(record.layers) == 1
    assert record.size > 1_000_000
    assert record.created.endswith("Z")
    (layer,) = store.layer_dirs(record.image_id)
    assert layer.name == record.layers[0].removeprefix("sha256:")
    assert os.readlink(layer / "bin" / "sh") == "busybox"
    assert stat.S_IMODE((layer / "tmp").stat().st_mode) == 0o1777
    assert stat.S_IMODE((layer / "root").stat().st_mode) == 0o700
    assert (layer / "var" / "www" / "index.html").read_text() == "hello from kubeplay\n"
    assert "nobody:x:65534:65534" in (layer / "etc" / "passwd").read_text()
    assert (layer / "bin").stat().st_mtime == 0
    assert (layer / "bin" / "busybox").stat().st_mtime == 0
    assert list((store.root / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    "ref",
    [
        "busybox",
        "busybox:latest",
        "localhost/busybox",
        "localhost/busybox:latest",
    ],
)
def test_find_by_name(store: ImageStore, busybox_tar: Path, ref: str) -> None:
    record = store.import_rootfs(busybox_tar, "busybox")
    assert store.get(ref).image_id == record.image_id


def test_find_by_id_and_prefix(store: ImageStore, busybox_tar: Path) -> None:
    record = store.import_rootfs(busybox_tar, "busybox")
    hexid = record.image_id.removeprefix("sha256:")
    for ref in (record.image_id, hexid, hexid[:4], hexid[:12], f"sha256:{hexid[:6]}"):
        found = store.find(ref)
        assert found is not None and found.image_id == record.image_id, ref
    assert store.find(hexid[:3]) is None
    assert store.find("busybox:2") is None


def test_get_missing_raises_not_found(store: ImageStore) -> None:
    with pytest.raises(NotFoundError, match=r"^image localhost/x:1: not found$"):
        store.get("localhost/x:1")
    assert store.find("x") is None
    assert store.list() == []


def test_short_name_prefers_localhost(store: ImageStore, busybox_tar: Path) -> None:
    hub = store.import_rootfs(busybox_tar, "docker.io/library/demo:1")
    local = store.import_rootfs(busybox_tar, "demo:1", changes=["USER 65534"])
    assert store.get("demo:1").image_id == local.image_id
    store.remove("localhost/demo:1")
    assert store.get("demo:1").image_id == hub.image_id


def test_import_gzip_shares_layer(store: ImageStore, busybox_tar: Path, tmp_path: Path) -> None:
    gz = tmp_path / "busybox.tar.gz"
    gz.write_bytes(gzip.compress(busybox_tar.read_bytes()))
    plain = store.import_rootfs(busybox_tar, "plain")
    packed = store.import_rootfs(gz, "packed")
    assert plain.layers == packed.layers
    assert len(_layer_dirs(store)) == 1


def test_same_name_moves_to_new_image(store: ImageStore, busybox_tar: Path) -> None:
    old = store.import_rootfs(busybox_tar, "demo")
    new = store.import_rootfs(busybox_tar, "demo", changes=["CMD sleep 1"])
    assert store.get("demo").image_id == new.image_id
    assert store.get(old.image_id).names == ()


def test_tag_and_untag(store: ImageStore, busybox_tar: Path) -> None:
    record = store.import_rootfs(busybox_tar, "demo")
    tagged = store.tag("demo", "other:2")
    assert tagged.names == ("localhost/demo:latest", "localhost/other:2")
    assert store.get("other:2").image_id == record.image_id
    untagged = store.remove("demo")
    assert untagged.names == ("localhost/other:2",)
    assert store.find("demo") is None
    assert store.get("other:2").image_id == record.image_id
    assert _layer_dirs(store)


def test_tag_missing_and_invalid(store: ImageStore, busybox_tar: Path) -> None:
    with pytest.raises(NotFoundError):
        store.tag("nope", "x")
    store.import_rootfs(busybox_tar, "demo")
    with pytest.raises(ImageError, match="invalid reference format"):
        store.tag("demo", "Not Valid")


def test_remove_last_name_deletes_unshared_parts(store: ImageStore, busybox_tar: Path) -> None:
    first = store.import_rootfs(busybox_tar, "first")
    second = store.import_rootfs(busybox_tar, "second", changes=["CMD true"])
    blobs_with_both = _blobs(store)
    store.remove("first")
    assert store.find(first.image_id) is None
    assert _layer_dirs(store) == [second.layers[0].removeprefix("sha256:")]  # shared: kept
    assert first.image_id.removeprefix("sha256:") not in _blobs(store)
    assert second.layers[0].removeprefix("sha256:") in _blobs(store)
    assert len(_blobs(store)) == len(blobs_with_both) - 2  # its config and manifest
    store.remove("second")
    assert _layer_dirs(store) == []
    assert _blobs(store) == set()
    assert store.list() == []
    with pytest.raises(NotFoundError):
        store.remove("second")


def test_remove_by_id_drops_all_names(store: ImageStore, busybox_tar: Path) -> None:
    record = store.import_rootfs(busybox_tar, "demo")
    store.tag("demo", "demo:2")
    removed = store.remove(record.image_id[7:19])
    assert removed.names == ("localhost/demo:latest", "localhost/demo:2")
    assert store.list() == []
    assert _layer_dirs(store) == []


def test_import_errors(store: ImageStore, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such file"):
        store.import_rootfs(tmp_path / "missing.tar", "demo")
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tar archive" * 100)
    with pytest.raises(ImageError, match="cannot unpack"):
        store.import_rootfs(junk, "demo")
    with pytest.raises(ImageError, match="invalid change"):
        store.import_rootfs(junk, "demo", changes=["RUN make"])
    assert store.list() == []
    assert list((store.root / "tmp").iterdir()) == []


def test_concurrent_imports_keep_every_name(store: ImageStore, busybox_tar: Path) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            store.import_rootfs(busybox_tar, f"img{n}", changes=[f"ENV N={n}"])
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    names = sorted(name for record in store.list() for name in record.names)
    assert names == sorted(f"localhost/img{n}:latest" for n in range(8))
    assert len(_layer_dirs(store)) == 1
