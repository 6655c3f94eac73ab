"""ConfigMap and Secret payloads, as the API server stores them and the kubelet reads them.

`normalize` turns a played manifest into the body kubeplay stores (a Secret's `stringData` is
merged over its base64 `data` and dropped, its `type` defaults to Opaque), `configmap_data` /
`secret_data` give every key's bytes (what configMap/secret volumes write), and
`immutable_problems` is the API server's update rule for `immutable: true` objects. Keys are
checked with the API server's IsConfigMapKey (`is_valid_key`). Pure: no I/O.

Env vars read less than volumes do (kubelet makeEnvironmentVariables): a configMapKeyRef or
configMapRef sees only a ConfigMap's `data`, never `binaryData`; see `env_data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeplay.kube import defaults, validate

CONFIG_KINDS = ("ConfigMap", "Secret")
IMMUTABLE = "field is immutable when `immutable` is set"


def is_valid_key(key: str) -> bool:
    """A valid ConfigMap/Secret key: `[-._a-zA-Z0-9]+`, at most 253, not `.`, `..` or `..x`."""
    return not validate.config_key_problem(key)


def _decoded(value: Any) -> bytes:
    raw = validate.decode_base64(str(value))
    return raw if raw is not None else b""  # validation refused anything else


def normalize(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The body to store: for a Secret, stringData merged over data (base64) and dropped,
    and type defaulted to Opaque, as the API server does on write (`kube.defaults`)."""
    if kind != "Secret":
        return dict(body)
    return defaults.default_object(dict(body))


def configmap_data(body: Mapping[str, Any]) -> dict[str, bytes]:
    """Every key of a ConfigMap: `data` as UTF-8, then `binaryData` decoded."""
    out = {str(k): str(v).encode() for k, v in (body.get("data") or {}).items()}
    out.update({str(k): _decoded(v) for k, v in (body.get("binaryData") or {}).items()})
    return out


def secret_data(body: Mapping[str, Any]) -> dict[str, bytes]:
    """Every key of a Secret: `data` decoded, `stringData` (if not normalized yet) over it."""
    out = {str(k): _decoded(v) for k, v in (body.get("data") or {}).items()}
    out.update({str(k): str(v).encode() for k, v in (body.get("stringData") or {}).items()})
    return out


def env_data(kind: str, body: Mapping[str, Any]) -> dict[str, str]:
    """What env vars may read: a ConfigMap's `data`; a Secret's keys as text (invalid UTF-8
    replaced, as Go's JSON encoding of the runtime spec does)."""
    if kind == "Secret":
        return {k: v.decode(errors="replace") for k, v in secret_data(body).items()}
    return {str(k): str(v) for k, v in (body.get("data") or {}).items()}


def immutable_problems(
    kind: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(field path, message) for each change the API server refuses on an update of `old`
    (both normalized): ValidateConfigMapUpdate / ValidateSecretUpdate."""
    problems: list[tuple[str, str]] = []
    if kind == "Secret" and old.get("type", "Opaque") != new.get("type", "Opaque"):
        problems.append(("type", "field is immutable"))
    if not old.get("immutable"):
        return problems
    if not new.get("immutable"):
        problems.append(("immutable", IMMUTABLE))
    groups = ("data",) if kind == "Secret" else ("data", "binaryData")
    for group in groups:
        if (old.get(group) or {}) != (new.get(group) or {}):
            problems.append((group, IMMUTABLE))
    return problems
