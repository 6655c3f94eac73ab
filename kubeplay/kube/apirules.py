"""API server rules: what kube-apiserver refuses in code that the OpenAPI schema lets through.

`validate.check_rules` calls `check_object` for an object the strict schema accepted, and the
schema validator checks the `int32`/`int64` formats with `format_checker()`. Each rule follows
k8s.io/kubernetes pkg/apis/core/validation/validation.go (and apimachinery's
pkg/api/validation, pkg/util/validation), with its words where they help:

- integers fit the Go type the field decodes into (`format: int32` / `int64`: replicas beyond
  2^31 is a decode error there, not a 20 s play here);
- a null list item (the API server decodes it as an empty value, which then misses required
  fields, or becomes an empty string kubeplay would pass on as an argument);
- metadata: label keys and values, annotation keys, annotations at most 256 KiB in all
  (ValidateLabels, ValidateAnnotations, TotalAnnotationSizeLimitB);
- pod spec: activeDeadlineSeconds 1..2^31-1, hostname and subdomain DNS-1123 labels,
  hostAliases (an IP, hostnames DNS-1123 subdomains), dnsConfig (at most 3 nameservers, IPs;
  at most 32 search domains, 2048 characters; option names), dnsPolicy None needs a
  nameserver, nodeSelector labels, user and group ids 0..2^31-1 (IsValidUserID,
  IsValidGroupID) in the pod's and each container's securityContext;
- containers: env names (any printable ASCII but '=', as RelaxedEnvironmentVariableValidation
  since 1.34), envFrom prefixes, resourceFieldRef divisors (env and downwardAPI volumes),
  resource quantities (the Quantity syntax, not negative, request at most the limit; and at
  most 2^63-1 units, which the kubelet's int64 cannot go beyond), a PVC's requests and
  limits (`volumes` checks an emptyDir's sizeLimit with `quantity_problem`).

Pure: no I/O. Problems are (field path, message) pairs, in input order.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT_FORMATS = {"int32": (INT32_MIN, INT32_MAX), "int64": (INT64_MIN, INT64_MAX)}

# apimachinery validation.TotalAnnotationSizeLimitB
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
# validation.go MaxDNSNameservers, MaxDNSSearchPaths, MaxDNSSearchListChars
MAX_DNS_NAMESERVERS = 3
MAX_DNS_SEARCH_PATHS = 32
MAX_DNS_SEARCH_LIST_CHARS = 2048
DNS_POLICY_NONE = "None"

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL = re.compile(_LABEL)
_DNS1123_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_QUALIFIED_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_ENV_NAME = re.compile(r"[ -<>-~]+")  # printable ASCII (0x20-0x7e) without '=' (0x3d)
# resource.Quantity: a signed decimal, then a binary or decimal SI suffix or an exponent.
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](?P<exp>[+-]?[0-9]+))?"
)
_SUFFIXES = {
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
QUANTITY_TEXT = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
# The exponent a Quantity's parser takes (strconv.ParseInt(..., 10, 32)).
_MAX_EXPONENT = 10**6

Problems = Iterator[tuple[str, str]]


# A kind (`Deployment`) and an apiVersion (`v1`, `apps/v1`) as the API server's paths take them:
# anything else names no schema (and must not become part of a file name).
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}")
_API_VERSION = re.compile(rf"({_LABEL}(\.{_LABEL})*/)?[a-z0-9]{{1,63}}")


def plausible_type(kind: str, api_version: str) -> bool:
    """Whether `kind` and `apiVersion` could name an API type at all."""
    return bool(_KIND.fullmatch(kind) and _API_VERSION.fullmatch(api_version))


# --- integers ---------------------------------------------------------------------------------


def fits_format(value: Any, fmt: str) -> bool:
    """Whether a JSON number fits the Go integer type an OpenAPI `format` names (other formats
    and non-numbers: True; the schema's `type` judges those)."""
    bounds = INT_FORMATS.get(fmt)
    if bounds is None or isinstance(value, bool) or not isinstance(value, int | float):
        return True
    return bounds[0] <= value <= bounds[1]


def format_message(fmt: str, value: Any) -> str:
    """The error for a number outside its format's range."""
    low, high = INT_FORMATS[fmt]
    bits = fmt.removeprefix("int")
    return f"Invalid value: {value}: must be a {bits}-bit integer, from {low} to {high}"


@functools.cache
def format_checker() -> Any:
    """A jsonschema FormatChecker for the int32 and int64 formats of the Kubernetes schema."""
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())
    for fmt in INT_FORMATS:
        checker.checks(fmt)(functools.partial(fits_format, fmt=fmt))
    return checker


# --- null items -------------------------------------------------------------------------------


