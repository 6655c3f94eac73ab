"""Image rules: what a cluster's nodes can pull, and tags and policies that behave differently.

A node pulls every image from a registry. An image that exists only in kubeplay's store
(imported from a rootfs, loaded from an archive, tagged here: no registry digest of its own
repository) or that has a `localhost/` name is not there to pull. A short name is looked up
here as kubeplay does (`localhost/<name>` first, then registries.conf), while a cluster reads
it as `docker.io/...`. `LocalImages` is what `services.check` read from the store. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeplay.plan.images import (
    Registries,
    is_local_name,
    local_names,
    normalize_reference,
    parse_reference,
)


@dataclass(frozen=True, slots=True)
class LocalImages:
    """Names in kubeplay's store: those a registry gave (with a digest of their repository),
    and those made here."""

    pulled: frozenset[str] = frozenset()
    local_only: frozenset[str] = frozenset()
    registries: Registries = field(default_factory=Registries)


@dataclass(frozen=True, slots=True)
class ImageProblem:
    rule: str
    path: str
    message: str


_PUSH = (
    "push it to a registry the cluster can pull from (`kubeplay image save -o image.tar "
    "{ref}`, then `skopeo copy oci-archive:image.tar docker://REGISTRY/NAME:TAG`) and use "
    "that name"
)


def _local_only(image: str, local: LocalImages) -> str:
    """Why `image` cannot be pulled by a cluster ("" when it can, as far as we know)."""
    if is_local_name(image):
        return (
            f"image {image} has a localhost/ name: only this host has it, a node never pulls "
            f"it; {_PUSH.format(ref=image)}"
        )
    for name in local_names(image, local.registries):
        if name in local.pulled:
            return ""
        if name in local.local_only:
            here = "" if name == normalize_reference(image) else f" (here {name})"
            return (
                f"image {image}{here} exists only in kubeplay's image store (imported, loaded "
                f"or tagged here, never pulled from a registry): a node cannot pull it; "
                f"{_PUSH.format(ref=name)}"
            )
    return ""


def containers(spec: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for group in ("initContainers", "containers"):
        items = spec.get(group)
        for i, ctr in enumerate(items if isinstance(items, list) else ()):
            if isinstance(ctr, dict):
                yield f"{prefix}.{group}[{i}]", ctr


def check_images(spec: Mapping[str, Any], prefix: str, *, local: LocalImages) -> list[ImageProblem]:
    problems: list[ImageProblem] = []
    for path, ctr in containers(spec, prefix):
        image = str(ctr.get("image") or "").strip()
        if not image:
            continue
        why = _local_only(image, local)
        if why:
            problems.append(ImageProblem("image-local-only", f"{path}.image", why))
        parsed = parse_reference(image)
        if not parsed.digest and parsed.tag in ("", "latest"):
            what = "has no tag (:latest)" if not parsed.tag else "has the tag :latest"
            problems.append(
                ImageProblem(
                    "image-latest-tag",
                    f"{path}.image",
                    f"image {image} {what}: the cluster pulls it on every start "
                    "(imagePullPolicy Always) and nodes may run different images; pin a "
                    "tag or a digest",
                )
            )
        if ctr.get("imagePullPolicy") == "Never":
            problems.append(
                ImageProblem(
                    "image-pull-never",
                    f"{path}.imagePullPolicy",
                    f"imagePullPolicy Never: a node that does not already have {image} "
                    "leaves the container waiting in ErrImageNeverPull",
                )
            )
    return problems
