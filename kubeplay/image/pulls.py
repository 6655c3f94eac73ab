"""Pulling one image into the store: skopeo fetches, kubeplay unpacks while it does.

`pull_image(store, source, ...)` is the single entry point (`ImageStore.pull` calls it):

1. for a registry, `skopeo inspect --raw` gets the manifest (and, for a multi-arch index,
   the host platform's manifest); an image whose config and layers the store already has is
   not copied at all (an `Always` pull of an unchanged tag costs one manifest request);
2. the blobs the store already holds are hard-linked into a scratch OCI layout, so that
   skopeo's `copy` (by digest, layers in parallel, each verified) fetches only the others;
3. while skopeo copies, each layer blob that lands complete in the layout is unpacked at
   once (the unpacker checks the blob digest and the diff id in the same read), so fetching
   and unpacking overlap; the diff ids come from the config, fetched alongside;
4. then the blobs move into the store and the index gets the image, its name and digests.

A failure leaves nothing behind: the scratch dir goes, and layer dirs this pull unpacked
that no image in the index uses are removed. Images in podman's storage
(`containers-storage:`) take the same road without step 1 (their layers are unpacked after
the copy). Progress is reported through the `PullProgress` protocol; rendering it is the
CLI's business.
"""

from __future__ import annotations

import hashlib
import platform
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kubeplay.errors import ImageError
from kubeplay.image import archives, index, layers, transport
from kubeplay.log import get_logger
from kubeplay.plan import images as imgplan
from kubeplay.plan.images import PullSource, Transport

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from kubeplay.image.store import ImageRecord, ImageStore

log = get_logger(__name__)

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm", "i686": "386"}
_VARIANT = {"armv7l": "v7", "armv6l": "v6", "aarch64": "v8"}
_POLL = 0.02
_TAG = "pull"
UNPACK_WORKERS = 2  # threads: small pulls, and checking blobs of layers unpacked before
UNPACK_PROCESSES = 4  # creating files waits in the kernel: more layers at once than cores
PROCESS_UNPACK_BYTES = 32 << 20  # pulls from this size on unpack in worker processes


class PullProgress(Protocol):
    """What a pull reports; all calls come from the pulling thread."""

    def started(self, name: str, *, layers: int, total: int, cached: int) -> None: ...

    def advanced(self, name: str, *, done: int) -> None: ...

    def layer_done(self, name: str, digest: str, *, size: int, cached: bool) -> None: ...

    def finished(self, name: str, *, image_id: str, fetched: int) -> None: ...


class NoProgress:
    def started(self, name: str, *, layers: int, total: int, cached: int) -> None:
        pass

    def advanced(self, name: str, *, done: int) -> None:
        pass

    def layer_done(self, name: str, digest: str, *, size: int, cached: bool) -> None:
        pass

    def finished(self, name: str, *, image_id: str, fetched: int) -> None:
        pass


def host_platform() -> tuple[str, str]:
    machine = platform.machine()
    return _ARCH.get(machine, machine), _VARIANT.get(machine, "")


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class _Remote:
    """The manifest of the image to pull, as the registry has it."""

    repo: str  # "127.0.0.1:5000/team/app"
    manifest_digest: str
    index_digest: str  # "" unless chosen from a multi-arch index
    config_digest: str
    layers: tuple[tuple[str, int], ...]  # (blob digest, size), bottom first
    media_type: str = archives.OCI_MANIFEST

    def copy_flags(self) -> tuple[str, ...]:
        """skopeo would turn a docker v2s2 manifest into OCI for the layout, re-serialising
        the config (a new image id, not the config asked for): keep it v2s2."""
        return ("--format", "v2s2") if self.media_type == archives.DOCKER_MANIFEST else ()


@dataclass
class _Unpacking:
    """Layer unpacks in flight during a copy. Big pulls unpack in worker processes, one per
    layer up to UNPACK_PROCESSES (spawned while the manifest and first blobs download): tar
    parsing holds the GIL, so threads would not run two layers at once, and creating many
    small files is mostly waiting in the filesystem, which several layers at once overlap;
    small pulls do not pay for starting interpreters."""

    pool: ThreadPoolExecutor
    use_processes: bool = False
    processes: int = UNPACK_PROCESSES
    procs: ProcessPoolExecutor | None = None
    started: dict[str, Future[bool]] = field(default_factory=dict)
    dests: dict[str, Path] = field(default_factory=dict)

    def made(self) -> list[Path]:
        """Layer dirs this pull created (an unpack returns True when it made the dir)."""
        return [
            self.dests[digest]
            for digest, future in self.started.items()
            if digest in self.dests
            and future.done()
            and not future.cancelled()
            and future.exception() is None
            and future.result()
        ]

    def unpacker(self) -> Executor:
        if not self.use_processes:
            return self.pool
        if self.procs is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor  # ~30 ms: only for big pulls

            context = multiprocessing.get_context("spawn")  # never fork a threaded process
            self.procs = ProcessPoolExecutor(max_workers=self.processes, mp_context=context)
        return self.procs

    def warm_up(self) -> None:
        """Start the worker processes now (they import the unpacker while skopeo fetches)."""
        if self.use_processes:
            self.unpacker().submit(layers.ready)

    def shutdown(self, *, cancel: bool) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)
        if self.procs is not None:
            self.procs.shutdown(wait=True, cancel_futures=cancel)


