"""Validation: decide whether loaded objects may be played, and what kubeplay will ignore in them.

`services` calls `validate(objects)` after `loader.load`, before anything is created. Errors are
those the Kubernetes API server would reject: the strict upstream schema (kubernetes-validate)
plus the rules it checks in code (names, required images, unique containers, duplicate objects).
All errors are collected and raised as one ManifestError, first error first. Valid fields that
kubeplay does not implement come back as Warning data (tables in `fields`); nothing is printed.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from kubeplay.errors import ManifestError
from kubeplay.kube import (
    apirules,
    batch,
    fields,
    hostnames,
    kinds,
    probes,
    schemas,
    volumes,
    workloads,
)
from kubeplay.kube.loader import format_path
from kubeplay.kube.objects import KubeObject, Warning
from kubeplay.kube.versions import bundled_versions as bundled_versions
from kubeplay.kube.versions import resolve_schema_version as resolve_schema_version
from kubeplay.kube.versions import schema_root as schema_root

SUPPORTED_KINDS = frozenset(
    {
        "Pod",
        "ConfigMap",
        "Secret",
        "Namespace",
        "List",
        "PersistentVolumeClaim",
        "Deployment",
        "Service",
        "EndpointSlice",
        "Endpoints",
        "Job",
        "CronJob",
        "ReplicaSet",
    }
)
# Kinds run by their own controllers, with the tables of the fields they read.
SET_TABLES = {"StatefulSet": fields.STATEFULSET_TABLES, "DaemonSet": fields.DAEMONSET_TABLES}
CLUSTER_SCOPED_KINDS = kinds.OTHER_CLUSTER_SCOPED | {
    k.kind for k in kinds.BUILTIN if not k.namespaced
}

# Where each kind keeps its pod spec; the same container rules apply to all of them.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}

POD_RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("TCP", "UDP", "SCTP")


class NameRule(NamedTuple):
    """A Kubernetes name format: the pattern, the length limit and how errors describe it."""

    pattern: re.Pattern[str]
    limit: int
    text: str


_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL = NameRule(
    re.compile(_LABEL),
    63,
    "must be a DNS-1123 label (at most 63 lowercase letters, digits or '-', "
    "starting and ending with a letter or digit)",
)
DNS1123_SUBDOMAIN = NameRule(
    re.compile(rf"{_LABEL}(\.{_LABEL})*"),
    253,
    "must be a DNS-1123 subdomain (at most 253 lowercase letters, digits, '-' or '.', "
    "each part starting and ending with a letter or digit)",
)
DNS1035_LABEL = NameRule(
    re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?"),
    63,
    "must be a DNS-1035 label (at most 63 lowercase letters, digits or '-', "
    "starting with a letter and ending with a letter or digit)",
)


# ConfigMap and Secret keys (k8s.io/apimachinery validation.IsConfigMapKey).
CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
CONFIG_KEY_TEXT = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
    "(e.g. 'key.name', or 'KEY_NAME', or 'key-name')"
)
# The API server's limit on a ConfigMap's or Secret's total data (corev1 MaxSecretSize).
MAX_CONFIG_BYTES = 1024 * 1024


class Problem(NamedTuple):
    """One error found in one object: the field path (may be empty) and what is wrong."""

    path: str
    message: str


# (schema version, kind, apiVersion) -> the kind's compiled schema (`schemas.compile_schema`),
# or None when there is none; a state adapter caches them on disk.
CompiledSchemas = Callable[[str, str, str], Any]


def validate(
    objects: Sequence[KubeObject],
    *,
    kube_version: str = "",
    stored_crds: Sequence[KubeObject] = (),
    compiled: CompiledSchemas | None = None,
    merge: bool = True,
) -> list[Warning]:
    """Raise ManifestError listing every error; else return the warnings, in input order
    (with `merge=False`, one per object and field: the caller merges those it shows).
    Custom resources are checked against the CRDs of the input, then `stored_crds`.
    With `compiled`, an object its compiled schema accepts skips jsonschema (the same
    verdict, without importing it); any other object is checked by jsonschema as before."""
    version = resolve_schema_version(kube_version)
    errors: list[ManifestError] = []
    warnings: list[Warning] = []
    first_seen: dict[tuple[str, str, str], KubeObject] = {}
    custom = custom_kinds([*stored_crds, *objects])
    for obj in objects:
        fast = compiled(version, obj.kind, obj.api_version) if compiled is not None else None
        if fast is not None and schemas.is_valid(obj.body, fast):
            problems = []
        else:
            problems = check_kind_schema(obj, version=version, custom=custom)
        if not problems:
            problems = check_rules(obj)
        problems.extend(_check_duplicate(obj, first_seen))
        errors.extend(_error(obj, problem) for problem in problems)
        if not problems:
            warnings.extend(collect_warnings(obj))
    if errors:
        first = errors[0]
        raise ManifestError(
            first.message + "".join("\n" + e.render() for e in errors[1:]),
            source=first.source,
            doc_index=first.doc_index,
            kind=first.kind,
            name=first.name,
            path=first.path,
            line=first.line,
        )
    return merge_warnings(warnings) if merge else warnings


def merge_warnings(warnings: Sequence[Warning]) -> list[Warning]:
    """One warning per field and message per play, at its first place: the same field set in
    several pods, in a Deployment's template, or in several containers (`spec.containers[*]`
    and `spec.template.spec.containers[*]` are one field) adds the object to `also`."""
    first: dict[tuple[str, str], int] = {}
    merged: list[Warning] = []
    others: list[list[str]] = []
    for warning in warnings:
        key = (_field_of(warning), warning.message)
        at = first.get(key)
        if at is None:
            first[key] = len(merged)
            merged.append(warning)
            others.append([])
            continue
        who = f"{warning.kind} {warning.name}"
        if who != f"{merged[at].kind} {merged[at].name}" and who not in others[at]:
            others[at].append(who)
    return [
        dataclasses.replace(w, also=tuple(also)) if also else w
        for w, also in zip(merged, others, strict=True)
    ]


def _field_of(warning: Warning) -> str:
    """The field a warning is about: list indices as `[*]`, a workload's pod template as a
    Pod's spec (`spec.template.spec.nodeSelector` -> `spec.nodeSelector`)."""
    path = warning.path
    if warning.kind in (*workloads.KINDS, "ReplicaSet") and path.startswith("spec.template."):
        path = path.removeprefix("spec.template.")
    return _INDEX.sub("[*]", path)


