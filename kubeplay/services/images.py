"""Image use cases: import a rootfs tarball, load an archive, list, remove (refused while a
pod uses the image, unless forced)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kubeplay.engine import host as host_mod
from kubeplay.errors import KubeplayError
from kubeplay.image.store import ImageRecord
from kubeplay.plan import pods as plans
from kubeplay.settings import Settings


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


def list_images(settings: Settings) -> list[ImageRecord]:
    host = host_mod.open_host(settings)
    try:
        return host.images.list()
    finally:
        host.close()


def users_of(host: host_mod.Host, image_id: str) -> list[str]:
    out = []
    for rec in host.store.list_pods():
        plan = plans.from_json(rec.plan_json)
        if any(c.image_id == image_id for c in plan.all_containers()):
            out.append(f"{rec.namespace}/{rec.name}")
    return out


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