def _resolve_remote(skopeo: transport.Skopeo, name: str, options: transport.Options) -> _Remote:
    parsed = imgplan.parse_reference(name)
    repo = parsed.repository
    raw = skopeo.inspect_raw(f"docker://{name}", options)
    top = transport.load_json(raw, what=name)
    index_digest = ""
    digest = _sha(raw)
    if imgplan.is_index(top):
        arch, variant = host_platform()
        try:
            chosen = imgplan.choose_platform(top, architecture=arch, variant=variant)
        except LookupError as err:
            raise ImageError(f"{name}: {err}") from err
        index_digest = digest
        raw = skopeo.inspect_raw(f"docker://{repo}@{chosen}", options)
        digest = _sha(raw)
        if digest != chosen:
            raise ImageError(f"{name}: manifest {chosen}: content does not match its digest")
        top = transport.load_json(raw, what=f"{repo}@{chosen}")
    elif parsed.digest and digest != parsed.digest:
        raise ImageError(f"{name}: manifest does not match the digest asked for")
    try:
        config_digest = str(top["config"]["digest"])
        layer_list = tuple((str(x["digest"]), int(x.get("size") or 0)) for x in top["layers"])
    except (KeyError, TypeError, ValueError) as err:
        raise ImageError(f"{name}: unsupported manifest ({top.get('mediaType')}): {err}") from err
    return _Remote(
        repo=repo,
        manifest_digest=digest,
        index_digest=index_digest,
        config_digest=config_digest,
        layers=layer_list,
        media_type=str(top.get("mediaType") or archives.OCI_MANIFEST),
    )


def _prepare_layout(layout: Path) -> Path:
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text('{"schemaVersion":2,"manifests":[]}')
    return blobs


def _diff_ids(config: dict[str, Any], *, what: str) -> list[str]:
    rootfs = config.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list):
        raise ImageError(f"{what}: image config has no rootfs.diff_ids")
    return [str(d) for d in diff_ids]


def pull_image(
    store: ImageStore,
    source: PullSource,
    *,
    options: transport.Options,
    progress: PullProgress | None = None,
) -> ImageRecord:
    """Fetch `source` into `store` and name it; the stored record."""
    progress = progress or NoProgress()
    skopeo = transport.Skopeo(store.skopeo)
    name = source.name
    parsed = imgplan.parse_reference(name)
    tagged = f"{parsed.repository}:{parsed.tag}" if parsed.tag else ""
    remote: _Remote | None = None
    if source.transport is Transport.DOCKER:
        found = _resolve_remote(skopeo, name, options)
        remote = found
        source_ref = f"docker://{found.repo}@{found.manifest_digest}"
        have = index.load(store.index_path).get(found.config_digest)
        if have is not None and store.has_layers(have):
            progress.started(name, layers=len(found.layers), total=0, cached=len(found.layers))
            record = store.add_names(
                found.config_digest, names=[tagged] if tagged else [], digests=_digests(found)
            )
            progress.finished(name, image_id=record.image_id, fetched=0)
            log.info("image_up_to_date", image=name, image_id=record.image_id)
            return record
    else:
        source_ref = f"containers-storage:{name}"
    with store.scratch() as work:
        layout = work / "layout"
        blobs = _prepare_layout(layout)
        cached = 0
        wanted = remote.layers if remote else ()
        for digest, _size in wanted:
            if store.link_blob(digest, blobs / digest.removeprefix("sha256:")):
                cached += 1
        big = sum(size for _, size in wanted) >= PROCESS_UNPACK_BYTES or remote is None
        unpacking = _Unpacking(
            pool=ThreadPoolExecutor(max_workers=UNPACK_WORKERS),
            use_processes=big,
            processes=max(1, min(UNPACK_PROCESSES, len(wanted) - cached or UNPACK_PROCESSES)),
        )
        try:
            unpacking.warm_up()
            record = _copy_and_store(
                store,
                skopeo,
                source_ref,
                layout,
                work,
                remote=remote,
                names=[tagged] if tagged else [],
                options=options,
                progress=progress,
                name=name,
                cached=cached,
                unpacking=unpacking,
            )
        except BaseException:
            unpacking.shutdown(cancel=True)
            store.drop_unused_layers(unpacking.made())
            raise
        unpacking.shutdown(cancel=False)
    return record


def _digests(remote: _Remote) -> list[str]:
    out = [f"{remote.repo}@{remote.manifest_digest}"]
    if remote.index_digest:
        out.append(f"{remote.repo}@{remote.index_digest}")
    return out