_INDEX = re.compile(r"\[\d+\]")


@functools.cache
def _validator(version: str, kind: str, api_version: str) -> Any:
    """A strict schema validator per (version, kind, apiVersion), built once per process.

    Uses kubernetes-validate's bundled strict schemas as its own `validate()` does, but keeps
    the compiled validator: `validate()` re-reads the 1.8 MB definitions file on every call
    (~15 ms an object, most of a 50-pod play's validation time). None: no such kind.
    """
    import jsonschema
    from kubernetes_validate import utils
    from referencing import Registry, Resource

    schema_dir = f"kubernetes-json-schema/v{version}-local-strict"
    try:
        schema = utils.schema_contents(
            f"{schema_dir}/{schemas.schema_filename(kind, api_version)}", version
        )
    except FileNotFoundError:
        return None
    definitions = _definitions(version)
    registry: Any = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(definitions) @ registry
    return jsonschema.validators.Draft202012Validator(
        schema, registry=registry, format_checker=apirules.format_checker()
    )


@functools.cache
def _definitions(version: str) -> Any:
    """The 1.8 MB definitions every kind's schema refers to, read once per version."""
    from kubernetes_validate import utils

    path = f"kubernetes-json-schema/v{version}-local-strict/_definitions.json"
    return utils.schema_contents(path, version)


def check_schema(obj: KubeObject, *, version: str) -> list[Problem]:
    """Problems the strict Kubernetes OpenAPI schema finds (at most the schema's best match)."""
    import jsonschema

    unsupported = Problem("", f"unsupported kind {obj.kind} for apiVersion {obj.api_version}")
    if not apirules.plausible_type(obj.kind, obj.api_version):
        return [unsupported]
    validator = _validator(version, obj.kind, obj.api_version)
    if validator is None:
        return [unsupported]
    try:
        validator.validate(obj.body)
    except jsonschema.ValidationError as err:
        # A schema for a nested type (Affinity, Container...) matches the file name but rejects
        # apiVersion and kind themselves: that is not a kind either.
        if err.validator == "additionalProperties" and not err.path and "kind" in err.instance:
            known = err.schema.get("properties", {})
            if "kind" not in known:
                return [unsupported]
        return describe_schema_error(err)
    return []


