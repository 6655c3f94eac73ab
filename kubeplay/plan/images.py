"""Images as the pod plan sees them, and the rules for naming and pulling them.

ImageConfig is what the pod plan needs from an image's OCI config, as plain values; the image
adapter fills it from the stored config. The rest decides, without I/O, what a kubelet or
podman would: how a reference is normalised (`busybox` -> `docker.io/library/busybox:latest`),
which pull policy a container gets by default (Kubernetes' SetDefaults_Container), which names
a short name stands for (registries.conf aliases and unqualified-search registries), and
where an image may be fetched from under each policy (`compute_pull_sources`). Kept here (not
in image/) because plan/ is below the adapters; registries.conf is read by the image adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class ImageConfig:
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()  # "KEY=value", in image order
    working_dir: str = ""
    user: str = ""  # "uid", "uid:gid", "name" or "name:group", as in the OCI config
    stop_signal: str = ""  # "SIGTERM", "15", "" = default
    exposed_ports: tuple[str, ...] = ()  # "80/tcp"
    labels: tuple[tuple[str, str], ...] = ()
    volumes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A stored image as the pod plan sees it."""

    ref: str  # normalised reference as the manifest named it ("localhost/demo:1")
    image_id: str  # "sha256:<hex>" of the config blob
    config: ImageConfig


class PullPolicy(StrEnum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


# Container waiting reasons of the kubelet's image manager (pkg/kubelet/images/types.go).
ERR_IMAGE_PULL = "ErrImagePull"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
IMAGE_PULL_BACKOFF = "ImagePullBackOff"

DEFAULT_REGISTRY = "docker.io"
LOCAL_DOMAIN = "localhost"


@dataclass(frozen=True, slots=True)
class Registries:
    """What registries.conf says about names: where short names are searched and aliased."""

    search: tuple[str, ...] = ()  # unqualified-search-registries, in order
    aliases: tuple[tuple[str, str], ...] = ()  # [aliases]: short name -> qualified name


@dataclass(frozen=True, slots=True)
class ParsedReference:
    domain: str
    path: str  # "library/busybox"
    tag: str  # "" when none was written
    digest: str  # "sha256:..." or ""

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"


def _has_domain(name: str) -> bool:
    first, sep, _ = name.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == LOCAL_DOMAIN)


def is_short_name(ref: str) -> bool:
    """True when `ref` names no registry domain (`demo`, `team/app:1`), as podman decides."""
    return not _has_domain(ref.strip().split("@", 1)[0])


def parse_reference(ref: str) -> ParsedReference:
    """Split a reference as docker's reference.ParseNormalizedNamed does (no validation)."""
    name, _, digest = ref.strip().partition("@")
    tag = ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = name.rpartition(":")
    if _has_domain(name):
        domain, _, path = name.partition("/")
    else:
        domain, path = DEFAULT_REGISTRY, name
    if domain == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    return ParsedReference(domain=domain, path=path, tag=tag, digest=digest)


def normalize_reference(ref: str) -> str:
    """Normalise an image reference as docker and podman do for a fully named image.

    A name without a registry domain is qualified with `docker.io/`, and a single path
    component on docker.io gets `library/` (`demo` and `docker.io/demo` are both
    `docker.io/library/demo`). A missing tag becomes `:latest` unless a digest is given;
    a tag and a digest are both kept (`name:1@sha256:...`).
    """
    ref = ref.strip()
    if not ref:
        return ref
    parsed = parse_reference(ref)
    tag = parsed.tag or ("" if parsed.digest else "latest")
    # An empty tag (`demo:`) stays visible, so that the caller's validation refuses it.
    if not parsed.tag and ":" in ref.partition("@")[0].rsplit("/", 1)[-1]:
        return parsed.repository + ":" + (f"@{parsed.digest}" if parsed.digest else "")
    out = parsed.repository + (f":{tag}" if tag else "")
    return f"{out}@{parsed.digest}" if parsed.digest else out


def default_pull_policy(ref: str) -> str:
    """Kubernetes' SetDefaults_Container: Always when the tag is `latest` (also next to a
    digest, `name:latest@sha256:...`) or when neither tag nor digest is given, else
    IfNotPresent (parsers.ParseImageName defaults the tag only when there is no digest)."""
    parsed = parse_reference(ref)
    tag = parsed.tag or ("" if parsed.digest else "latest")
    return PullPolicy.ALWAYS if tag == "latest" else PullPolicy.IF_NOT_PRESENT


def is_local_name(ref: str) -> bool:
    """A `localhost/` name (no port) names an image made on this host, as in podman: there
    is no registry to pull it from, only the local stores."""
    return parse_reference(ref).domain == LOCAL_DOMAIN


def _short_key(ref: str) -> tuple[str, str]:
    """(name without tag/digest, the `:tag@digest` suffix) of a short name."""
    name, at, digest = ref.strip().partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        name, _, tag = name.rpartition(":")
    suffix = (f":{tag}" if tag else "") + (f"@{digest}" if at else "")
    return name, suffix


