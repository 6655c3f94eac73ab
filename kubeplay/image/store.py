"""ImageStore: kubeplay's own image content store (blobs by digest, layers unpacked once).

Layout under the root (settings.images_dir):
    blobs/sha256/<hex>   manifests, configs and layer tarballs, digest-verified on the way in
    layers/<diff-hex>/   one unpacked dir per layer, shared by every image that has it
    l/<short>            short symlinks to layer dirs, for overlay mounts of many layers
    index.json(.lock)    names and parts of each image (see index.py); tmp/ for scratch work
The engine and services call this class; the unpacker (layers.py), skopeo (archives.py) and
the mount syscalls (mounts.py) sit behind it. Whether a pod still uses an image is the
caller's question, not the store's.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime
import hashlib
import io
import json
import os
import platform
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeplay.errors import ImageError, NotFoundError
from kubeplay.image import archives, configs, index, mounts, references
from kubeplay.log import get_logger
from kubeplay.plan.images import ImageConfig, PullSource

if TYPE_CHECKING:
    # The unpacker (tarfile), pulls and Dockerfile changes are imported where they are
    # used: the supervisor opens the store to mount and unmount rootfs only, for as long
    # as pods run (issue 11: memory per pod).
    from kubeplay.image import pulls, transport

log = get_logger(__name__)

_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
_CONFIG = "application/vnd.oci.image.config.v1+json"
_CHUNK = 1 << 20
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


@dataclass(frozen=True, slots=True)
class ImageRecord:
    image_id: str  # "sha256:<hex>" of the config blob
    names: tuple[str, ...]  # normalised references
    config: ImageConfig
    layers: tuple[str, ...]  # diff ids "sha256:..." bottom first
    size: int  # bytes on disk of its blobs
    created: str  # RFC 3339
    manifest: str = ""  # digest of its manifest
    digests: tuple[str, ...] = ()  # "repo@sha256:..." it was pulled as (RepoDigests)


def _hex(digest: str) -> str:
    return digest.removeprefix("sha256:")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def _json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


class ImageStore:
    """Images on this host: import, load, find, tag, remove, and overlay-mount their rootfs."""

    def __init__(self, root: Path, *, skopeo: str = "skopeo") -> None:
        self.root = root
        self.skopeo = skopeo
        self._blobs = root / "blobs" / "sha256"
        self._layers = root / "layers"
        self._links = root / "l"
        self._tmp = root / "tmp"
        self._index = root / "index.json"

    # --- paths and blobs -------------------------------------------------------------------

    def _ensure_dirs(self) -> None:
        for path in (self._blobs, self._layers, self._links, self._tmp):
            path.mkdir(parents=True, exist_ok=True)

    def _blob(self, digest: str) -> Path:
        return self._blobs / _hex(digest)

    def _layer_dir(self, diff_id: str) -> Path:
        return self._layers / _hex(diff_id)

    def _ingest(self, src: Path, digest: str, *, verified: bool = False) -> int:
        """Move `src` into the store as blob `digest` (checked unless `verified`); its size."""
        if not verified:
            sha = hashlib.sha256()
            with src.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    sha.update(chunk)
            if "sha256:" + sha.hexdigest() != digest:
                raise ImageError(f"blob {digest}: content does not match its digest")
        dest = self._blob(digest)
        if dest.exists():
            src.unlink()
        else:
            os.chmod(src, 0o644)
            os.rename(src, dest)
        return dest.stat().st_size

    def _write_blob(self, data: bytes) -> tuple[str, int]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        fd, tmp = tempfile.mkstemp(prefix="blob-", dir=self._tmp)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return digest, self._ingest(Path(tmp), digest, verified=True)

    @contextlib.contextmanager
    def _scratch(self) -> Iterator[Path]:
        """A scratch dir; holding it also holds the shared pull lock (see pull_lock)."""
        self._ensure_dirs()
        with self.pull_lock():
            path = Path(tempfile.mkdtemp(prefix="work-", dir=self._tmp))
            try:
                yield path
            finally:
                shutil.rmtree(path, ignore_errors=True)

    def _record(self, image_id: str, entry: index.IndexEntry) -> ImageRecord:
        try:
            document = json.loads(self._blob(entry.config).read_bytes())
        except (OSError, ValueError) as err:
            raise ImageError(f"image {image_id}: cannot read its config blob: {err}") from err
        return ImageRecord(
            image_id=image_id,
            names=tuple(entry.names),
            config=configs.load_image_config(document),
            layers=tuple(entry.diff_ids),
            size=entry.size,
            created=entry.created,
            manifest=entry.manifest,
            digests=tuple(entry.digests),
        )

    @staticmethod
    def _claim_names(
        entries: dict[str, index.IndexEntry], image_id: str, names: Sequence[str]
    ) -> None:
        """Give `names` to `image_id`, taking them from any other image (as podman does)."""
        for other_id, other in entries.items():
            if other_id != image_id:
                other.names = [n for n in other.names if n not in names]
        entry = entries[image_id]
        entry.names.extend(n for n in names if n not in entry.names)

    # --- adding images ---------------------------------------------------------------------

    def import_rootfs(
        self, tar_path: Path, ref: str, *, changes: Sequence[str] = ()
    ) -> ImageRecord:
        """One-layer image from a rootfs tarball (plain or gzip), like `podman import`."""
        from kubeplay.image import layers

        name = references.local_name(ref)
        config = _apply(changes)
        with self._scratch() as work:
            layer = work / "layer.tar"
            digest = _copy_uncompressed(tar_path, layer, what=f"image {name}")
            with index.locked(self._index) as entries:
                size = self._ingest(layer, digest, verified=True)
                layers.unpack_layer(
                    self._blob(digest), self._layer_dir(digest), diff_id=digest, scratch=work
                )
                created = _now()
                config_doc = {
                    "created": created,
                    "architecture": _ARCH.get(platform.machine(), platform.machine()),
                    "os": "linux",
                    "config": configs.dump_image_config(config),
                    "rootfs": {"type": "layers", "diff_ids": [digest]},
                    "history": [{"created": created, "created_by": "kubeplay image import"}],
                }
                config_digest, config_size = self._write_blob(_json_bytes(config_doc))
                manifest = {
                    "schemaVersion": 2,
                    "mediaType": archives.OCI_MANIFEST,
                    "config": {"mediaType": _CONFIG, "digest": config_digest, "size": config_size},
                    "layers": [{"mediaType": _LAYER_TAR, "digest": digest, "size": size}],
                }
                manifest_digest, manifest_size = self._write_blob(_json_bytes(manifest))
                entries.setdefault(
                    config_digest,
                    index.IndexEntry(
                        names=[],
                        manifest=manifest_digest,
                        config=config_digest,
                        layer_blobs=[digest],
                        diff_ids=[digest],
                        size=manifest_size + config_size + size,
                        created=created,
                    ),
                )
                self._claim_names(entries, config_digest, [name])
                record = self._record(config_digest, entries[config_digest])
        log.info("image_imported", image=name, image_id=record.image_id, size=record.size)
        return record

    def load_archive(self, path: Path) -> list[ImageRecord]:
        """Every image of a docker-archive or oci-archive file, named as in the archive."""
        what = f"archive {path}"
        transport, images = archives.list_archive(path)
        records: list[ImageRecord] = []
        with self._scratch() as work:
            source = work / "archive"
            source.symlink_to(path.resolve())  # a path with ':' would confuse skopeo
            layout = work / "layout"
            copied = []
            for number, image in enumerate(images):
                tag = f"image{number}"
                archives.copy_to_layout(
                    self.skopeo,
                    transport,
                    f"{source}{image.selector}",
                    layout,
                    tag,
                    tmpdir=work,
                    what=what,
                )
                copied.append((image, archives.read_layout(layout, tag, what=what)))
            with index.locked(self._index) as entries:
                for image, found in copied:
                    image_id = self._add_layout_image(entries, layout, found, work, what=what)
                    self._claim_names(entries, image_id, image.names)
                    records.append(self._record(image_id, entries[image_id]))
        for record in records:
            log.info("image_loaded", image_id=record.image_id, names=list(record.names))
        return records

    def _add_layout_image(
        self,
        entries: dict[str, index.IndexEntry],
        layout: Path,
        found: archives.LayoutImage,
        work: Path,
        *,
        what: str,
    ) -> str:
        from kubeplay.image import layers

        image_id = found.config_digest
        rootfs = found.config.get("rootfs") or {}
        diff_ids = [str(d) for d in rootfs.get("diff_ids") or []]
        if len(diff_ids) != len(found.layer_digests):
            raise ImageError(
                f"{what}: image {image_id}: {len(found.layer_digests)} layers but"
                f" {len(diff_ids)} diff ids"
            )
        size = 0
        for digest in (found.manifest_digest, image_id, *found.layer_digests):
            src = archives.blob_path(layout, digest)
            if src.exists():
                size += self._ingest(src, digest)
            else:  # shared with an image copied before, already moved in
                size += self._blob(digest).stat().st_size
        for digest, diff_id in zip(found.layer_digests, diff_ids, strict=True):
            layers.unpack_layer(
                self._blob(digest), self._layer_dir(diff_id), diff_id=diff_id, scratch=work
            )
        if image_id not in entries:
            entries[image_id] = index.IndexEntry(
                names=[],
                manifest=found.manifest_digest,
                config=image_id,
                layer_blobs=list(found.layer_digests),
                diff_ids=diff_ids,
                size=size,
                created=str(found.config.get("created") or ""),
            )
        return image_id

    # --- pulling ---------------------------------------------------------------------------

    @property
    def index_path(self) -> Path:
        return self._index

    def layer_dir(self, diff_id: str) -> Path:
        return self._layer_dir(diff_id)

    def scratch(self) -> contextlib.AbstractContextManager[Path]:
        """A scratch dir under the store (same filesystem: renames into place), removed after."""
        return self._scratch()

    def has_layers(self, entry: index.IndexEntry) -> bool:
        """The entry's blobs and unpacked layers are all there."""
        return all(self._blob(b).exists() for b in entry.blobs()) and all(
            self._layer_dir(d).is_dir() for d in entry.diff_ids
        )

    def link_blob(self, digest: str, dest: Path) -> bool:
        """Hard-link blob `digest` to `dest` if the store has it (so skopeo skips it)."""
        try:
            os.link(self._blob(digest), dest)
        except FileNotFoundError:
            return False
        return True

    def pull(
        self,
        source: PullSource,
        *,
        options: transport.Options | None = None,
        progress: pulls.PullProgress | None = None,
    ) -> ImageRecord:
        """Fetch an image from a registry or podman's storage (see pulls.py)."""
        from kubeplay.image import pulls, transport

        self._ensure_dirs()
        return pulls.pull_image(
            self, source, options=options or transport.Options(), progress=progress
        )

    def add_names(
        self, image_id: str, *, names: Sequence[str], digests: Sequence[str]
    ) -> ImageRecord:
        with index.locked(self._index) as entries:
            entry = entries.get(image_id)
            if entry is None:
                raise NotFoundError(f"image {image_id}: not found")
            self._claim_names(entries, image_id, names)
            entry.digests.extend(d for d in digests if d not in entry.digests)
            return self._record(image_id, entry)

    def add_pulled(
        self,
        layout: Path,
        found: archives.LayoutImage,
        *,
        names: Sequence[str],
        digests: Sequence[str],
        verified: set[str],
    ) -> ImageRecord:
        """Move a pulled image's blobs in from `layout` (its layers already unpacked)."""
        image_id = found.config_digest
        diff_ids = [str(d) for d in (found.config.get("rootfs") or {}).get("diff_ids") or []]
        with index.locked(self._index) as entries:
            size = 0
            for digest in dict.fromkeys((found.manifest_digest, image_id, *found.layer_digests)):
                src = archives.blob_path(layout, digest)
                if self._blob(digest).exists():
                    size += self._blob(digest).stat().st_size
                    continue
                size += self._ingest(src, digest, verified=digest in verified)
            if image_id not in entries:
                entries[image_id] = index.IndexEntry(
                    names=[],
                    manifest=found.manifest_digest,
                    config=image_id,
                    layer_blobs=list(found.layer_digests),
                    diff_ids=diff_ids,
                    size=size,
                    created=str(found.config.get("created") or ""),
                )
            entry = entries[image_id]
            self._claim_names(entries, image_id, names)
            entry.digests.extend(d for d in digests if d not in entry.digests)
            return self._record(image_id, entry)

    def drop_unused_layers(self, dirs: Sequence[Path]) -> None:
        """After a failed pull: remove the layer dirs it unpacked that no image uses."""
        if not dirs:
            return
        with index.locked(self._index) as entries:
            used = {_hex(d) for entry in entries.values() for d in entry.diff_ids}
            for path in dirs:
                if path.name not in used:
                    self._delete_layer(f"sha256:{path.name}")

    # --- reading, saving, pruning ----------------------------------------------------------

    def read_config(self, image_id: str) -> dict[str, Any]:
        """The image's whole config document (architecture, os, config, rootfs, history)."""
        try:
            document = json.loads(self._blob(image_id).read_bytes())
        except (OSError, ValueError) as err:
            raise ImageError(f"image {image_id}: cannot read its config blob: {err}") from err
        return document if isinstance(document, dict) else {}

    def save(self, refs: Sequence[str], dest: Path) -> list[ImageRecord]:
        """Write the images to `dest` as an oci-archive (an OCI layout in a tar), each
        annotated with the name it was asked by, as `podman save --format oci-archive`.
        A docker v2s2 manifest (pulled from a registry that serves those) is written with
        OCI media types (`archives.oci_manifest`): a new manifest blob, the same config and
        layer blobs, so the saved image loads back with the same id."""
        import tarfile

        entries = index.load(self._index)
        chosen: list[tuple[str, str]] = []  # (image id, ref name or "")
        for ref in refs:
            found = self._resolve(entries, ref)
            if found is None:
                raise NotFoundError(f"image {ref}: not found")
            name = found[1] or (entries[found[0]].names[0] if entries[found[0]].names else "")
            chosen.append((found[0], name))
        manifests = []
        blobs: dict[str, None] = {}
        written: dict[str, bytes] = {}  # converted manifests: digest -> bytes
        for image_id, name in chosen:
            entry = entries[image_id]
            data = self._blob(entry.manifest).read_bytes()
            manifest = json.loads(data)
            oci = archives.oci_manifest(manifest, what=f"image {name or image_id}")
            digest = entry.manifest
            if oci is not manifest:
                data = _json_bytes(oci)
                digest = "sha256:" + hashlib.sha256(data).hexdigest()
                written[digest] = data
            descriptor: dict[str, Any] = {
                "mediaType": archives.OCI_MANIFEST,
                "digest": digest,
                "size": len(data),
            }
            if name:
                descriptor["annotations"] = {archives.REF_NAME: name}
            manifests.append(descriptor)
            # the stored manifest, unless a converted one replaces it; config; layers
            blobs.update(dict.fromkeys(entry.blobs()[0 if digest == entry.manifest else 1 :]))
        index_doc = {"schemaVersion": 2, "manifests": manifests}
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        try:
            with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
                for member, payload in (
                    ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                    ("index.json", _json_bytes(index_doc)),
                    *((f"blobs/sha256/{_hex(d)}", data) for d, data in written.items()),
                ):
                    info = tarfile.TarInfo(member)
                    info.size, info.mode = len(payload), 0o644
                    tar.addfile(info, io.BytesIO(payload))
                for digest in blobs:
                    tar.add(self._blob(digest), arcname=f"blobs/sha256/{_hex(digest)}")
            os.rename(tmp, dest)
        except OSError as err:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise ImageError(f"image save {dest}: {err.strerror or err}") from err
        return [self._record(image_id, entries[image_id]) for image_id, _ in chosen]

    def prune_orphans(self) -> tuple[int, int]:
        """Remove blobs and layer dirs no image uses (left by an interrupted pull or import)
        and stale scratch dirs; waits for pulls in progress. (blobs, layers) removed."""
        self._ensure_dirs()
        with self.pull_lock(exclusive=True), index.locked(self._index) as entries:
            used_blobs = {_hex(b) for entry in entries.values() for b in entry.blobs()}
            used_layers = {_hex(d) for entry in entries.values() for d in entry.diff_ids}
            blobs = [p for p in self._blobs.iterdir() if p.name not in used_blobs]
            for path in blobs:
                path.unlink()
            dirs = [p for p in self._layers.iterdir() if p.name not in used_layers]
            for path in dirs:
                self._delete_layer(f"sha256:{path.name}")
            for path in self._tmp.iterdir():
                shutil.rmtree(path, ignore_errors=True)
        return len(blobs), len(dirs)

    @contextlib.contextmanager
    def pull_lock(self, *, exclusive: bool = False) -> Iterator[None]:
        """Shared by pulls and imports in progress (their layers are not in the index yet),
        exclusive for prune, so prune never takes their fresh layers for orphans."""
        import fcntl

        self._ensure_dirs()
        with (self.root / "pull.lock").open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    # --- looking up ------------------------------------------------------------------------

    def list(self) -> list[ImageRecord]:
        entries = index.load(self._index)
        return [self._record(image_id, entry) for image_id, entry in sorted(entries.items())]

    def _resolve(
        self,
        entries: dict[str, index.IndexEntry],
        ref_or_id: str,
        candidates: Sequence[str] = (),
    ) -> tuple[str, str | None] | None:
        """(image id, the name it was found by or None if by id), or None."""
        for candidate in candidates or references.lookup_candidates(ref_or_id):
            repo, at, digest = candidate.partition("@")
            if at and ":" in repo.rsplit("/", 1)[-1]:
                repo = repo.rsplit(":", 1)[0]  # name:tag@digest: the digest decides
            for image_id, entry in entries.items():
                if at:
                    if f"{repo}@{digest}" in entry.digests:
                        return image_id, None
                    repos = {n.rsplit(":", 1)[0] for n in entry.names}
                    if entry.manifest == digest and repo in repos:
                        return image_id, None
                elif candidate in entry.names:
                    return image_id, candidate
        prefix = references.id_prefix(ref_or_id)
        if prefix is None:
            return None
        matches = [image_id for image_id in entries if _hex(image_id).startswith(prefix)]
        if len(matches) > 1:
            raise ImageError(f"image {ref_or_id}: ambiguous id prefix ({len(matches)} images)")
        return (matches[0], None) if matches else None

    def find(self, ref_or_id: str, *, candidates: Sequence[str] = ()) -> ImageRecord | None:
        """The image named `ref_or_id` (or, when given, by the first of `candidates`, the
        names a short name stands for), or by id; None if there is none."""
        entries = index.load(self._index)
        found = self._resolve(entries, ref_or_id, candidates)
        return None if found is None else self._record(found[0], entries[found[0]])

    def get(self, ref_or_id: str) -> ImageRecord:
        record = self.find(ref_or_id)
        if record is None:
            raise NotFoundError(f"image {ref_or_id}: not found")
        return record

    # --- changing names, removing ----------------------------------------------------------

    def tag(self, ref_or_id: str, new_ref: str) -> ImageRecord:
        name = references.local_name(new_ref)
        with index.locked(self._index) as entries:
            found = self._resolve(entries, ref_or_id)
            if found is None:
                raise NotFoundError(f"image {ref_or_id}: not found")
            self._claim_names(entries, found[0], [name])
            record = self._record(found[0], entries[found[0]])
        log.info("image_tagged", image_id=record.image_id, name=name)
        return record

    def remove(self, ref_or_id: str) -> ImageRecord:
        """Untag by name; delete the image (and blobs/layers no other image uses) when nameless."""
        with index.locked(self._index) as entries:
            found = self._resolve(entries, ref_or_id)
            if found is None:
                raise NotFoundError(f"image {ref_or_id}: not found")
            image_id, by_name = found
            entry = entries[image_id]
            if by_name is not None and len(entry.names) > 1:
                entry.names.remove(by_name)
                record = self._record(image_id, entry)
                log.info("image_untagged", image_id=image_id, name=by_name)
                return record
            record = self._record(image_id, entry)
            del entries[image_id]
            kept_blobs = {blob for other in entries.values() for blob in other.blobs()}
            kept_layers = {diff for other in entries.values() for diff in other.diff_ids}
            for blob in set(entry.blobs()) - kept_blobs:
                with contextlib.suppress(FileNotFoundError):
                    self._blob(blob).unlink()
            for diff_id in set(entry.diff_ids) - kept_layers:
                self._delete_layer(diff_id)
        log.info("image_removed", image_id=image_id, names=list(record.names))
        return record

    def _delete_layer(self, diff_id: str) -> None:
        """Rename the layer dir away first, so no half-deleted dir is ever taken for a layer."""
        for link in self._links.glob(f"{_hex(diff_id)[:12]}*"):
            if os.readlink(link).endswith(_hex(diff_id)):
                link.unlink()
        self._tmp.mkdir(parents=True, exist_ok=True)
        doomed = Path(tempfile.mkdtemp(prefix="deleted-", dir=self._tmp))
        with contextlib.suppress(FileNotFoundError):
            os.rename(self._layer_dir(diff_id), doomed / "layer")
        shutil.rmtree(doomed, ignore_errors=True)

    # --- rootfs ----------------------------------------------------------------------------

    def layer_dirs(self, image_id: str) -> builtins.list[Path]:
        """Layer dirs of an image, top layer first (overlayfs lowerdir order)."""
        entries = index.load(self._index)
        entry = entries.get(image_id) or entries.get(f"sha256:{_hex(image_id)}")
        if entry is None:
            raise NotFoundError(f"image {image_id}: not found")
        dirs = [self._layer_dir(diff_id) for diff_id in reversed(entry.diff_ids)]
        missing = [str(d) for d in dirs if not d.is_dir()]
        if missing:
            raise ImageError(f"image {image_id}: layer dirs missing: {', '.join(missing)}")
        return dirs

    def _short_link(self, layer_dir: Path) -> str:
        """`l/<short>` -> ../layers/<hex>, made on first use (podman's overlay `l/` links)."""
        target = f"../layers/{layer_dir.name}"
        for length in (12, 20, 64):
            link = self._links / layer_dir.name[:length]
            try:
                if os.readlink(link) == target:
                    return f"l/{link.name}"
                continue  # another layer owns this short name: use a longer one
            except FileNotFoundError:
                pass
            tmp = self._links / f".{link.name}.{os.getpid()}"
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(target)
            os.rename(tmp, link)
            if os.readlink(link) == target:
                return f"l/{link.name}"
        raise ImageError(f"layer {layer_dir.name}: no free short link name")

    def mount_rootfs(self, image_id: str, *, target: Path, upper: Path, work: Path) -> None:
        """Overlay-mount the image at `target`, writes going to `upper`; creates the dirs.

        Also a single-layer image gets an overlay, so the layer dir is never written. If the
        absolute lowerdir list would not fit in a page (the mount(2) limit), the layers are
        named by short relative `l/` links and mounted from the store root instead.
        """
        lowers = self.layer_dirs(image_id)
        for path in (target, work):
            path.mkdir(parents=True, exist_ok=True)
        if not upper.exists():
            upper.mkdir(parents=True)
            top = lowers[0].stat()  # the rootfs "/" takes the upper dir's owner and mode
            os.chown(upper, top.st_uid, top.st_gid)
            os.chmod(upper, stat.S_IMODE(top.st_mode))
        try:
            data = mounts.overlay_data(
                [str(p) for p in lowers], upper=str(upper.absolute()), work=str(work.absolute())
            )
            cwd: Path | None = None
            if not mounts.fits_page(data):
                shorts = [self._short_link(p) for p in lowers]
                data = mounts.overlay_data(
                    shorts, upper=str(upper.absolute()), work=str(work.absolute())
                )
                cwd = self.root
                if not mounts.fits_page(data):
                    raise ImageError(f"image {image_id}: too many layers to mount ({len(lowers)})")
            mounts.mount_overlay(target, data, cwd=cwd)
        except ValueError as err:
            raise ImageError(f"image {image_id}: cannot mount at {target}: {err}") from err
        except OSError as err:
            raise ImageError(
                f"image {image_id}: mount overlay at {target} failed: {err.strerror}"
            ) from err
        log.debug("rootfs_mounted", image_id=image_id, target=str(target), layers=len(lowers))

    def unmount_rootfs(self, target: Path, *, lazy: bool = False) -> None:
        """Unmount a rootfs; fine when it is not mounted or missing. Detaches when busy, or
        at once with `lazy`."""
        try:
            if mounts.unmount(target, lazy=lazy):
                log.debug("rootfs_unmounted", target=str(target))
        except OSError as err:
            raise ImageError(f"rootfs {target}: unmount failed: {err.strerror}") from err


def _apply(lines: Sequence[str]) -> ImageConfig:
    from kubeplay.image import changes

    return changes.apply_changes(ImageConfig(), lines)


def _copy_uncompressed(src: Path, dest: Path, *, what: str) -> str:
    """Copy a (maybe gzip) tarball to `dest` uncompressed; the sha256 digest of what was written."""
    import gzip

    sha = hashlib.sha256()
    try:
        with src.open("rb") as raw:
            magic = raw.read(2)
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw
            with dest.open("wb") as out:
                while chunk := stream.read(_CHUNK):
                    sha.update(chunk)
                    out.write(chunk)
    except FileNotFoundError as err:
        raise ImageError(f"{what}: {src}: no such file") from err
    except (OSError, EOFError) as err:
        raise ImageError(f"{what}: cannot read {src}: {err}") from err
    return "sha256:" + sha.hexdigest()