def describe_schema_error(err: Any) -> list[Problem]:
    """Short problems from a jsonschema ValidationError: a field path and no schema dump."""
    parts: list[str | int] = list(err.path)
    instance = err.instance
    if err.validator == "additionalProperties" and isinstance(instance, dict):
        known = err.schema.get("properties", {})
        return [
            Problem(format_path([*parts, k]), "unknown field") for k in instance if k not in known
        ]
    if err.validator == "required" and isinstance(instance, dict):
        missing = [k for k in err.validator_value if k not in instance]
        return [Problem(format_path([*parts, k]), "required") for k in missing]
    path = format_path(parts)
    if err.validator == "type":
        return [Problem(path, f"must be {_expected(err.validator_value)}, got {_got(instance)}")]
    if err.validator in ("oneOf", "anyOf"):
        types: list[Any] = [s.get("type") for s in err.validator_value if isinstance(s, dict)]
        if types and all(types):
            flat = [t for ts in types for t in ([ts] if isinstance(ts, str) else ts)]
            return [Problem(path, f"must be {_expected(flat)}, got {_got(instance)}")]
    if err.validator == "format" and err.validator_value in apirules.INT_FORMATS:
        return [Problem(path, apirules.format_message(err.validator_value, instance))]
    if err.validator == "enum":
        allowed = ", ".join(str(v) for v in err.validator_value if v is not None)
        return [Problem(path, f"must be one of {allowed}, got {_got(instance)}")]
    message = str(err.message)
    return [Problem(path, message if len(message) <= 120 else message[:117] + "...")]


def _expected(types: str | Sequence[str]) -> str:
    names = [types] if isinstance(types, str) else [t for t in types if t != "null"]
    return " or ".join(dict.fromkeys(names)) or "null"