def null_items(body: Any, path: str = "") -> Problems:
    """Every null inside a list, anywhere in the object (walked without recursion)."""
    stack: list[tuple[Any, str]] = [(body, path)]
    while stack:
        value, at = stack.pop()
        if isinstance(value, dict):
            stack.extend((v, f"{at}.{k}" if at else str(k)) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            for i, item in reversed(list(enumerate(value))):
                if item is None:
                    yield f"{at}[{i}]", "Invalid value: null: a list item must not be null"
                else:
                    stack.append((item, f"{at}[{i}]"))


# --- quantities -------------------------------------------------------------------------------


def parse_quantity(value: Any) -> Decimal | None:
    """A resource.Quantity ("100m", "1.5Gi", "1e3", 2) as a Decimal; None when invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        return number if number.is_finite() else None
    if not isinstance(value, str):
        return None
    match = _QUANTITY.fullmatch(value)
    if not match:
        return None
    try:
        number = Decimal(match["number"])
    except InvalidOperation:
        return None
    if match["suffix"]:
        return number * _SUFFIXES[match["suffix"]]
    if match["exp"]:
        exponent = int(match["exp"]) if len(match["exp"]) <= 8 else _MAX_EXPONENT + 1
        if abs(exponent) > _MAX_EXPONENT:
            return None
        return number.scaleb(exponent)
    return number


def quantity_problem(value: Any) -> str:
    """Why `value` is not a usable quantity ("" when it is): syntax, sign, size."""
    number = parse_quantity(value)
    if number is None:
        return f"Invalid value: {_shown(value)}: {QUANTITY_TEXT}"
    if number < 0:
        return f"Invalid value: {_shown(value)}: must be greater than or equal to 0"
    if number > INT64_MAX:
        return f"Invalid value: {_shown(value)}: must be at most {INT64_MAX}"
    return ""


def _check_resources(resources: Any, path: str) -> Problems:
    """ValidateResourceRequirements: valid quantities; a request not above its limit."""
    if not isinstance(resources, dict):
        return
    parsed: dict[str, dict[str, Decimal]] = {}
    for group in ("limits", "requests"):
        table = resources.get(group)
        if not isinstance(table, dict):
            continue
        for name, value in table.items():
            problem = quantity_problem(value)
            if problem:
                yield f"{path}.{group}.{name}", problem
            else:
                parsed.setdefault(group, {})[name] = parse_quantity(value) or Decimal(0)
    limits, requests = parsed.get("limits", {}), parsed.get("requests", {})
    for name, request in requests.items():
        limit = limits.get(name)
        if limit is not None and request > limit:
            yield (
                f"{path}.requests.{name}",
                f"Invalid value: {_shown(resources['requests'][name])}: must be less than or "
                f"equal to {name} limit of {_shown(resources['limits'][name])}",
            )


# --- metadata ---------------------------------------------------------------------------------


def qualified_name_problem(key: str) -> str:
    """IsQualifiedName: `[prefix/]name`, prefix a DNS-1123 subdomain, name 63 characters."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or "/" in prefix):
        return "a qualified name must consist of an optional DNS subdomain prefix and a name"
    if slash and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix)):
        return "prefix part must be a DNS-1123 subdomain (lowercase, at most 253 characters)"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _QUALIFIED_NAME_PART.fullmatch(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character"
        )
    return ""


def label_value_problem(value: str) -> str:
    """IsValidLabelValue: at most 63 characters, alphanumeric at both ends."""
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _LABEL_VALUE.fullmatch(value):
        return (
            "a valid label must be an empty string or consist of alphanumeric characters, "
            "'-', '_' or '.', and must start and end with an alphanumeric character"
        )
    return ""


def _check_labels(labels: Any, path: str) -> Problems:
    if not isinstance(labels, dict):
        return
    for key, value in labels.items():
        problem = qualified_name_problem(str(key))
        if problem:
            yield f"{path}.{key}", f"Invalid value: {_shown(key)}: {problem}"
        problem = label_value_problem(str(value)) if isinstance(value, str) else ""
        if problem:
            yield f"{path}.{key}", f"Invalid value: {_shown(value)}: {problem}"


def _check_annotations(annotations: Any, path: str) -> Problems:
    if not isinstance(annotations, dict):
        return
    size = 0
    for key, value in annotations.items():
        problem = qualified_name_problem(str(key).lower())
        if problem:
            yield f"{path}.{key}", f"Invalid value: {_shown(key)}: {problem}"
        size += len(str(key)) + len(str(value) if value is not None else "")
    if size > TOTAL_ANNOTATION_SIZE_LIMIT:
        yield path, f"Too long: must have at most {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"


def check_metadata(meta: Any, path: str) -> Problems:
    """ValidateObjectMeta's labels and annotations."""
    if not isinstance(meta, dict):
        return
    yield from _check_labels(meta.get("labels"), f"{path}.labels")
    yield from _check_annotations(meta.get("annotations"), f"{path}.annotations")


