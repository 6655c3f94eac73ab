"""Container environment from ConfigMaps, Secrets and the downward API, as the kubelet makes it.

A container whose env uses `valueFrom` or `envFrom` cannot be resolved when the pod is compiled:
the objects may change or appear later, and `status.podIP` is known only once the pod has an
address. `compile_pod` keeps an `EnvSource` in the plan; the engine calls `resolve` when it
creates the container, with the pod's facts, a lookup of the namespace's objects and the node's
capacity. Rules (kubelet makeEnvironmentVariables, pkg/kubelet/kubelet_pods.go):

- envFrom first, in order, each key prefixed; a key that is not a valid env var name
  (IsEnvVarName) is skipped and reported (event InvalidEnvironmentVariableNames). Then env in
  order: `value` with `$(VAR)` expanded from what is defined so far, or `valueFrom`.
- configMapKeyRef/configMapRef read a ConfigMap's `data` only; secretKeyRef/secretRef a
  Secret's decoded `data`. A missing object or key fails the container
  (CreateContainerConfigError, kubelet's messages), unless the reference is `optional`.
- fieldRef: metadata.name/namespace/uid, metadata.labels['k'], metadata.annotations['k'],
  spec.nodeName, spec.serviceAccountName, status.podIP(s), status.hostIP(s).
- resourceFieldRef: limits default to the node's capacity when unset; the value is divided by
  `divisor` (default 1) and rounded up (kubelet's ExtractContainerResourceValue).
- `$(VAR)` in command and args expands from this env. The image's Env, ENTRYPOINT and CMD are
  not the plan's: they are added when the container is created (`plan.pods.resolve_image`).
Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeplay.errors import KubeplayError
from kubeplay.plan import command as command_mod
from kubeplay.plan import configdata
from kubeplay.plan import resources as resources_mod

# IsEnvVarName (k8s.io/apimachinery validation).
ENV_VAR_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_SUBSCRIPT = re.compile(r"metadata\.(labels|annotations)\['(.*)'\]")

Lookup = Callable[[str, str], Mapping[str, Any] | None]  # (kind, name) -> stored body


class EnvConfigError(KubeplayError):
    """A required ConfigMap, Secret or key is missing: the container's
    CreateContainerConfigError, with the kubelet's message."""


@dataclass(frozen=True, slots=True)
class EnvSource:
    """What a container's env, command and args are made of, kept in the plan until creation."""

    env: tuple[dict[str, Any], ...] = ()
    env_from: tuple[dict[str, Any], ...] = ()
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class PodFacts:
    """The downward API's view of the pod at container creation."""

    name: str
    namespace: str
    uid: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    node_name: str = "localhost"
    service_account_name: str = "default"
    pod_ip: str = ""
    host_ip: str = ""


@dataclass(frozen=True, slots=True)
class ResolvedEnv:
    # The container's own env (envFrom, then env): what command, args and subPathExpr expand
    # from (kubelet's opts.Envs); the image's Env goes under it when the container is created.
    env: command_mod.Env
    command: tuple[str, ...] | None = None  # expanded; None: the image's ENTRYPOINT
    args: tuple[str, ...] | None = None  # expanded; None: the image's CMD
    warnings: tuple[str, ...] = ()  # InvalidEnvironmentVariableNames messages


def needs_resolving(spec: Mapping[str, Any]) -> bool:
    """True when a container's env depends on more than its manifest and image."""
    if spec.get("envFrom"):
        return True
    return any(e.get("valueFrom") is not None for e in spec.get("env") or ())


def source_from(spec: Mapping[str, Any]) -> EnvSource:
    command, args = spec.get("command"), spec.get("args")
    return EnvSource(
        env=tuple(dict(e) for e in spec.get("env") or ()),
        env_from=tuple(dict(e) for e in spec.get("envFrom") or ()),
        command=tuple(str(c) for c in command) if command is not None else None,
        args=tuple(str(a) for a in args) if args is not None else None,
    )


def source_from_dict(raw: Mapping[str, Any] | None) -> EnvSource | None:
    if raw is None:
        return None
    out = dict(raw)
    for key in ("env", "env_from"):
        out[key] = tuple(out.get(key) or ())
    for key in ("image_env", "image_entrypoint", "image_cmd"):  # plans stored with the image's part
        out.pop(key, None)
    for key in ("command", "args"):
        out[key] = tuple(out[key]) if out.get(key) is not None else None
    return EnvSource(**out)


