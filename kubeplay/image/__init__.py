"""Image adapter: kubeplay's own content store and the overlay rootfs of containers.

`ImageStore` (store.py) is the one entry point the engine and services use: import a rootfs
tarball, load docker/oci archives through skopeo, find/tag/remove images, and overlay-mount an
image's layers as a container rootfs. Below kubeplay.plan; never imports state/runtime/net.

The store (tarfile, gzip, hashlib...) is imported when first named here, not with the package:
`kubeplay apply` of an unchanged file reads pull options from `image.transport` and needs no
store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubeplay.image.store import ImageRecord, ImageStore

__all__ = ["ImageRecord", "ImageStore"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from kubeplay.image import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
