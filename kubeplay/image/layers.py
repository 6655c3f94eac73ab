"""The layer unpacker: one layer tarball (plain, gzip or zstd) into one directory, atomically.

`unpack_layer` is the single entry point; the store calls it once per diff id. It reads the
blob once: zlib (or zstandard) decompresses it in bounded chunks, tarfile parses headers from
those chunks and file contents are written from them directly; the diff id (sha256 of the
uncompressed tar) and, when given, the blob digest (sha256 of the stored, maybe compressed,
bytes) are verified in the same pass; a finished temp dir is renamed into place, so a layer
dir either exists complete or not at all.
It keeps owners, modes, mtimes, xattrs, symlinks (as links), hardlinks within the layer and
device nodes; OCI whiteouts become overlayfs ones (`.wh.x` -> 0/0 char device, `.wh..wh..opq`
-> `trusted.overlay.opaque=y`). It never writes through a symlink: a member whose path is
absolute, has `..`, goes through a symlink or a non-directory is refused with ImageError, and
so is a whiteout that names no entry (`.wh.`, `.wh..`, `.wh...`). Symlink targets are kept as
written: they are resolved inside the container's rootfs, never by the unpacker.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from kubeplay.errors import ImageError
from kubeplay.log import get_logger

log = get_logger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_META_PREFIX = ".wh..wh."
_OPAQUE_XATTR = "trusted.overlay.opaque"
_XATTR_PAX = "SCHILY.xattr."
_CHUNK = 1 << 20  # reads of the stored blob
_OUT_CHUNK = 4 << 20  # at most this much decompressed at once (a gzip bomb stays bounded)


class _MemberError(Exception):
    """A member the unpacker refuses; unpack_layer names the layer and member."""


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _HashingReader:
    """File-like wrapper that hashes every byte read through it (zstd's compressed input)."""

    def __init__(self, inner: _Readable, sha: Any) -> None:
        self._inner = inner
        self.hash = sha

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self.hash.update(data)
        return data


def _gzip_chunks(raw: BinaryIO, blob_hash: Any) -> Iterator[bytes]:
    """Gunzip `raw` (every member of it) in bounded chunks, hashing the compressed bytes.
    zlib directly: gzip.GzipFile adds a Python layer and a second CRC pass per read."""
    decomp = zlib.decompressobj(wbits=31)
    pending = b""
    started = False  # bytes of the current member were fed
    while True:
        if not pending:
            pending = raw.read(_CHUNK)
            if not pending:
                break
            blob_hash.update(pending)
        if decomp.eof:
            if not pending.strip(b"\0"):
                pending = b""  # zero padding after the last member, as gzip allows
                continue
            decomp = zlib.decompressobj(wbits=31)
            started = False
        started = True
        out = decomp.decompress(pending, _OUT_CHUNK)
        pending = decomp.unconsumed_tail or decomp.unused_data
        if out:
            yield out
    if started and not decomp.eof:
        raise EOFError("compressed file ended before the end-of-stream marker was reached")


def _zstd_chunks(raw: BinaryIO, blob_hash: Any) -> Iterator[bytes]:
    import zstandard

    source: Any = _HashingReader(raw, blob_hash)  # a reader with read() is enough
    reader = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True)
    while chunk := reader.read(_OUT_CHUNK):
        yield chunk


def _plain_chunks(raw: BinaryIO) -> Iterator[bytes]:
    while chunk := raw.read(_CHUNK):
        yield chunk