# --- pod spec ---------------------------------------------------------------------------------


def check_pod_spec(spec: Any, path: str) -> Problems:
    """The ValidatePodSpec rules listed in the module docstring."""
    if not isinstance(spec, dict):
        return
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int | float) and not 1 <= deadline <= INT32_MAX:
        yield (
            f"{path}.activeDeadlineSeconds",
            f"Invalid value: {deadline}: must be between 1 and {INT32_MAX}, inclusive",
        )
    for field in ("hostname", "subdomain"):
        value = spec.get(field)
        if isinstance(value, str) and value:
            yield from _dns_label(value, f"{path}.{field}")
    yield from _check_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    yield from _check_host_aliases(spec.get("hostAliases"), f"{path}.hostAliases")
    yield from _check_dns_config(spec, f"{path}.dnsConfig")
    yield from _check_ids(spec.get("securityContext"), f"{path}.securityContext", pod=True)
    yield from _check_resources(spec.get("resources"), f"{path}.resources")
    for i, volume in enumerate(spec.get("volumes") or ()):
        downward = volume.get("downwardAPI") if isinstance(volume, dict) else None
        for j, item in enumerate((downward or {}).get("items") or ()):
            if isinstance(item, dict):
                item_path = f"{path}.volumes[{i}].downwardAPI.items[{j}].resourceFieldRef"
                yield from _check_divisor(item.get("resourceFieldRef"), item_path)
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in enumerate(spec.get(group) or ()):
            if isinstance(container, dict):
                yield from _check_container(container, f"{path}.{group}[{i}]")


# validateContainerResourceDivisor: the divisors a resourceFieldRef may use (0 is "unset").
_CPU_DIVISORS = {Decimal("0.001"), Decimal(1)}
_MEMORY_DIVISORS = {
    Decimal(1),
    *(Decimal(10) ** (3 * i) for i in range(1, 7)),
    *(Decimal(2) ** (10 * i) for i in range(1, 7)),
}


def _check_divisor(ref: Any, path: str) -> Problems:
    if not isinstance(ref, dict) or ref.get("divisor") is None:
        return
    resource, divisor = str(ref.get("resource") or ""), ref["divisor"]
    problem = quantity_problem(divisor)
    if problem:
        yield f"{path}.divisor", problem
        return
    value = parse_quantity(divisor) or Decimal(0)
    if value == 0:
        return
    if resource.endswith(".cpu") and value not in _CPU_DIVISORS:
        yield (
            f"{path}.divisor",
            f"Invalid value: {_shown(resource)}: only divisor's values 1m and 1 are supported "
            "with the cpu resource",
        )
    elif resource.endswith((".memory", ".ephemeral-storage")) and value not in _MEMORY_DIVISORS:
        yield (
            f"{path}.divisor",
            f"Invalid value: {_shown(resource)}: only divisor's values 1, 1k, 1M, 1G, 1T, 1P, "
            "1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource",
        )


def _check_container(container: Mapping[str, Any], path: str) -> Problems:
    for i, env in enumerate(container.get("env") or ()):
        value_from = env.get("valueFrom") if isinstance(env, dict) else None
        if isinstance(value_from, dict):
            yield from _check_divisor(
                value_from.get("resourceFieldRef"), f"{path}.env[{i}].valueFrom.resourceFieldRef"
            )
        name = env.get("name") if isinstance(env, dict) else None
        if not name:
            yield f"{path}.env[{i}].name", "Required value"
        elif isinstance(name, str) and not _ENV_NAME.fullmatch(name):
            yield f"{path}.env[{i}].name", f"Invalid value: {_shown(name)}: {_ENV_NAME_TEXT}"
    for i, env_from in enumerate(container.get("envFrom") or ()):
        prefix = env_from.get("prefix") if isinstance(env_from, dict) else None
        if isinstance(prefix, str) and prefix and not _ENV_NAME.fullmatch(prefix):
            yield (
                f"{path}.envFrom[{i}].prefix",
                f"Invalid value: {_shown(prefix)}: {_ENV_NAME_TEXT}",
            )
    yield from _check_resources(container.get("resources"), f"{path}.resources")
    yield from _check_ids(container.get("securityContext"), f"{path}.securityContext", pod=False)


_ENV_NAME_TEXT = (
    "a valid environment variable name must consist only of printable ASCII characters "
    "other than '='"
)


def _check_ids(sc: Any, path: str, *, pod: bool) -> Problems:
    """IsValidUserID / IsValidGroupID: 0 to 2147483647."""
    if not isinstance(sc, dict):
        return
    fields = ("runAsUser", "runAsGroup", "fsGroup") if pod else ("runAsUser", "runAsGroup")
    values = [(f"{path}.{f}", sc.get(f)) for f in fields]
    if pod:
        groups = sc.get("supplementalGroups") or ()
        values += [(f"{path}.supplementalGroups[{i}]", g) for i, g in enumerate(groups)]
    for at, value in values:
        if isinstance(value, int | float) and not 0 <= value <= INT32_MAX:
            yield at, f"Invalid value: {value}: must be between 0 and {INT32_MAX}, inclusive"


