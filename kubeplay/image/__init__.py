"""Image adapter: kubeplay's own content store and the overlay rootfs of containers.

`ImageStore` (store.py) is the one entry point the engine and services use: import a rootfs
tarball, load docker/oci archives through skopeo, find/tag/remove images, and overlay-mount an
image's layers as a container rootfs. Below kubeplay.plan; never imports state/runtime/net.
"""

from kubeplay.image.store import ImageRecord, ImageStore

__all__ = ["ImageRecord", "ImageStore"]
