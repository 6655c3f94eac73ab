"""ImageConfig: what the pod plan needs from an image's OCI config, as plain values.

The image adapter fills it from the stored image config; plan/ resolves command, env, user and
working directory against it. Kept here (not in image/) because plan/ is below the adapters.
"""

from __future__ import annotations

from dataclasses import dataclass


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


def normalize_reference(ref: str) -> str:
    """Normalise an image reference as podman does for local lookups.

    `name` -> `localhost/name:latest` is NOT assumed: a name without a registry domain is
    qualified with `docker.io/library/` for one path component and `docker.io/` for more,
    except names under `localhost/`. A missing tag becomes `:latest`; digests are kept.
    """
    ref = ref.strip()
    if not ref:
        return ref
    name, _, digest = ref.partition("@")
    first, _, rest = name.partition("/")
    has_domain = bool(rest) and ("." in first or ":" in first or first == "localhost")
    if not has_domain:
        name = f"docker.io/library/{name}" if "/" not in name else f"docker.io/{name}"
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and not digest:
        name += ":latest"
    return f"{name}@{digest}" if digest else name


def default_pull_policy(ref: str) -> str:
    """Kubernetes' default: Always for `:latest` (or no tag), IfNotPresent otherwise."""
    if "@" in ref:
        return "IfNotPresent"
    return "Always" if ref.endswith(":latest") else "IfNotPresent"