class _LayerStream:
    """The uncompressed tar of one layer blob, read forward only, hashed as it is produced.

    tarfile reads it in its random-access mode ("r:"), which reads straight from here:
    its stream mode ("r|") copies its whole buffer on every header read, which cost more than
    gunzip itself. Only forward seeks are possible (they read and hash what they skip);
    that is all tarfile does when members are read in order. Regular files are written
    from here by `copy_to`, from the decompressed chunks, without further copies. Every
    byte is hashed once: the blob digest over the stored bytes, the diff id over the tar
    (one hash for both when the layer is not compressed).
    """

    def __init__(self, raw: BinaryIO) -> None:
        head = raw.read(4)
        raw.seek(0)
        self.tar_hash = hashlib.sha256()
        self.blob_hash = self.tar_hash
        if head.startswith(_GZIP_MAGIC):
            self.blob_hash = hashlib.sha256()
            self._chunks = _gzip_chunks(raw, self.blob_hash)
        elif head == _ZSTD_MAGIC:
            self.blob_hash = hashlib.sha256()
            self._chunks = _zstd_chunks(raw, self.blob_hash)
        else:
            self._chunks = _plain_chunks(raw)
        self._buf = b""
        self._at = 0  # read position in _buf
        self._pos = 0  # absolute position in the tar

    def _fill(self) -> bool:
        chunk = next(self._chunks, b"")
        if not chunk:
            return False
        self.tar_hash.update(chunk)
        self._buf = self._buf[self._at :] + chunk if self._at < len(self._buf) else chunk
        self._at = 0
        return True

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = 1 << 62
        while len(self._buf) - self._at < size and self._fill():
            pass
        out = self._buf[self._at : self._at + size]
        self._at += len(out)
        self._pos += len(out)
        return out

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence != os.SEEK_SET or offset < self._pos:
            raise OSError(errno.ESPIPE, "layer stream seeks forward only")
        self.skip(offset - self._pos)
        return self._pos

    def skip(self, size: int) -> None:
        while size > 0:
            if self._at >= len(self._buf) and not self._fill():
                return
            step = min(size, len(self._buf) - self._at)
            self._at += step
            self._pos += step
            size -= step

    def copy_to(self, fd: int, size: int) -> None:
        """Write the next `size` bytes to `fd`; EOFError if the tar ends first."""
        while size > 0:
            if self._at >= len(self._buf) and not self._fill():
                raise EOFError("unexpected end of data")
            end = min(len(self._buf), self._at + size)
            view = memoryview(self._buf)[self._at : end]
            while view:
                view = view[os.write(fd, view) :]
            size -= end - self._at
            self._pos += end - self._at
            self._at = end

    def drain(self) -> None:
        """Read (and hash) the rest: the end-of-archive blocks and any padding."""
        self._pos += len(self._buf) - self._at
        self._buf, self._at = b"", 0
        while self._fill():
            self._pos += len(self._buf)
            self._buf = b""

    def digests(self) -> tuple[str, str]:
        """("sha256:..." of the stored blob, "sha256:..." of the tar)."""
        return "sha256:" + self.blob_hash.hexdigest(), "sha256:" + self.tar_hash.hexdigest()


