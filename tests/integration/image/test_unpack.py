"""The layer unpacker on hand-made tarballs: metadata kept, unsafe members refused.

Owners, modes, mtimes, hardlinks, devices, FIFOs and xattrs must survive; `..`, absolute
paths and paths through symlinks must be refused without writing anything outside.
"""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

import pytest

from kubeplay.errors import ImageError
from kubeplay.image import ImageStore, layers
from tests.integration.image import layouts
from tests.integration.image.layouts import Entry

pytestmark = pytest.mark.root


def _import(store: ImageStore, tmp_path: Path, entries: list[Entry]) -> Path:
    tar = tmp_path / "layer.tar"
    tar.write_bytes(layouts.make_tar(entries))
    record = store.import_rootfs(tar, "t")
    (layer,) = store.layer_dirs(record.image_id)
    return layer


def test_metadata_is_kept(store: ImageStore, tmp_path: Path) -> None:
    layer = _import(
        store,
        tmp_path,
        [
            layouts.directory("./", mode=0o755),
            layouts.directory("srv", mode=0o750),
            layouts.file("srv/tool", b"#!/bin/sh\n", mode=0o4755, uid=1000, gid=1001, mtime=12345),
            layouts.hardlink("srv/tool-link", "srv/tool"),
            layouts.symlink("srv/abs", "/etc/passwd"),
            layouts.symlink("srv/up", "../../../../etc"),
            Entry("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
            Entry("srv/fifo", tarfile.FIFOTYPE, mode=0o600, uid=7),
            layouts.file("srv/cap", b"x", pax={"SCHILY.xattr.user.note": "hello"}),
            layouts.file("srv/forged", b"x", pax={"SCHILY.xattr.trusted.overlay.opaque": "y"}),
            layouts.file("srv/later", b"first"),
            layouts.file("srv/later", b"second"),
        ],
    )
    tool = os.stat(layer / "srv" / "tool")
    assert (tool.st_uid, tool.st_gid, stat.S_IMODE(tool.st_mode)) == (1000, 1001, 0o4755)
    assert tool.st_mtime == 12345
    assert tool.st_nlink == 2 and os.stat(layer / "srv" / "tool-link").st_ino == tool.st_ino
    assert os.readlink(layer / "srv" / "abs") == "/etc/passwd"
    assert os.readlink(layer / "srv" / "up") == "../../../../etc"
    assert stat.S_IMODE(os.stat(layer / "srv").st_mode) == 0o750
    null = os.lstat(layer / "dev" / "null")
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    assert stat.S_ISFIFO(os.lstat(layer / "srv" / "fifo").st_mode)
    assert os.lstat(layer / "srv" / "fifo").st_uid == 7
    assert os.getxattr(layer / "srv" / "cap", "user.note") == b"hello"
    assert "trusted.overlay.opaque" not in os.listxattr(layer / "srv" / "forged")
    assert (layer / "srv" / "later").read_bytes() == b"second"


@pytest.mark.parametrize(
    ("entries", "member", "why"),
    [
        pytest.param([layouts.file("../evil", b"x")], "../evil", "'..'", id="dotdot"),
        pytest.param([layouts.file("a/../../evil")], "a/../../evil", "'..'", id="inner-dotdot"),
        pytest.param([layouts.file("/abs", b"x")], "/abs", "absolute path", id="absolute"),
        pytest.param(
            [layouts.symlink("etc", "/tmp/kubeplay-outside"), layouts.file("etc/passwd", b"x")],
            "etc/passwd",
            "through symlink etc",
            id="through-symlink",
        ),
        pytest.param(
            [layouts.symlink("d", "."), layouts.file("d/d/x", b"x")],
            "d/d/x",
            "through symlink d",
            id="through-relative-symlink",
        ),
        pytest.param(
            [layouts.hardlink("pw", "../../../etc/passwd")],
            "pw",
            "'..'",
            id="hardlink-outside",
        ),
        pytest.param(
            [layouts.hardlink("pw", "missing")], "pw", "not in this layer", id="hardlink-missing"
        ),
        pytest.param(
            [layouts.file("f", b"x"), layouts.file("f/g", b"x")],
            "f/g",
            "f is not a directory",
            id="file-as-dir",
        ),
        pytest.param(
            [layouts.file(".", b"x")], ".", "layer root must be a directory", id="root-file"
        ),
        # Hostile layers: each would write or delete outside the layer dir if followed.
        pytest.param(
            [layouts.file("ok", b"x", pax={"path": "../evil"})],
            "../evil",
            "'..'",
            id="pax-path-header-dotdot",
        ),
        pytest.param(
            [layouts.file("a/" * 60 + "../../" * 61 + "evil", b"x")],
            "a/" * 60 + "../../" * 61 + "evil",
            "'..'",
            id="gnu-long-name-dotdot",
        ),
        pytest.param(
            [layouts.symlink("lib", "/"), layouts.file("lib/tmp/kubeplay-outside", b"x")],
            "lib/tmp/kubeplay-outside",
            "through symlink lib",
            id="absolute-symlink-to-root-then-write",
        ),
        pytest.param(
            [
                layouts.directory("d"),
                layouts.symlink("d", "/tmp/kubeplay-outside"),
                layouts.file("d/x", b"x"),
            ],
            "d/x",
            "through symlink d",
            id="dir-replaced-by-symlink-then-write",
        ),
        pytest.param(
            [layouts.symlink("etc", "/etc"), layouts.hardlink("pw", "etc/passwd")],
            "pw",
            "through symlink etc",
            id="hardlink-through-absolute-symlink",
        ),
        pytest.param(
            [layouts.symlink("etc", "/etc"), layouts.file("etc/.wh.passwd")],
            "etc/.wh.passwd",
            "through symlink etc",
            id="whiteout-through-symlink",
        ),
        pytest.param(
            [layouts.symlink("d", "/tmp/kubeplay-outside"), layouts.file("d/.wh..wh..opq")],
            "d/.wh..wh..opq",
            "through symlink d",
            id="opaque-through-symlink",
        ),
        pytest.param(
            [layouts.directory("d"), layouts.file("d/.wh...")],
            "d/.wh...",
            "whiteout names no entry",
            id="whiteout-of-dotdot-would-delete-the-parent",
        ),
        pytest.param(
            [layouts.file(".wh..")], ".wh..", "whiteout names no entry", id="whiteout-of-dot"
        ),
        pytest.param(
            [layouts.file(".wh.")], ".wh.", "whiteout names no entry", id="whiteout-empty"
        ),
    ],
)
def test_unsafe_members_are_refused(
    store: ImageStore, tmp_path: Path, entries: list[Entry], member: str, why: str
) -> None:
    outside = Path("/tmp/kubeplay-outside")
    assert not outside.exists()
    with pytest.raises(ImageError) as info:
        _import(store, tmp_path, entries)
    message = str(info.value)
    assert f"member {member!r}" in message and why in message, message
    assert not outside.exists()
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()
    assert list((store.root / "layers").iterdir()) == []
    assert list((store.root / "tmp").iterdir()) == []
    assert store.list() == []


def test_diff_id_mismatch_leaves_nothing(tmp_path: Path) -> None:
    blob = tmp_path / "layer.tar"
    blob.write_bytes(layouts.make_tar([layouts.file("a", b"x")]))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(ImageError, match="does not match its diff id"):
        layers.unpack_layer(blob, tmp_path / "dest", diff_id="sha256:" + "0" * 64, scratch=scratch)
    assert not (tmp_path / "dest").exists()
    assert list(scratch.iterdir()) == []


def test_existing_layer_is_not_unpacked_again(tmp_path: Path) -> None:
    data = layouts.make_tar([layouts.file("a", b"x")])
    blob = tmp_path / "layer.tar"
    blob.write_bytes(data)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    dest = tmp_path / "dest"
    diff_id = layouts.sha256(data)
    assert layers.unpack_layer(blob, dest, diff_id=diff_id, scratch=scratch) is True
    assert layers.unpack_layer(blob, dest, diff_id=diff_id, scratch=scratch) is False
    assert (dest / "a").read_bytes() == b"x"


def test_a_file_over_a_symlink_replaces_the_link_and_writes_nothing_outside(
    store: ImageStore, tmp_path: Path
) -> None:
    outside = Path("/tmp/kubeplay-outside")
    assert not outside.exists()
    layer = _import(
        store,
        tmp_path,
        [
            layouts.symlink("f", str(outside)),
            layouts.file("f", b"inside"),
            layouts.symlink("g", "/tmp"),
            layouts.directory("g"),
        ],
    )
    assert not outside.exists()
    assert not os.path.islink(layer / "f") and (layer / "f").read_bytes() == b"inside"
    assert not os.path.islink(layer / "g") and (layer / "g").is_dir()


def _unpack(tmp_path: Path, stored: bytes, diff_id: str, blob_digest: str = "") -> Path:
    blob = tmp_path / "blob"
    blob.write_bytes(stored)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    dest = tmp_path / "dest"
    layers.unpack_layer(blob, dest, diff_id=diff_id, scratch=scratch, blob_digest=blob_digest)
    return dest


@pytest.mark.parametrize(
    "compress",
    [
        pytest.param(lambda b: b, id="uncompressed"),
        pytest.param(lambda b: __import__("gzip").compress(b), id="gzip"),
        pytest.param(lambda b: __import__("zstandard").ZstdCompressor().compress(b), id="zstd"),
    ],
)
def test_layer_compressions_unpack_and_verify_the_blob_digest(
    tmp_path: Path, compress: object
) -> None:
    data = layouts.make_tar([layouts.directory("d"), layouts.file("d/a", b"payload" * 1000)])
    stored = compress(data)  # type: ignore[operator]
    dest = _unpack(tmp_path, stored, layouts.sha256(data), blob_digest=layouts.sha256(stored))
    assert (dest / "d" / "a").read_bytes() == b"payload" * 1000


def test_blob_digest_mismatch_leaves_nothing(tmp_path: Path) -> None:
    data = layouts.make_tar([layouts.file("a", b"x")])
    with pytest.raises(ImageError, match="blob does not match its digest"):
        _unpack(tmp_path, data, layouts.sha256(data), blob_digest="sha256:" + "1" * 64)
    assert not (tmp_path / "dest").exists()
    assert list((tmp_path / "scratch").iterdir()) == []


def test_corrupt_zstd_is_an_image_error(tmp_path: Path) -> None:
    data = layouts.make_tar([layouts.file("a", b"x" * 100000)])
    stored = bytearray(__import__("zstandard").ZstdCompressor().compress(data))
    stored[20:40] = b"\xff" * 20
    with pytest.raises(ImageError, match="cannot unpack"):
        _unpack(tmp_path, bytes(stored), layouts.sha256(data))
    assert not (tmp_path / "dest").exists()


def test_gzip_of_several_members_and_zero_padding_unpacks(tmp_path: Path) -> None:
    import gzip

    big = os.urandom(3 << 20) * 3  # spans several decompressed chunks
    data = layouts.make_tar([layouts.file("big", big), layouts.file("small", b"s")])
    stored = gzip.compress(data[:700_000]) + gzip.compress(data[700_000:]) + b"\0" * 100
    dest = _unpack(tmp_path, stored, layouts.sha256(data), blob_digest=layouts.sha256(stored))
    assert (dest / "big").read_bytes() == big
    assert (dest / "small").read_bytes() == b"s"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: b + b"not gzip", id="trailing-garbage"),
        pytest.param(lambda b: b[:-8] + b"\0" * 8, id="bad-crc"),
    ],
)
def test_damaged_gzip_is_an_image_error_and_leaves_nothing(tmp_path: Path, damage: object) -> None:
    import gzip

    data = layouts.make_tar([layouts.file("a", os.urandom(200_000))])
    stored = damage(gzip.compress(data))  # type: ignore[operator]
    with pytest.raises(ImageError, match="cannot unpack"):
        _unpack(tmp_path, stored, layouts.sha256(data))
    assert not (tmp_path / "dest").exists()
    assert list((tmp_path / "scratch").iterdir()) == []