def _copy_and_store(
    store: ImageStore,
    skopeo: transport.Skopeo,
    source_ref: str,
    layout: Path,
    work: Path,
    *,
    remote: _Remote | None,
    names: list[str],
    options: transport.Options,
    progress: PullProgress,
    name: str,
    cached: int,
    unpacking: _Unpacking,
) -> ImageRecord:
    blobs = layout / "blobs" / "sha256"
    wanted = remote.layers if remote else ()
    linked = {digest for digest, _ in wanted if (blobs / digest[7:]).exists()}
    to_fetch = sum(size for digest, size in dict(wanted).items() if digest not in linked)
    progress.started(name, layers=len(wanted), total=to_fetch, cached=cached)
    for digest, size in wanted:
        if digest in linked:
            progress.layer_done(name, digest, size=size, cached=True)
    config_future: Future[bytes] | None = None
    if remote is not None:
        source = f"docker://{remote.repo}@{remote.manifest_digest}"
        config_future = unpacking.pool.submit(skopeo.inspect_raw, source, options, config=True)
    extra = remote.copy_flags() if remote is not None else ()
    proc = skopeo.copy(source_ref, f"oci:{layout}:{_TAG}", options, extra=extra)
    diff_ids: list[str] | None = None
    reported = set(linked)
    try:
        while True:
            running = proc.poll() is None
            if remote is not None and config_future is not None:
                if diff_ids is None and config_future.done():
                    config = transport.load_json(config_future.result(), what=name)
                    if _sha(config_future.result()) != remote.config_digest:
                        raise ImageError(f"{name}: config does not match its digest")
                    diff_ids = _diff_ids(config, what=name)
                    _offer_blob(blobs, remote.config_digest, config_future.result())
                    if len(diff_ids) != len(wanted):
                        raise ImageError(
                            f"{name}: {len(wanted)} layers but {len(diff_ids)} diff ids"
                        )
                done = 0
                for number, (digest, size) in enumerate(wanted):
                    path = blobs / digest[7:]
                    if not path.exists():
                        continue
                    if digest not in linked:
                        done += size
                    if digest not in reported:
                        reported.add(digest)
                        progress.layer_done(name, digest, size=size, cached=False)
                    if diff_ids is not None and digest not in unpacking.started:
                        _start_unpack(store, unpacking, path, digest, diff_ids[number], work)
                partial = sum(_size_of(p) for p in layout.glob("oci-put-blob*"))
                progress.advanced(name, done=min(to_fetch, done + partial))
            if not running:
                break
            time.sleep(_POLL)
        transport.Skopeo.finish(proc, what=name)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    found = archives.read_layout(layout, _TAG, what=name)
    if remote is not None and found.config_digest != remote.config_digest:
        raise ImageError(f"{name}: skopeo copied config {found.config_digest}, not the one asked")
    config_diff_ids = _diff_ids(found.config, what=name)
    if len(config_diff_ids) != len(found.layer_digests):
        raise ImageError(
            f"{name}: {len(found.layer_digests)} layers but {len(config_diff_ids)} diff ids"
        )
    for digest, diff_id in zip(found.layer_digests, config_diff_ids, strict=True):
        if digest not in reported:
            reported.add(digest)
            size = _size_of(archives.blob_path(layout, digest))
            progress.layer_done(name, digest, size=size, cached=False)
        if digest not in unpacking.started:
            path = archives.blob_path(layout, digest)
            _start_unpack(store, unpacking, path, digest, diff_id, work)
    for future in list(unpacking.started.values()):
        future.result()
    record = store.add_pulled(
        layout,
        found,
        names=names,
        digests=_digests(remote) if remote else [],
        verified=set(unpacking.started),
    )
    progress.finished(name, image_id=record.image_id, fetched=to_fetch)
    log.info("image_pulled", image=name, image_id=record.image_id)
    return record


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _start_unpack(
    store: ImageStore,
    unpacking: _Unpacking,
    blob: Path,
    digest: str,
    diff_id: str,
    work: Path,
) -> None:
    dest = store.layer_dir(diff_id)
    if dest.exists():
        # Unpacked before: the blob is still checked before it is stored.
        unpacking.started[digest] = unpacking.pool.submit(_verify_blob, blob, digest)
        return
    unpacking.dests[digest] = dest  # removed again on failure unless an image uses it
    unpacking.started[digest] = unpacking.unpacker().submit(
        layers.unpack_layer, blob, dest, diff_id=diff_id, scratch=work, blob_digest=digest
    )


def _offer_blob(blobs: Path, digest: str, data: bytes) -> None:
    """Put a blob fetched already (the config) where skopeo looks before fetching it."""
    dest = blobs / digest.removeprefix("sha256:")
    if dest.exists():
        return
    tmp = blobs.parent / f".offer-{digest[7:19]}"
    tmp.write_bytes(data)
    tmp.rename(dest)


def _verify_blob(blob: Path, digest: str) -> bool:
    sha = hashlib.sha256()
    with blob.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    if "sha256:" + sha.hexdigest() != digest:
        raise ImageError(f"blob {digest}: content does not match its digest")
    return False