def _got(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    return "array" if isinstance(value, list) else "object"


def check_rules(obj: KubeObject) -> list[Problem]:
    """Rules the API server checks in code, for an object the schema accepted."""
    nulls = [Problem(path, message) for path, message in apirules.null_items(obj.body)]
    if nulls:  # the rules below read list items as mappings
        return nulls
    problems = _check_metadata(obj)
    if obj.kind in ("ConfigMap", "Secret"):
        problems.extend(_check_config_object(obj.kind, obj.body))
    spec_path = POD_SPEC_PATHS.get(obj.kind)
    if spec_path is not None:
        spec = _dig(obj.body, spec_path)
        if obj.kind == "StatefulSet":  # its containers mount the claim templates by name
            spec = workloads.statefulset_pod_spec(obj.body)
        problems.extend(_check_pod_spec(spec, ".".join(spec_path)))
    problems.extend(Problem(path, message) for path, message in workloads.check_rules(obj))
    problems.extend(
        Problem(path, message) for path, message in batch.check_rules(obj, zone_error=zone_error)
    )
    problems.extend(Problem(path, message) for path, message in hostnames.check_fqdn(obj))
    problems.extend(check_crd_schemas(obj))
    problems.extend(
        Problem(path, message)
        for path, message in apirules.check_object(obj.kind, obj.body, pod_spec_path=spec_path)
    )
    return problems


def zone_error(name: str) -> str:
    """Why `name` is no IANA time zone ("" when it loads), as Go's time.LoadLocation says
    it (a CronJob's spec.timeZone). Reads the tz database, as the schemas are read."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # a directory, too long
        return f"unknown time zone {name}"
    return ""


def check_names(objects: Sequence[KubeObject]) -> None:
    """Raise ManifestError for the first object whose name or namespace the API server would
    refuse (for `down`, which reads files without validating them all)."""
    for obj in objects:
        problems = _check_metadata(obj)
        if problems:
            raise _error(obj, problems[0])


def name_problem(name: str, *, rule: NameRule = DNS1123_SUBDOMAIN) -> str:
    """Why `name` is not a valid object name ("" when it is), for names given on the CLI."""
    problems = _check_name(name, "name", rule=rule)
    return problems[0].message if problems else ""


def _check_metadata(obj: KubeObject) -> list[Problem]:
    meta = obj.metadata
    name, namespace = meta.get("name"), meta.get("namespace")
    problems: list[Problem] = []
    if not name:  # generateName is not enough: like `kubectl apply`, play needs a name
        problems.append(Problem("metadata.name", "required"))
    else:
        problems.extend(check_object_name(obj.kind, obj.body, name))
    if namespace:
        problems.extend(_check_name(namespace, "metadata.namespace", rule=DNS1123_LABEL))
    return problems


def _check_name(value: Any, path: str, *, rule: NameRule) -> list[Problem]:
    if isinstance(value, str) and len(value) <= rule.limit and rule.pattern.fullmatch(value):
        return []
    what = path.rsplit(".", 1)[-1]
    return [Problem(path, f"invalid {what} {value!r}: {rule.text}")]


def config_key_problem(key: str) -> str:
    """Why `key` is not a valid ConfigMap/Secret key ("" when it is): IsConfigMapKey."""
    if len(key) > 253:
        return f"invalid key {key[:40]!r}...: must be no more than 253 characters"
    if not CONFIG_KEY.fullmatch(key):
        return f"invalid key {key!r}: {CONFIG_KEY_TEXT}"
    if key in (".", ".."):
        return f"invalid key {key!r}: must not be {key!r}"
    if key.startswith(".."):
        return f"invalid key {key!r}: must not start with '..'"
    return ""


def decode_base64(value: str) -> bytes | None:
    """Go's StdEncoding as the API server decodes `[]byte` fields (line breaks ignored);
    None when `value` is not valid base64."""
    import base64
    import binascii

    try:
        return base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)
    except (binascii.Error, ValueError):
        return None


def _check_config_object(kind: str, body: Mapping[str, Any]) -> list[Problem]:
    """ValidateConfigMap / ValidateSecret: valid keys, base64 bytes, no key twice, 1 MiB."""
    problems: list[Problem] = []
    size = 0
    encoded = ("data",) if kind == "Secret" else ("binaryData",)
    groups = ("data", "stringData") if kind == "Secret" else ("data", "binaryData")
    for group in groups:
        for key, value in (body.get(group) or {}).items():
            path = f"{group}.{key}"
            problem = config_key_problem(str(key))
            if problem:
                problems.append(Problem(path, problem))
            if group in encoded:
                raw = decode_base64(str(value))
                if raw is None:
                    problems.append(Problem(path, "invalid value: not valid base64"))
                    continue
                size += len(raw)
            else:
                size += len(str(value).encode())
    if kind == "ConfigMap":
        both = set(body.get("data") or {}) & set(body.get("binaryData") or {})
        problems.extend(
            Problem(f"data.{key}", f"duplicate of key {key!r} present in binaryData")
            for key in sorted(both)
        )
    if size > MAX_CONFIG_BYTES:
        problems.append(Problem(groups[0], f"too long: must have at most {MAX_CONFIG_BYTES} bytes"))
    return problems


def _check_pod_spec(spec: Any, prefix: str) -> list[Problem]:
    if not isinstance(spec, dict) or not spec.get("containers"):
        return [Problem(f"{prefix}.containers", "required: at least one container")]
    problems = list(
        _check_choice(spec, "restartPolicy", allowed=POD_RESTART_POLICIES, prefix=prefix)
    )
    problems.extend(Problem(*problem) for problem in probes.check_pod(spec, prefix))
    problems.extend(Problem(*p) for p in volumes.check_pod_volumes(spec, prefix))
    problems.extend(_check_pod_security(spec, prefix))
    first_path: dict[str, str] = {}
    for group in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(group) or ()):
            path = f"{prefix}.{group}[{i}]"
            problems.extend(_check_container(container, path, init=group == "initContainers"))
            problems.extend(
                Problem(*problem)
                for problem in probes.check_container(
                    container, path, init=group == "initContainers", pod_spec=spec
                )
            )
            name = container.get("name")
            if not isinstance(name, str) or not name:
                continue
            if name in first_path:
                message = f"duplicate container name {name!r} (also {first_path[name]})"
                problems.append(Problem(f"{path}.name", message))
            else:
                first_path[name] = f"{path}.name"
    return problems


def _check_container(container: Mapping[str, Any], path: str, *, init: bool) -> list[Problem]:
    problems: list[Problem] = []
    name = container.get("name")
    if isinstance(name, str) and name:
        problems.extend(_check_name(name, f"{path}.name", rule=DNS1123_LABEL))
    image = container.get("image")
    if not isinstance(image, str) or not image.strip():
        problems.append(Problem(f"{path}.image", "required"))
    problems.extend(_check_choice(container, "imagePullPolicy", allowed=PULL_POLICIES, prefix=path))
    if init:
        problems.extend(_check_choice(container, "restartPolicy", allowed=("Always",), prefix=path))
    problems.extend(_check_env(container, path))
    problems.extend(_check_container_security(container.get("securityContext") or {}, path))
    for i, port in enumerate(container.get("ports") or ()):
        port_path = f"{path}.ports[{i}]"
        problems.extend(_check_choice(port, "protocol", allowed=PROTOCOLS, prefix=port_path))
        for field in ("containerPort", "hostPort"):
            number = port.get(field)
            if (
                number is not None
                and not 1 <= number <= 65535
                and (field, number) != ("hostPort", 0)
            ):
                message = f"invalid port {number}: must be between 1 and 65535"
                problems.append(Problem(f"{port_path}.{field}", message))
    return problems


# Downward API fields an env var may read (ValidateEnv's validEnvDownwardAPIFieldPathExpressions).
ENV_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
_FIELD_SUBSCRIPT = re.compile(r"metadata\.(labels|annotations)\['[^']*'\]")
ENV_RESOURCES = (
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
)
_VALUE_SOURCES = ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")


def _check_env(container: Mapping[str, Any], path: str) -> Iterator[Problem]:
    """ValidateEnv / validateEnvVarValueFrom: one source per valueFrom, known field paths and
    resources, a valueFrom with a value is refused."""
    for i, env in enumerate(container.get("env") or ()):
        value_from = env.get("valueFrom")
        if value_from is None:
            continue
        env_path = f"{path}.env[{i}]"
        sources = [k for k in _VALUE_SOURCES if value_from.get(k) is not None]
        if env.get("value"):
            yield Problem(f"{env_path}.valueFrom", "may not be specified when `value` is not empty")
        if len(sources) != 1:
            yield Problem(
                f"{env_path}.valueFrom",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
                "`secretKeyRef`"
                if not sources
                else "may not have more than one field specified at a time",
            )
            continue
        field_ref = value_from.get("fieldRef")
        if field_ref is not None:
            fp = str(field_ref.get("fieldPath") or "")
            if fp not in ENV_FIELD_PATHS and not _FIELD_SUBSCRIPT.fullmatch(fp):
                allowed = ", ".join(f'"{p}"' for p in ENV_FIELD_PATHS)
                yield Problem(
                    f"{env_path}.valueFrom.fieldRef.fieldPath",
                    f"Unsupported value: {fp!r}: supported values: {allowed}, "
                    "\"metadata.labels['<KEY>']\", \"metadata.annotations['<KEY>']\"",
                )
        res_ref = value_from.get("resourceFieldRef")
        if res_ref is not None and res_ref.get("resource") not in ENV_RESOURCES:
            yield Problem(
                f"{env_path}.valueFrom.resourceFieldRef.resource",
                f"Unsupported value: {res_ref.get('resource')!r}: supported values: "
                + ", ".join(ENV_RESOURCES),
            )
        for kind in ("configMapKeyRef", "secretKeyRef"):
            ref = value_from.get(kind)
            if ref is not None and config_key_problem(str(ref.get("key") or "")):
                yield Problem(
                    f"{env_path}.valueFrom.{kind}.key", config_key_problem(str(ref.get("key")))
                )
    for i, env_from in enumerate(container.get("envFrom") or ()):
        refs = [k for k in ("configMapRef", "secretRef") if env_from.get(k) is not None]
        if len(refs) != 1:
            yield Problem(
                f"{path}.envFrom[{i}]",
                "must specify one of: `configMapRef` or `secretRef`"
                if not refs
                else "may not have more than one field specified at a time",
            )


def _check_seccomp(profile: Mapping[str, Any] | None, path: str) -> Iterator[Problem]:
    if not profile:
        return
    kind, local = profile.get("type"), profile.get("localhostProfile")
    if kind == "Localhost" and not local:
        yield Problem(
            f"{path}.localhostProfile", "Required value: must be set when type is Localhost"
        )
    elif kind != "Localhost" and local:
        yield Problem(
            f"{path}.localhostProfile", "Invalid value: can only be set when type is Localhost"
        )
    elif local and (str(local).startswith("/") or ".." in str(local).split("/")):
        yield Problem(
            f"{path}.localhostProfile",
            f"Invalid value: {local!r}: must be a relative path without '..'",
        )


def _check_container_security(sc: Mapping[str, Any], path: str) -> Iterator[Problem]:
    sc_path = f"{path}.securityContext"
    yield from _check_seccomp(sc.get("seccompProfile"), f"{sc_path}.seccompProfile")
    caps = [
        str(c).upper().removeprefix("CAP_") for c in (sc.get("capabilities") or {}).get("add") or ()
    ]
    if sc.get("allowPrivilegeEscalation") is False:
        if sc.get("privileged"):
            yield Problem(
                f"{sc_path}",
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            )
        if "SYS_ADMIN" in caps:
            yield Problem(
                f"{sc_path}",
                "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` "
                "CAP_SYS_ADMIN",
            )
    yield from _check_choice(sc, "procMount", allowed=("Default", "Unmasked"), prefix=sc_path)


_SYSCTL_NAME = re.compile(r"([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?")


def _check_pod_security(spec: Mapping[str, Any], prefix: str) -> Iterator[Problem]:
    """Pod securityContext: seccomp profile shape, and sysctls a pod may set on one host: only
    those of its own IPC and network namespaces (kubelet's sysctl admission), never with the
    host's namespace (hostIPC/hostNetwork)."""
    sc = spec.get("securityContext") or {}
    sc_path = f"{prefix}.securityContext"
    yield from _check_seccomp(sc.get("seccompProfile"), f"{sc_path}.seccompProfile")
    seen: set[str] = set()
    for i, sysctl in enumerate(sc.get("sysctls") or ()):
        name = str(sysctl.get("name") or "")
        path = f"{sc_path}.sysctls[{i}].name"
        if len(name) > 253 or not _SYSCTL_NAME.fullmatch(name):
            yield Problem(path, f"Invalid value: {name!r}: must be a valid sysctl name")
            continue
        if name in seen:
            yield Problem(path, f"Duplicate value: {name!r}")
        seen.add(name)
        dotted = name.replace("/", ".")
        if dotted in ("kernel.sem",) or dotted.startswith(
            ("kernel.shm", "kernel.msg", "fs.mqueue.")
        ):
            if spec.get("hostIPC"):
                yield Problem(path, f"sysctl {name!r} not allowed with hostIPC enabled")
        elif dotted.startswith("net."):
            if spec.get("hostNetwork"):
                yield Problem(path, f"sysctl {name!r} not allowed with hostNetwork enabled")
        else:
            yield Problem(
                path,
                f"sysctl {name!r} is not namespaced: a pod cannot set it without changing the "
                "whole host (SysctlForbidden)",
            )


def _check_choice(
    body: Mapping[str, Any], field: str, *, allowed: Sequence[str], prefix: str
) -> Iterator[Problem]:
    value = body.get(field)
    if value is not None and value not in allowed:
        choices = ", ".join(allowed)
        yield Problem(f"{prefix}.{field}", f"unsupported value {value!r}: must be one of {choices}")


def _check_duplicate(
    obj: KubeObject, first_seen: dict[tuple[str, str, str], KubeObject]
) -> list[Problem]:
    name = obj.metadata.get("name")
    if not isinstance(name, str) or not name:
        return []
    namespace = "" if obj.kind in CLUSTER_SCOPED_KINDS else obj.namespace
    key = (obj.kind, namespace, name)
    first = first_seen.setdefault(key, obj)
    if first is obj:
        return []
    shown = f"{namespace}/{name}" if namespace else name
    where = f"{first.source}:{first.line} (document {first.doc_index})"
    return [Problem("metadata.name", f"duplicate {obj.kind} {shown}: first defined in {where}")]


def collect_warnings(obj: KubeObject) -> list[Warning]:
    """Warnings for an object kubeplay will (partly) ignore: its kind, or each unused field."""
    if obj.kind in SET_TABLES:
        found = list(_unimplemented(obj.body, "", path="", tables=SET_TABLES[obj.kind]))
        template = (obj.body.get("spec") or {}).get("template") or {}
        found += _unimplemented(template, "", path="spec.template")
        return [_warning(obj, path, message) for path, message in found]
    if obj.kind not in SUPPORTED_KINDS:
        return [_warning(obj, "kind", kind_warning(obj))]
    if obj.kind in ("Job", "CronJob"):
        spec = obj.body.get("spec") or {}
        found = _cronjob_zone_hint(obj) if obj.kind == "CronJob" else []
        prefix = "spec"
        if obj.kind == "CronJob":
            spec = (spec.get("jobTemplate") or {}).get("spec") or {}
            prefix = "spec.jobTemplate.spec"
        for name, message in JOB_FIELDS_IGNORED.items():
            if spec.get(name) is not None:
                found.append((f"{prefix}.{name}", message))
        template = spec.get("template") or {}
        found += _unimplemented(template, "", path=f"{prefix}.template")
        return [_warning(obj, path, message) for path, message in found]
    if obj.kind in workloads.KINDS or obj.kind == "ReplicaSet":
        found = list(_unimplemented(obj.body, "", path="", tables=fields.WORKLOAD_TABLES))
        template = (obj.body.get("spec") or {}).get("template") or {}
        found += _unimplemented(template, "", path="spec.template")
        return [_warning(obj, path, message) for path, message in found]
    if obj.kind == "Service":
        return [_warning(obj, path, message) for path, message in _service_gaps(obj.body)]
    if obj.kind != "Pod":
        return []
    return [_warning(obj, path, message) for path, message in _unimplemented(obj.body, "", path="")]


def _service_gaps(body: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(path, message) for what of a Service kubeplay does not carry out yet."""
    spec = body.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    if kind == "LoadBalancer":
        yield (
            "spec.type",
            (
                "no load balancer on a single host: served as a NodePort on the host's addresses, "
                "127.0.0.1 as its ingress IP"
            ),
        )
    elif kind == "ExternalName" and not str(spec.get("externalName") or "").rstrip(".").endswith(
        ".cluster.local"
    ):
        yield (
            "spec.externalName",
            (
                "only a name under cluster.local is served as a CNAME (dnsmasq answers CNAMEs to "
                "its own names): this one is not served"
            ),
        )
    for name in ("externalIPs", "loadBalancerIP", "loadBalancerSourceRanges"):
        if spec.get(name):
            yield f"spec.{name}", "no effect on a single host, ignored"


# Job fields the Job controller (engine.controllers.jobs) stores but does not act on.
JOB_FIELDS_IGNORED = {
    "backoffLimitPerIndex": "per-index back-off limits not supported yet, ignored",
    "maxFailedIndexes": "per-index back-off limits not supported yet, ignored",
    "successPolicy": "success policies not supported yet: all completions are needed",
    "managedBy": "the built-in Job controller always runs it",
}


def _cronjob_zone_hint(obj: KubeObject) -> list[tuple[str, str]]:
    """A CronJob without timeZone runs its schedule in UTC (a cluster's controller manager's
    zone); say so when this host's zone is another, where the host's clock would mislead."""
    import time

    if (obj.body.get("spec") or {}).get("timeZone") is not None:
        return []
    offset = time.localtime().tm_gmtoff
    if not offset:
        return []
    return [
        (
            "spec.timeZone",
            f"unset: the schedule runs in UTC, as in a cluster (this host is UTC{offset / 3600:+g}"
            "); set timeZone to use another zone",
        )
    ]


def _unimplemented(
    body: Mapping[str, Any], pattern: str, *, path: str, tables: fields.Tables | None = None
) -> Iterator[tuple[str, str]]:
    """(path, message) for each set field the `fields` tables (a Pod's unless `tables` says
    otherwise) do not mark implemented."""
    tables = tables or fields.Tables(fields.IMPLEMENTED, fields.MESSAGES, fields.PARENTS)
    for key, value in body.items():
        if value is None or value == {} or value == []:
            continue  # unset, as Kubernetes reads it
        child_pattern = f"{pattern}.{key}" if pattern else str(key)
        child_path = f"{path}.{key}" if path else str(key)
        if child_pattern in tables.messages:
            yield child_path, tables.messages[child_pattern]
        elif child_pattern not in tables.implemented:
            yield child_path, fields.NOT_SUPPORTED
        elif child_pattern in tables.parents:
            if isinstance(value, dict):
                yield from _unimplemented(value, child_pattern, path=child_path, tables=tables)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict) and f"{child_pattern}[*]" in tables.parents:
                        yield from _unimplemented(
                            item, f"{child_pattern}[*]", path=f"{child_path}[{i}]", tables=tables
                        )


def _warning(obj: KubeObject, path: str, message: str) -> Warning:
    return Warning(
        source=obj.source,
        doc_index=obj.doc_index,
        kind=obj.kind,
        name=obj.name,
        path=path,
        message=message,
    )


def _error(obj: KubeObject, problem: Problem) -> ManifestError:
    return ManifestError(
        problem.message,
        source=obj.source,
        doc_index=obj.doc_index,
        kind=obj.kind,
        name=obj.name,
        path=problem.path,
        line=obj.line_of(problem.path or "kind"),
    )


def _dig(body: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = body
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


# --- every kind: names, custom resources, what kubeplay does not do with a kind ----------------

PATH_SEGMENT_NAME = NameRule(
    re.compile(r"(?!\.\.?$)[^/%]+"),
    253,
    "must be a path segment name (not '.' or '..', and without '/' or '%')",
)
# RBAC objects are named by path segment rules (`system:kube-scheduler`), as
# rbac/validation.ValidateRBACName = path.IsValidPathSegmentName; Namespaces are DNS-1123
# labels, Services DNS-1035 labels; every other kind (custom resources too) a DNS-1123
# subdomain.
NAME_RULES: dict[str, NameRule] = {
    "Role": PATH_SEGMENT_NAME,
    "ClusterRole": PATH_SEGMENT_NAME,
    "RoleBinding": PATH_SEGMENT_NAME,
    "ClusterRoleBinding": PATH_SEGMENT_NAME,
    "Namespace": DNS1123_LABEL,
    "Service": DNS1035_LABEL,
}
# batch/validation: a CronJob's name leaves 11 characters for its Jobs' suffix.
CRONJOB_NAME_LIMIT = 52


def check_object_name(kind: str, body: Mapping[str, Any], name: str) -> list[Problem]:
    """metadata.name by the kind's own rule, as the API server's ValidateObjectMeta nameFn."""
    problems = _check_name(name, "metadata.name", rule=NAME_RULES.get(kind, DNS1123_SUBDOMAIN))
    if problems:
        return problems
    if kind == "CronJob" and len(name) > CRONJOB_NAME_LIMIT:
        return [Problem("metadata.name", f"must be no more than {CRONJOB_NAME_LIMIT} characters")]
    if kind == "CustomResourceDefinition":
        spec = body.get("spec") or {}
        plural = (spec.get("names") or {}).get("plural", "")
        if name != f"{plural}.{spec.get('group', '')}":
            return [Problem("metadata.name", 'must be spec.names.plural+"."+spec.group')]
    return []


def kind_warning(obj: KubeObject) -> str:
    """The one warning of a kind kubeplay stores but does not run: what a cluster would do."""
    info = kinds.info_of(obj.body)
    what = info.warning if info is not None and info.warning else kinds.CUSTOM_RESOURCE_WARNING
    return f"{obj.kind} is stored only: {what}"


@dataclasses.dataclass(frozen=True)
class CustomKind:
    """A kind a CustomResourceDefinition of the input serves, with each version's schema."""

    group: str
    kind: str
    namespaced: bool
    schemas: Mapping[str, Mapping[str, Any] | None]  # version -> openAPIV3Schema (None: any)


def custom_kinds(objects: Sequence[KubeObject]) -> dict[tuple[str, str], CustomKind]:
    """The kinds the input's CRDs define, by (group, kind)."""
    out: dict[tuple[str, str], CustomKind] = {}
    for obj in objects:
        if obj.kind != "CustomResourceDefinition" or not isinstance(obj.body.get("spec"), dict):
            continue
        spec = obj.body["spec"]
        names = spec.get("names") or {}
        schemas: dict[str, Mapping[str, Any] | None] = {}
        for version in spec.get("versions") or ():
            if isinstance(version, dict) and version.get("served", True):
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                schemas[str(version.get("name", ""))] = schema if isinstance(schema, dict) else None
        key = (str(spec.get("group", "")), str(names.get("kind", "")))
        out[key] = CustomKind(key[0], key[1], spec.get("scope") != "Cluster", schemas)
    return out


def check_kind_schema(
    obj: KubeObject, *, version: str, custom: Mapping[tuple[str, str], CustomKind]
) -> list[Problem]:
    """A custom resource against its CRD's schema; any other object against the bundled
    strict schema (`check_schema`)."""
    group, _, served = obj.api_version.rpartition("/")
    found = custom.get((group, obj.kind)) if group else None
    if found is None:
        return check_schema(obj, version=version)
    if served not in found.schemas:
        return [Problem("apiVersion", f"no matches for kind {obj.kind!r} in version {served!r}")]
    schema = found.schemas[served]
    if schema is None:
        return []
    return check_custom_resource(obj.body, schema)


def check_custom_resource(body: Mapping[str, Any], schema: Mapping[str, Any]) -> list[Problem]:
    """A custom resource against an openAPIV3Schema, strictly (unknown fields are errors unless
    x-kubernetes-preserve-unknown-fields), as the API server's strict field validation."""
    import jsonschema

    root = openapi_to_jsonschema(schema)
    properties = root.setdefault("properties", {})
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    properties["metadata"] = {"type": "object"}
    cls = jsonschema.validators.Draft202012Validator
    try:
        cls.check_schema(root)
    except jsonschema.exceptions.SchemaError as err:
        where = format_path(list(err.path))
        return [Problem("", f"its CustomResourceDefinition's openAPIV3Schema is invalid: {where}")]
    error = jsonschema.exceptions.best_match(cls(root).iter_errors(body))
    return [] if error is None else describe_schema_error(error)


_OPENAPI_ONLY = frozenset({"nullable", "description", "example", "externalDocs", "default"})


def openapi_to_jsonschema(node: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAPI v3 structural schema as JSON Schema: x-kubernetes-* read, nullable a null
    type, objects with `properties` closed unless they preserve unknown fields."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties") and isinstance(value, dict):
            out[key] = {name: openapi_to_jsonschema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = openapi_to_jsonschema(value)
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
            out[key] = [openapi_to_jsonschema(sub) for sub in value]
        elif key.startswith("x-kubernetes-") or key in _OPENAPI_ONLY:
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    closed = not node.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in node and closed and "additionalProperties" not in node:
        out["additionalProperties"] = False
    if node.get("nullable"):  # null passes the type and enum checks
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list):
            out["enum"] = [*out["enum"], None]
    return out


def check_crd_schemas(obj: KubeObject) -> list[Problem]:
    """A CustomResourceDefinition's openAPIV3Schemas must be schemas (the API server refuses a
    CRD whose schema is not structural; this checks what jsonschema can)."""
    if obj.kind != "CustomResourceDefinition":
        return []
    import jsonschema

    problems: list[Problem] = []
    for i, version in enumerate((obj.body.get("spec") or {}).get("versions") or ()):
        schema = ((version or {}).get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            continue
        try:
            jsonschema.validators.Draft202012Validator.check_schema(openapi_to_jsonschema(schema))
        except jsonschema.exceptions.SchemaError as err:
            path = format_path(["spec", "versions", i, "schema", "openAPIV3Schema", *err.path])
            problems.append(Problem(path, f"not a valid schema: {err.message}"))
    return problems