def field_value(path: str, pod: PodFacts) -> str:
    """A fieldRef's value (kubelet podFieldSelectorRuntimeValue + ExtractFieldPathAsString)."""
    simple = {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "metadata.uid": pod.uid,
        "spec.nodeName": pod.node_name,
        "spec.serviceAccountName": pod.service_account_name,
        "status.podIP": pod.pod_ip,
        "status.podIPs": pod.pod_ip,
        "status.hostIP": pod.host_ip,
        "status.hostIPs": pod.host_ip,
    }
    if path in simple:
        return simple[path]
    match = _SUBSCRIPT.fullmatch(path)
    if match:
        table = pod.labels if match[1] == "labels" else pod.annotations
        return str(table.get(match[2], ""))
    raise EnvConfigError(f"unsupported fieldPath: {path}")


def resource_value(
    ref: Mapping[str, Any],
    *,
    resources: Mapping[str, Any],
    capacity: Mapping[str, Any],
) -> str:
    """A resourceFieldRef's value: `resources` is the container's manifest `resources`,
    `capacity` the node's (cpu, memory, ephemeral-storage quantities)."""
    resource = str(ref.get("resource") or "")
    group, _, name = resource.partition(".")
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    if group == "limits":
        raw = limits.get(name, capacity.get(name, 0))
    else:  # the API server defaults an unset request to the limit
        raw = requests.get(name, limits.get(name, 0))
    from decimal import Decimal  # here: `get pods` decodes plans and needs no quantity

    amount = resources_mod.quantity(raw)
    divisor = resources_mod.quantity(ref.get("divisor") or "1")
    if divisor == 0:
        divisor = Decimal(1)
    if name == "cpu":  # milli-values, as ExtractContainerResourceValue's convertResourceCPUToString
        milli = math.ceil(amount * 1000)
        return str(math.ceil(Decimal(milli) / math.ceil(divisor * 1000)))
    return str(math.ceil(Decimal(math.ceil(amount)) / math.ceil(divisor)))


def resolve(
    source: EnvSource,
    *,
    pod: PodFacts,
    lookup: Lookup,
    container: str,
    resources: Mapping[str, Mapping[str, Any]],
    capacity: Mapping[str, Any],
) -> ResolvedEnv:
    """The container's env and argv; EnvConfigError for a missing required reference.

    `lookup(kind, name)` finds a ConfigMap or Secret of the pod's namespace; `resources`
    maps container names of the pod to their manifest `resources`.
    """
    ns = pod.namespace
    defined: dict[str, str] = {}
    warnings: list[str] = []
    for item in source.env_from:
        prefix = str(item.get("prefix") or "")
        for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = item.get(field)
            if not ref:
                continue
            name = str(ref.get("name") or "")
            body = lookup(kind, name)
            if body is None:
                if ref.get("optional"):
                    continue
                raise EnvConfigError(f'{kind.lower()} "{name}" not found')
            invalid: list[str] = []
            for key, value in sorted(configdata.env_data(kind, body).items()):
                key = prefix + key
                if not ENV_VAR_NAME.fullmatch(key):
                    invalid.append(key)
                    continue
                defined[key] = value
            if invalid:
                warnings.append(
                    f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {kind.lower()} "
                    f"{ns}/{name} were skipped since they are considered invalid environment "
                    "variable names."
                )
    for item in source.env:
        name = str(item["name"])
        value_from = item.get("valueFrom")
        raw = item.get("value")
        if raw or value_from is None:
            defined[name] = command_mod.expand(str(raw or ""), defined.get)
            continue
        for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
            ref = value_from.get(field)
            if not ref:
                continue
            obj_name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
            optional = bool(ref.get("optional"))
            body = lookup(kind, obj_name)
            if body is None:
                if optional:
                    break
                raise EnvConfigError(f'{kind.lower()} "{obj_name}" not found')
            data = configdata.env_data(kind, body)
            if key not in data:
                if optional:
                    break
                raise EnvConfigError(f"couldn't find key {key} in {kind} {ns}/{obj_name}")
            defined[name] = data[key]
            break
        else:
            if value_from.get("fieldRef"):
                defined[name] = field_value(str(value_from["fieldRef"]["fieldPath"]), pod)
            elif value_from.get("resourceFieldRef"):
                ref = value_from["resourceFieldRef"]
                owner = str(ref.get("containerName") or container)
                defined[name] = resource_value(
                    ref, resources=resources.get(owner) or {}, capacity=capacity
                )
    env = tuple(defined.items())
    command, args = command_mod.expand_command(source.command, source.args, env=env)
    return ResolvedEnv(env=env, command=command, args=args, warnings=tuple(warnings))