def _member_parts(name: str) -> list[str]:
    if name.startswith("/"):
        raise _MemberError("absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _MemberError("path has '..'")
    return parts


class _Unpacker:
    """State of one unpack: the target dir and which of its subdirs are known real dirs.

    Paths are plain strings on purpose: this runs once per file of every layer, and pathlib
    objects cost more than the syscalls themselves.
    """

    def __init__(self, root: Path, stream: _LayerStream) -> None:
        self.root = str(root)
        self.stream = stream
        self.dirs: set[tuple[str, ...]] = {()}
        self.dir_members: list[tuple[str, tarfile.TarInfo]] = []

    def parent(self, parts: list[str], *, create: bool) -> str:
        """The directory holding `parts[-1]`, checked (and made, if `create`) component-wise."""
        if tuple(parts[:-1]) in self.dirs:  # the common case: a known real dir
            return os.path.join(self.root, *parts[:-1])
        path = self.root
        for depth in range(1, len(parts)):
            key = tuple(parts[:depth])
            path = os.path.join(path, parts[depth - 1])
            if key in self.dirs:
                continue
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                if not create:
                    raise _MemberError(f"{'/'.join(key)} does not exist") from None
                os.mkdir(path, 0o755)
            else:
                if stat.S_ISLNK(st.st_mode):
                    raise _MemberError(f"path goes through symlink {'/'.join(key)}")
                if not stat.S_ISDIR(st.st_mode):
                    raise _MemberError(f"{'/'.join(key)} is not a directory")
            self.dirs.add(key)
        return path

    def clear(self, path: str, parts: list[str], *, keep_dir: bool) -> bool:
        """Remove what is at `path` unless it is a dir to keep; True if a dir was kept."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            shutil.rmtree(path)
            key = tuple(parts)
            self.dirs = {d for d in self.dirs if d[: len(key)] != key}
        else:
            os.unlink(path)
        return False

    def extract(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = _member_parts(member.name)
        if not parts:
            if not member.isdir():
                raise _MemberError("the layer root must be a directory")
            self.dir_members.append((self.root, member))
            return
        base = parts[-1]
        parent = self.parent(parts, create=True)
        if base.startswith(_WHITEOUT):
            self._whiteout(parent, parts, member)
            return
        path = os.path.join(parent, base)
        if member.isreg():
            self._write_file(tar, member, path, parts)
            return
        kept_dir = self.clear(path, parts, keep_dir=member.isdir())
        if member.isdir():
            if not kept_dir:
                os.mkdir(path, 0o700)
            self.dirs.add(tuple(parts))
            self.dir_members.append((path, member))
        elif member.issym():
            os.symlink(member.linkname, path)
            self._finish(path, member, chmod=False)
        elif member.islnk():
            link_parts = _member_parts(member.linkname)
            if not link_parts:
                raise _MemberError("hardlink to the layer root")
            source = os.path.join(self.parent(link_parts, create=False), link_parts[-1])
            if not os.path.lexists(source):
                raise _MemberError(f"hardlink target {member.linkname} is not in this layer")
            os.link(source, path, follow_symlinks=False)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
            self._finish(path, member)
        elif member.isfifo():
            os.mkfifo(path, 0o600)
            self._finish(path, member)
        else:
            raise _MemberError(f"unsupported tar member type {member.type!r}")

    def _whiteout(self, parent: str, parts: list[str], member: tarfile.TarInfo) -> None:
        base = parts[-1]
        if base == _OPAQUE:
            os.setxattr(parent, _OPAQUE_XATTR, b"y", follow_symlinks=False)
            return
        if base.startswith(_META_PREFIX):
            return  # other aufs metadata (.wh..wh.plnk, ...) has no overlayfs meaning
        hidden = base[len(_WHITEOUT) :]
        if hidden in ("", ".", ".."):
            raise _MemberError("whiteout names no entry")
        target = os.path.join(parent, hidden)
        self.clear(target, [*parts[:-1], hidden], keep_dir=False)
        os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        os.lchown(target, member.uid, member.gid)

    def _write_file(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: str, parts: list[str]
    ) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:  # a name seen before in this layer: replace it
            self.clear(path, parts, keep_dir=False)
            fd = os.open(path, flags, 0o600)
        try:
            if member.sparse is None:
                self.stream.seek(member.offset_data)
                self.stream.copy_to(fd, member.size)
            else:
                source = tar.extractfile(member)
                if source is not None:
                    while chunk := source.read(_CHUNK):
                        view = memoryview(chunk)
                        while view:
                            view = view[os.write(fd, view) :]
            os.fchown(fd, member.uid, member.gid)
            os.fchmod(fd, member.mode & 0o7777)
            if member.pax_headers:
                _set_xattrs(path, member)
            mtime = _mtime_ns(member)
            os.utime(fd, ns=(mtime, mtime))
        finally:
            os.close(fd)

    def _finish(self, path: str, member: tarfile.TarInfo, *, chmod: bool = True) -> None:
        os.lchown(path, member.uid, member.gid)
        if chmod:
            os.chmod(path, member.mode & 0o7777, follow_symlinks=False)
        if member.pax_headers:
            _set_xattrs(path, member)
        mtime = _mtime_ns(member)
        os.utime(path, ns=(mtime, mtime), follow_symlinks=False)

    def finish_dirs(self) -> None:
        """Directory metadata last (children change a dir's mtime), deepest first."""
        for path, member in sorted(self.dir_members, key=lambda pm: -pm[0].count("/")):
            self._finish(path, member)


def _mtime_ns(member: tarfile.TarInfo) -> int:
    return int(member.mtime * 1_000_000_000)


def _set_xattrs(path: str, member: tarfile.TarInfo) -> None:
    for key, value in member.pax_headers.items():
        if not key.startswith(_XATTR_PAX):
            continue
        name = key[len(_XATTR_PAX) :]
        if name.startswith("trusted.overlay."):
            continue  # only the unpacker itself may write overlayfs metadata
        data = value.encode("utf-8", "surrogateescape")
        try:
            os.setxattr(path, name, data, follow_symlinks=False)
        except OSError as err:
            if err.errno not in (errno.ENOTSUP, errno.EPERM):
                raise
            log.warning("layer_xattr_skipped", path=str(path), xattr=name, error=str(err))


def _zstd_errors() -> type[Exception]:
    import zstandard

    return zstandard.ZstdError


def ready() -> bool:
    """Nothing: a worker process that ran it has imported this module."""
    return True


def unpack_layer(
    blob: Path, dest: Path, *, diff_id: str, scratch: Path, blob_digest: str = ""
) -> bool:
    """Unpack the layer tarball `blob` into `dest`, whose diff id must be `diff_id` (and the
    blob's own digest `blob_digest`, when given: a compressed blob is checked in the same
    read). Works in a temp dir under `scratch` (same filesystem as `dest`) and renames it
    into place. Returns False when `dest` already exists (unpacked before, maybe by another
    process); the blob is then not read at all.
    """
    what = f"layer {diff_id}"
    if dest.exists():
        return False
    tmp = Path(tempfile.mkdtemp(prefix="layer-", dir=scratch))
    member_name = ""
    try:
        os.chmod(tmp, 0o755)
        with blob.open("rb", buffering=0) as raw:
            stream = _LayerStream(raw)
            unpacker = _Unpacker(tmp, stream)
            with tarfile.open(fileobj=stream, mode="r:") as tar:  # type: ignore[call-overload]
                for member in tar:
                    member_name = member.name
                    unpacker.extract(tar, member)
            member_name = ""
            stream.drain()
        stored, got = stream.digests()
        if blob_digest and stored != blob_digest:
            raise ImageError(f"{what}: blob does not match its digest {blob_digest}")
        if got != diff_id:
            raise ImageError(f"{what}: content does not match its diff id (got {got})")
        unpacker.finish_dirs()
        try:
            os.rename(tmp, dest)
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            shutil.rmtree(tmp)
            return False
    except _MemberError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ImageError(f"{what}: member {member_name!r}: {err}") from err
    except (tarfile.TarError, OSError, EOFError, zlib.error, _zstd_errors()) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        where = f": member {member_name!r}" if member_name else ""
        raise ImageError(f"{what}{where}: cannot unpack: {err}") from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.debug("layer_unpacked", diff_id=diff_id, dest=str(dest))
    return True
