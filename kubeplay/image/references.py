"""Image reference rules of the local store: how names are qualified, validated and looked up.

Pure functions (no I/O) used by `store.ImageStore`. They follow podman's handling of local
images: `kubeplay image import x.tar demo` names the image `localhost/demo:latest`, and a short
name such as `demo:1` is looked up as `localhost/demo:1` first, then `docker.io/library/demo:1`.
Ids may be given in full or as a unique prefix of at least 4 hex digits, with or without
`sha256:`. Normalisation itself is `kubeplay.plan.images.normalize_reference`.
"""

from __future__ import annotations

import re

from kubeplay.errors import ImageError
from kubeplay.plan.images import Registries, local_names, normalize_reference
from kubeplay.plan.images import is_short_name as is_short_name

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"^{_DOMAIN}/{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@sha256:[0-9a-f]{64})?$"
)
_HEX_PREFIX = re.compile(r"^[0-9a-f]{4,64}$")
MIN_ID_PREFIX = 4


def check_reference(ref: str) -> str:
    """Return the normalised form of `ref`, or raise ImageError when it is not a valid name."""
    normalised = normalize_reference(ref)
    if not _REFERENCE.match(normalised):
        raise ImageError(f"image {ref.strip() or ref!r}: invalid reference format")
    return normalised


def local_name(ref: str) -> str:
    """The name a locally made image gets: a short name goes under `localhost/`, as podman does."""
    ref = ref.strip()
    if is_short_name(ref):
        return check_reference(f"localhost/{ref}")
    return check_reference(ref)


def lookup_candidates(ref: str, registries: Registries | None = None) -> tuple[str, ...]:
    """Normalised names to try, in order, for a user's reference to a local image: a short
    name under localhost/ first, then under its alias or each unqualified-search registry
    (docker.io when registries.conf names none)."""
    return local_names(ref, registries or Registries())


def id_prefix(ref_or_id: str) -> str | None:
    """The hex digits of an image id or id prefix (>= 4 digits), or None if it cannot be one."""
    text = ref_or_id.strip().lower()
    text = text.removeprefix("sha256:")
    return text if _HEX_PREFIX.match(text) else None
