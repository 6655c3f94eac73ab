"""Image archives (docker-archive, oci-archive) read through skopeo into an OCI layout.

`list_archive` opens the archive only to learn its format and images (docker-archive:
manifest.json and its RepoTags; oci-archive: oci-layout + index.json and the
`org.opencontainers.image.ref.name` annotations). `copy_to_layout` runs `skopeo copy` for one
image into a scratch OCI layout, which handles every compression and conversion, and
`read_layout` reads the manifest and config skopeo wrote there (the archive's own manifest type
is kept, so the image id stays the archive's config digest). The store moves the blobs in.
`oci_manifest` is the other way, for `image save`: a docker v2s2 manifest with OCI media types.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeplay.errors import ImageError
from kubeplay.image import references
from kubeplay.log import get_logger

if TYPE_CHECKING:
    import tarfile  # imported by list_archive: the store's users that read no archive

log = get_logger(__name__)

REF_NAME = "org.opencontainers.image.ref.name"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
# Keep each archive's own manifest type: converting docker -> OCI makes skopeo re-serialise the
# config, which changes the image id from the one `docker load`/`podman load` would show.
MANIFEST_FORMAT = {"docker-archive": "v2s2", "oci-archive": "oci"}
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
_DOCKER_TO_OCI = {
    "application/vnd.docker.container.image.v1+json": OCI_CONFIG,
    "application/vnd.docker.image.rootfs.diff.tar.gzip": (
        "application/vnd.oci.image.layer.v1.tar+gzip"
    ),
    "application/vnd.docker.image.rootfs.diff.tar": "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": (
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    ),
}


@dataclass(frozen=True, slots=True)
class ArchiveImage:
    """One image of an archive: the skopeo source suffix and the names it carries."""

    selector: str  # appended to "<transport>:<path>": "", ":@0", ":name:tag"
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LayoutImage:
    """One image as skopeo wrote it into an OCI layout."""

    manifest_digest: str
    config_digest: str
    layer_digests: tuple[str, ...]
    config: dict[str, Any]


def _read_json_member(tar: tarfile.TarFile, name: str, *, what: str) -> Any:
    try:
        member = tar.getmember(name)
    except KeyError as err:
        raise ImageError(f"{what}: no {name}") from err
    handle = tar.extractfile(member)
    if handle is None:
        raise ImageError(f"{what}: {name} is not a file")
    try:
        return json.load(handle)
    except ValueError as err:
        raise ImageError(f"{what}: {name}: invalid JSON: {err}") from err


def _name_from_annotation(value: str) -> str | None:
    """A ref.name naming a repository ("demo:1", "quay.io/x/y:2") -> normalised name.

    A bare tag ("latest", "1.0"), which the OCI spec also allows, names no repository: the
    image is then loaded without a name (find it by id), rather than guessing one.
    """
    if ":" not in value and "/" not in value:
        return None
    try:
        return references.check_reference(value)
    except ImageError:
        return None


def list_archive(path: Path) -> tuple[str, list[ArchiveImage]]:
    """The skopeo transport of the archive at `path` and the images it holds."""
    import tarfile

    what = f"archive {path}"
    try:
        with tarfile.open(path, "r:*") as tar:
            members = set(tar.getnames())
            top = {name.removeprefix("./") for name in members}
            if "oci-layout" in top and "index.json" in top:
                name = "index.json" if "index.json" in members else "./index.json"
                index = _read_json_member(tar, name, what=what)
                return "oci-archive", _oci_images(index, what=what)
            if "manifest.json" in top:
                name = "manifest.json" if "manifest.json" in members else "./manifest.json"
                manifest = _read_json_member(tar, name, what=what)
                return "docker-archive", _docker_images(manifest, what=what)
    except FileNotFoundError as err:
        raise ImageError(f"{what}: no such file") from err
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ImageError(f"{what}: not a readable tar archive: {err}") from err
    raise ImageError(f"{what}: neither a docker-archive nor an oci-archive")


def _docker_images(manifest: Any, *, what: str) -> list[ArchiveImage]:
    if not isinstance(manifest, list) or not manifest:
        raise ImageError(f"{what}: manifest.json lists no images")
    images = []
    for number, entry in enumerate(manifest):
        tags = entry.get("RepoTags") or [] if isinstance(entry, dict) else []
        names = tuple(dict.fromkeys(references.check_reference(str(tag)) for tag in tags))
        images.append(ArchiveImage(selector=f":@{number}", names=names))
    return images


def _oci_images(index: Any, *, what: str) -> list[ArchiveImage]:
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests:
        raise ImageError(f"{what}: index.json lists no images")
    images = []
    for descriptor in manifests:
        annotations = descriptor.get("annotations") or {}
        ref_name = str(annotations.get(REF_NAME, ""))
        if not ref_name:
            if len(manifests) > 1:
                raise ImageError(
                    f"{what}: holds {len(manifests)} images and one has no {REF_NAME}"
                    " annotation to select it by"
                )
            images.append(ArchiveImage(selector="", names=()))
            continue
        name = _name_from_annotation(ref_name)
        images.append(ArchiveImage(selector=f":{ref_name}", names=(name,) if name else ()))
    return images


def copy_to_layout(
    skopeo: str, transport: str, source: str, layout: Path, tag: str, *, tmpdir: Path, what: str
) -> None:
    """`skopeo copy <transport>:<source> oci:<layout>:<tag>`; ImageError with skopeo's words."""
    argv = [
        skopeo,
        "--tmpdir",
        str(tmpdir),
        "copy",
        "--quiet",
        "--format",
        MANIFEST_FORMAT[transport],
        f"{transport}:{source}",
        f"oci:{layout}:{tag}",
    ]
    log.debug("skopeo_copy", argv=argv)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as err:
        raise ImageError(f"{what}: cannot run {skopeo}: {err.strerror}") from err
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit {proc.returncode}"
        raise ImageError(f"{what}: skopeo copy failed: {last}")