def _check_host_aliases(aliases: Any, path: str) -> Problems:
    """ValidateHostAliases: an IP each, and hostnames that are DNS-1123 subdomains."""
    for i, alias in enumerate(aliases or ()):
        if not isinstance(alias, dict):
            continue
        ip = alias.get("ip")
        if not ip:
            yield f"{path}[{i}].ip", "Required value"
        elif not _is_ip(ip):
            yield f"{path}[{i}].ip", f"Invalid value: {_shown(ip)}: must be a valid IP address"
        for j, hostname in enumerate(alias.get("hostnames") or ()):
            yield from _dns_subdomain(str(hostname), f"{path}[{i}].hostnames[{j}]")


def _check_dns_config(spec: Mapping[str, Any], path: str) -> Problems:
    """validatePodDNSConfig."""
    config = spec.get("dnsConfig")
    config = config if isinstance(config, dict) else {}
    servers = config.get("nameservers") or ()
    if spec.get("dnsPolicy") == DNS_POLICY_NONE and not servers:
        yield (
            f"{path}.nameservers",
            "Required value: must provide at least one DNS nameserver when DNSPolicy is None",
        )
    if len(servers) > MAX_DNS_NAMESERVERS:
        yield (
            f"{path}.nameservers",
            f"Invalid value: must not have more than {MAX_DNS_NAMESERVERS} nameservers",
        )
    for i, server in enumerate(servers):
        if not _is_ip(server):
            yield (
                f"{path}.nameservers[{i}]",
                f"Invalid value: {_shown(server)}: must be a valid IP address",
            )
    searches = [str(s) for s in config.get("searches") or ()]
    if len(searches) > MAX_DNS_SEARCH_PATHS:
        yield (
            f"{path}.searches",
            f"Invalid value: must not have more than {MAX_DNS_SEARCH_PATHS} search paths",
        )
    if len(" ".join(searches)) > MAX_DNS_SEARCH_LIST_CHARS:
        yield (
            f"{path}.searches",
            f"Invalid value: must not have more than {MAX_DNS_SEARCH_LIST_CHARS} characters "
            "(including spaces) in the search list",
        )
    for i, search in enumerate(searches):
        yield from _dns_subdomain(search.removesuffix("."), f"{path}.searches[{i}]")
    for i, option in enumerate(config.get("options") or ()):
        if isinstance(option, dict) and not option.get("name"):
            yield f"{path}.options[{i}].name", "Required value: must not be empty"


def _is_ip(value: Any) -> bool:
    if not isinstance(value, str) or "%" in value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _dns_label(value: str, path: str) -> Problems:
    if len(value) > 63 or not _DNS1123_LABEL.fullmatch(value):
        yield (
            path,
            f"Invalid value: {_shown(value)}: a lowercase RFC 1123 label must consist of at "
            "most 63 lower case alphanumeric characters or '-', and must start and end with "
            "an alphanumeric character",
        )


def _dns_subdomain(value: str, path: str) -> Problems:
    if len(value) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(value):
        yield (
            path,
            f"Invalid value: {_shown(value)}: a lowercase RFC 1123 subdomain must consist of "
            "at most 253 lower case alphanumeric characters, '-' or '.', and must start and "
            "end with an alphanumeric character",
        )


# --- objects ----------------------------------------------------------------------------------


def check_object(
    kind: str, body: Mapping[str, Any], *, pod_spec_path: tuple[str, ...] | None
) -> list[tuple[str, str]]:
    """Problems of one object (its metadata; its pod spec or template; a PVC's resources).
    Call `null_items` first: these rules read list items as mappings."""
    problems = list(check_metadata(body.get("metadata"), "metadata"))
    if pod_spec_path is not None:
        if len(pod_spec_path) > 1:  # a template: its metadata too
            template_path = pod_spec_path[:-1]
            template = _dig(body, template_path)
            if isinstance(template, dict):
                prefix = ".".join(template_path)
                problems.extend(check_metadata(template.get("metadata"), f"{prefix}.metadata"))
        problems.extend(check_pod_spec(_dig(body, pod_spec_path), ".".join(pod_spec_path)))
    if kind == "PersistentVolumeClaim":
        spec = body.get("spec")
        if isinstance(spec, dict):
            problems.extend(_check_resources(spec.get("resources"), "spec.resources"))
    return problems


def _dig(body: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


def _shown(value: Any) -> str:
    """A value as errors quote it, cut to 60 characters (a 50 MB annotation is not echoed)."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