def _alias(ref: str, registries: Registries) -> str | None:
    name, suffix = _short_key(ref)
    target = dict(registries.aliases).get(name)
    if target is None:
        return None
    return normalize_reference(target + suffix)


def registry_names(ref: str, registries: Registries) -> tuple[str, ...]:
    """The fully qualified names a reference may be pulled as, in the order podman tries
    them: a qualified name is itself; a short name is its alias if registries.conf has one,
    else the name under each unqualified-search registry (docker.io when none is set,
    which is what the manifest means in a Kubernetes cluster)."""
    ref = ref.strip()
    if not ref:
        return ()
    if not is_short_name(ref):
        return (normalize_reference(ref),)
    alias = _alias(ref, registries)
    if alias is not None:
        return (alias,)
    search = registries.search or (DEFAULT_REGISTRY,)
    return tuple(dict.fromkeys(normalize_reference(f"{domain}/{ref}") for domain in search))


def local_names(ref: str, registries: Registries) -> tuple[str, ...]:
    """Names to look a reference up by in a local store: a short name is `localhost/<name>`
    first (podman's local images), then every name it may be pulled as."""
    ref = ref.strip()
    if not ref:
        return ()
    if not is_short_name(ref):
        return (normalize_reference(ref),)
    local = normalize_reference(f"{LOCAL_DOMAIN}/{ref}")
    return tuple(dict.fromkeys((local, *registry_names(ref, registries))))


class Transport(StrEnum):
    CONTAINERS_STORAGE = "containers-storage"  # podman's local images: no network
    DOCKER = "docker"  # a registry


@dataclass(frozen=True, slots=True)
class PullSource:
    transport: Transport
    name: str  # fully qualified, normalised


def compute_pull_sources(
    ref: str, *, policy: str, present: bool, registries: Registries
) -> tuple[PullSource, ...]:
    """Where to fetch `ref` from, in order; () means use what kubeplay's store has.

    The kubelet's shouldPullImage: Always pulls on every start, IfNotPresent only when
    absent, Never never pulls. Images in podman's storage (`containers-storage:`) are
    local, so they are taken, without network, by IfNotPresent and Never when kubeplay's
    store lacks the image; Always goes to the registry. A `localhost/` name is never
    looked for in a registry: its only source is podman's storage, and an image kubeplay
    already holds under it is used as is, whatever the policy.
    """
    local = tuple(PullSource(Transport.CONTAINERS_STORAGE, n) for n in local_names(ref, registries))
    remote = tuple(
        PullSource(Transport.DOCKER, n)
        for n in registry_names(ref, registries)
        if not is_local_name(n)
    )
    if is_local_name(normalize_reference(ref)):
        return () if present else local
    if policy == PullPolicy.ALWAYS:
        return remote
    if present:
        return ()
    if policy == PullPolicy.NEVER:
        return local
    return local + remote


def never_pull_message(image: str) -> str:
    """The kubelet's message for ErrImageNeverPull."""
    return f'Container image "{image}" is not present with pull policy of Never'


def failure_reason(policy: str) -> str:
    return ERR_IMAGE_NEVER_PULL if policy == PullPolicy.NEVER else ERR_IMAGE_PULL


def aliases_from(table: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """registries.conf [aliases] as stored in Registries (sorted, keys stripped)."""
    return tuple(sorted((str(k).strip(), str(v).strip()) for k, v in table.items()))


INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)


def is_index(document: Mapping[str, object]) -> bool:
    """True for an OCI image index or a docker manifest list (a multi-arch image)."""
    media = document.get("mediaType")
    return media in INDEX_TYPES or (media is None and "manifests" in document)


def choose_platform(
    document: Mapping[str, object], *, architecture: str, variant: str = "", os: str = "linux"
) -> str:
    """The digest of the index entry for this host, as containers/image chooses it: same
    os and architecture, and the variant when the host has one (an entry without a variant
    matches too, after those that name it). Raises LookupError naming the platforms."""
    manifests = document.get("manifests")
    entries = (
        [m for m in manifests if isinstance(m, Mapping)] if isinstance(manifests, list) else []
    )
    exact: list[str] = []
    loose: list[str] = []
    seen: list[str] = []
    for entry in entries:
        platform = entry.get("platform")
        if not isinstance(platform, Mapping):
            continue
        got_os, got_arch = platform.get("os"), platform.get("architecture")
        got_variant = str(platform.get("variant") or "")
        seen.append("/".join(str(p) for p in (got_os, got_arch, got_variant) if p))
        if got_os != os or got_arch != architecture:
            continue
        if variant and got_variant == variant:
            exact.append(str(entry.get("digest")))
        elif not got_variant or not variant:
            loose.append(str(entry.get("digest")))
    chosen = exact or loose
    if not chosen:
        want = "/".join(p for p in (os, architecture, variant) if p)
        raise LookupError(
            f"no image for {want} in the manifest list (it has: {', '.join(seen) or 'none'})"
        )
    return chosen[0]
