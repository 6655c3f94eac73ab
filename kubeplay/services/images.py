"""Image use cases: pull, login/logout, import, load, list, inspect, tag, save, remove, prune.

Removing an image a pod uses is refused unless forced; listing and inspecting say which pods
use each image (pods in the store, by image id). Pulls honour registries.conf, the auth files
and `--tls-verify` through the image adapter (skopeo); progress goes to the caller's
PullProgress.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeplay.engine import host as host_mod
from kubeplay.errors import ImageError, KubeplayError
from kubeplay.image.store import ImageRecord
from kubeplay.settings import Settings

if TYPE_CHECKING:
    from kubeplay.image.pulls import PullProgress
    from kubeplay.image.transport import Options


@dataclass(frozen=True, slots=True)
class ImageView:
    """An image with the pods that use it."""

    record: ImageRecord
    used_by: tuple[str, ...]  # "namespace/name"


@dataclass(frozen=True, slots=True)
class PruneReport:
    removed: tuple[ImageRecord, ...]
    blobs: int
    layers: int


def import_rootfs(
    settings: Settings, tar_path: Path, ref: str, *, changes: Sequence[str] = ()
) -> ImageRecord:
    host = host_mod.open_host(settings)
    try:
        return host.images.import_rootfs(tar_path, ref, changes=changes)
    finally:
        host.close()


def load(settings: Settings, archive: Path) -> list[ImageRecord]:
    host = host_mod.open_host(settings)
    try:
        return host.images.load_archive(archive)
    finally:
        host.close()


def pull(
    settings: Settings,
    ref: str,
    *,
    options: Options | None = None,
    progress: PullProgress | None = None,
) -> ImageRecord:
    """`kubeplay image pull`: always asks the registry (podman pull's default policy); a
    short name goes through registries.conf; a `localhost/` name comes from podman."""
    from kubeplay.engine import images as images_mod
    from kubeplay.image import references

    references.check_reference(ref)
    host = host_mod.open_host(settings)
    try:
        result = images_mod.ensure_image(
            host, ref, policy="Always", options=options, progress=progress
        )
        if result.ref is None:
            raise ImageError(f"image {ref}: pull failed: {result.message}")
        return host.images.get(result.ref.image_id)
    finally:
        host.close()


def login(
    settings: Settings, registry: str, *, username: str, password: str, options: Options
) -> None:
    from kubeplay.image import transport

    transport.Skopeo(settings.skopeo).login(
        registry, username=username, password=password, options=options
    )


def logout(
    settings: Settings, registry: str, *, options: Options, all_registries: bool = False
) -> None:
    from kubeplay.image import transport

    transport.Skopeo(settings.skopeo).logout(
        registry, options=options, all_registries=all_registries
    )


def _users(host: host_mod.Host) -> dict[str, list[str]]:
    """image id -> pods ("namespace/name") whose containers were made from it."""
    out: dict[str, list[str]] = {}
    for rec in host.store.list_pods():
        for image_id in dict.fromkeys(c.image_id for c in rec.containers if c.image_id):
            out.setdefault(image_id, []).append(f"{rec.namespace}/{rec.name}")
    return out


def users_of(host: host_mod.Host, image_id: str) -> list[str]:
    return _users(host).get(image_id, [])


def list_images(settings: Settings) -> list[ImageView]:
    host = host_mod.open_host(settings)
    try:
        users = _users(host)
        return [
            ImageView(record, tuple(users.get(record.image_id, ())))
            for record in host.images.list()
        ]
    finally:
        host.close()


def inspect(settings: Settings, refs: Sequence[str]) -> list[dict[str, Any]]:
    """podman image inspect's fields, plus UsedBy (the pods that use the image)."""
    host = host_mod.open_host(settings)
    try:
        users = _users(host)
        out = []
        for ref in refs:
            record = host.images.get(ref)
            config = host.images.read_config(record.image_id)
            out.append(
                {
                    "Id": record.image_id.removeprefix("sha256:"),
                    "Digest": record.manifest,
                    "RepoTags": list(record.names),
                    "RepoDigests": list(record.digests),
                    "Created": record.created,
                    "Architecture": config.get("architecture", ""),
                    "Os": config.get("os", ""),
                    "Size": record.size,
                    "Config": config.get("config") or {},
                    "RootFS": {"Type": "layers", "Layers": list(record.layers)},
                    "UsedBy": users.get(record.image_id, []),
                }
            )
        return out
    finally:
        host.close()


def tag(settings: Settings, ref: str, new_refs: Sequence[str]) -> ImageRecord:
    host = host_mod.open_host(settings)
    try:
        record = host.images.get(ref)
        for new in new_refs:
            record = host.images.tag(record.image_id, new)
        return record
    finally:
        host.close()


def save(settings: Settings, refs: Sequence[str], output: Path) -> list[ImageRecord]:
    host = host_mod.open_host(settings)
    try:
        return host.images.save(refs, output)
    finally:
        host.close()


def remove(settings: Settings, refs: Sequence[str], *, force: bool = False) -> list[ImageRecord]:
    host = host_mod.open_host(settings)
    try:
        removed = []
        for ref in refs:
            image = host.images.get(ref)
            in_use = users_of(host, image.image_id)
            if in_use and not force:
                raise KubeplayError(
                    f"image {ref}: in use by pod(s) {', '.join(in_use)} (use --force)"
                )
            removed.append(host.images.remove(ref))
        return removed
    finally:
        host.close()


def prune(settings: Settings, *, all_images: bool = False) -> PruneReport:
    """Remove images no pod uses: the nameless ones, or with `all_images` every one; then
    blobs and layers no image uses (left by interrupted pulls)."""
    host = host_mod.open_host(settings)
    try:
        users = _users(host)
        removed = []
        for record in host.images.list():
            if record.image_id in users or (record.names and not all_images):
                continue
            removed.append(host.images.remove(record.image_id))  # by id: every name goes
        blobs, layers = host.images.prune_orphans()
        return PruneReport(removed=tuple(removed), blobs=blobs, layers=layers)
    finally:
        host.close()
