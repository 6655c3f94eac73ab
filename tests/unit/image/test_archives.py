"""archives.oci_manifest: what `image save` writes for a stored manifest (pure, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplay.errors import ImageError
from kubeplay.image import archives

D = "sha256:" + "a" * 64
L1 = "sha256:" + "b" * 64
L2 = "sha256:" + "c" * 64


def _docker(*layer_types: str) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": D,
            "size": 1469,
        },
        "layers": [
            {"mediaType": kind, "digest": digest, "size": 10}
            for kind, digest in zip(layer_types, (L1, L2), strict=False)
        ],
    }


@pytest.mark.parametrize(
    ("docker_type", "oci_type"),
    [
        pytest.param(
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "application/vnd.oci.image.layer.v1.tar+gzip",
            id="gzip-layer",
        ),
        pytest.param(
            "application/vnd.docker.image.rootfs.diff.tar",
            "application/vnd.oci.image.layer.v1.tar",
            id="uncompressed-layer",
        ),
        pytest.param(
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            id="foreign-layer",
        ),
    ],
)
def test_docker_v2s2_gets_oci_media_types_and_keeps_digests(
    docker_type: str, oci_type: str
) -> None:
    out = archives.oci_manifest(_docker(docker_type), what="image x")
    assert out == {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": D,
            "size": 1469,
        },
        "layers": [{"mediaType": oci_type, "digest": L1, "size": 10}],
    }


def test_oci_manifest_is_kept_as_is() -> None:
    oci = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": archives.OCI_CONFIG, "digest": D, "size": 1},
        "layers": [],
        "annotations": {"a": "b"},
    }
    assert archives.oci_manifest(oci, what="image x") is oci


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        pytest.param(
            _docker("application/vnd.docker.image.rootfs.diff.tar.zstd"),
            "image x: no OCI media type for application/vnd.docker.image.rootfs.diff.tar.zstd",
            id="unknown-layer-type",
        ),
        pytest.param(
            {**_docker(), "mediaType": "application/vnd.docker.distribution.manifest.v1+json"},
            "image x: cannot write manifest type application/vnd.docker.distribution"
            ".manifest.v1+json as OCI",
            id="schema1",
        ),
        pytest.param(
            {**_docker(), "config": "nope"},
            "image x: manifest has a descriptor that is not an object",
            id="broken-config",
        ),
    ],
)
def test_what_cannot_be_converted_is_an_image_error(manifest: dict[str, Any], message: str) -> None:
    with pytest.raises(ImageError) as info:
        archives.oci_manifest(manifest, what="image x")
    assert str(info.value) == message