def oci_manifest(manifest: dict[str, Any], *, what: str) -> dict[str, Any]:
    """`manifest` as an OCI image manifest: a docker v2s2 one gets the OCI media types of its
    config and layers (same digests: the blobs are not touched, so the image id, the config
    digest, stays); an OCI one is returned as is. Pure: no I/O."""
    media = manifest.get("mediaType", OCI_MANIFEST)
    if media == OCI_MANIFEST:
        return manifest
    if media != DOCKER_MANIFEST:
        raise ImageError(f"{what}: cannot write manifest type {media} as OCI")

    def convert(descriptor: Any) -> dict[str, Any]:
        if not isinstance(descriptor, dict):
            raise ImageError(f"{what}: manifest has a descriptor that is not an object")
        kind = str(descriptor.get("mediaType") or "")
        if kind not in _DOCKER_TO_OCI:
            raise ImageError(f"{what}: no OCI media type for {kind or 'an untyped blob'}")
        return {**descriptor, "mediaType": _DOCKER_TO_OCI[kind]}

    converted: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": convert(manifest.get("config")),
        "layers": [convert(layer) for layer in manifest.get("layers") or ()],
    }
    if manifest.get("annotations"):
        converted["annotations"] = manifest["annotations"]
    return converted


def blob_path(layout: Path, digest: str) -> Path:
    algorithm, _, hexpart = digest.partition(":")
    if algorithm != "sha256" or not references.id_prefix(hexpart) or len(hexpart) != 64:
        raise ImageError(f"unsupported digest {digest!r}")
    return layout / "blobs" / algorithm / hexpart


def read_layout(layout: Path, tag: str, *, what: str) -> LayoutImage:
    """The image tagged `tag` in the OCI layout at `layout`."""
    try:
        index = json.loads((layout / "index.json").read_text(encoding="utf-8"))
        descriptor = next(
            d
            for d in index.get("manifests", [])
            if (d.get("annotations") or {}).get(REF_NAME) == tag
        )
        manifest_digest = str(descriptor["digest"])
        manifest = json.loads(blob_path(layout, manifest_digest).read_bytes())
        if manifest.get("mediaType", OCI_MANIFEST) not in (OCI_MANIFEST, DOCKER_MANIFEST):
            raise ImageError(f"{what}: unexpected manifest type {manifest.get('mediaType')}")
        config_digest = str(manifest["config"]["digest"])
        layers = tuple(str(layer["digest"]) for layer in manifest.get("layers", []))
        config = json.loads(blob_path(layout, config_digest).read_bytes())
    except StopIteration as err:
        raise ImageError(f"{what}: skopeo wrote no image tagged {tag}") from err
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ImageError(f"{what}: cannot read the copied image: {err}") from err
    if not isinstance(config, dict):
        raise ImageError(f"{what}: image config is not an object")
    return LayoutImage(
        manifest_digest=manifest_digest,
        config_digest=config_digest,
        layer_digests=layers,
        config=config,
    )
