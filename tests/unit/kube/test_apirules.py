"""The API server's rules in code (pkg/apis/core/validation), one case per rule: what the schema
lets through and kube-apiserver refuses. Each error names the field, as `kubectl apply` would."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from typing import Any

import pytest

from kubeplay.errors import ManifestError
from kubeplay.kube import apirules, loader, validate


def _pod(spec: str = "", *, meta: str = "", container: str = "") -> str:
    """A Pod: `meta` lines under metadata, `spec` lines under spec, `container` lines under
    its one container (each given at column 0)."""
    return (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n"
        + textwrap.indent(textwrap.dedent(meta), "  ")
        + "spec:\n"
        + textwrap.indent(textwrap.dedent(spec), "  ")
        + "  containers:\n  - name: app\n    image: busybox\n"
        + textwrap.indent(textwrap.dedent(container), "    ")
    )


def _deployment(spec: str) -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
        + textwrap.indent(textwrap.dedent(spec), "  ")
        + "  selector: {matchLabels: {app: web}}\n"
        "  template:\n    metadata: {labels: {app: web}}\n"
        "    spec: {containers: [{name: app, image: busybox}]}\n"
    )


def _errors(text: str) -> list[str]:
    """Each error line, without the file/document prefix of the first."""
    with pytest.raises(ManifestError) as caught:
        validate.validate(loader.load_text(text, source="p.yaml"))
    return [line.split("): ", 1)[1] for line in str(caught.value).splitlines()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _deployment("replicas: 3000000000\n"),
            "spec.replicas: Invalid value: 3000000000: must be a 32-bit integer, "
            "from -2147483648 to 2147483647",
            id="int32-replicas-beyond-range",
        ),
        pytest.param(
            _pod("terminationGracePeriodSeconds: 9223372036854775808\n"),
            "spec.terminationGracePeriodSeconds: Invalid value: 9223372036854775808: must be "
            "a 64-bit integer, from -9223372036854775808 to 9223372036854775807",
            id="int64-beyond-range",
        ),
        pytest.param(
            _pod(container="ports: [{containerPort: 1.0e+12}]\n"),
            "spec.containers[0].ports[0].containerPort: Invalid value: 1000000000000.0: must "
            "be a 32-bit integer, from -2147483648 to 2147483647",
            id="int32-whole-float",
        ),
        pytest.param(
            _pod(container="env: [null]\n"),
            "spec.containers[0].env[0]: Invalid value: null: a list item must not be null",
            id="null-list-item-env",
        ),
        pytest.param(
            _pod(container="args: [a, null]\n"),
            "spec.containers[0].args[1]: Invalid value: null: a list item must not be null",
            id="null-list-item-args",
        ),
        pytest.param(
            _pod(meta="annotations: {a: " + "x" * (256 * 1024) + "}\n"),
            "metadata.annotations: Too long: must have at most 262144 bytes",
            id="annotations-total-size-256KiB",
        ),
        pytest.param(
            _pod(meta="annotations: {'a/b/c': x}\n"),
            "metadata.annotations.a/b/c: Invalid value: 'a/b/c': a qualified name must "
            "consist of an optional DNS subdomain prefix and a name",
            id="annotation-key-qualified-name",
        ),
        pytest.param(
            _pod(meta="labels: {'app': 'a b'}\n"),
            "metadata.labels.app: Invalid value: 'a b': a valid label must be an empty string "
            "or consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character",
            id="label-value",
        ),
        pytest.param(
            _pod(meta="labels: {'Example.com/app': x}\n"),
            "metadata.labels.Example.com/app: Invalid value: 'Example.com/app': prefix part "
            "must be a DNS-1123 subdomain (lowercase, at most 253 characters)",
            id="label-key-prefix-dns-subdomain",
        ),
        pytest.param(
            _pod(meta="labels: {" + "k" * 64 + ": x}\n"),
            f"metadata.labels.{'k' * 64}: Invalid value: '{'k' * 56}...: name part must be no "
            "more than 63 characters",
            id="label-key-name-63",
        ),
        pytest.param(
            _deployment("").replace(
                "metadata: {labels: {app: web}}",
                "metadata: {labels: {app: web}, annotations: {'-x': y}}",
            ),
            "spec.template.metadata.annotations.-x: Invalid value: '-x': name part must "
            "consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character",
            id="template-metadata-annotations",
        ),
        pytest.param(
            _pod("nodeSelector: {'disk type': ssd}\n"),
            "spec.nodeSelector.disk type: Invalid value: 'disk type': name part must consist "
            "of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character",
            id="node-selector-labels",
        ),
        pytest.param(
            _pod("securityContext: {runAsUser: -1}\n"),
            "spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and "
            "2147483647, inclusive",
            id="run-as-user-negative",
        ),
        pytest.param(
            _pod(container="securityContext: {runAsUser: 4294967296}\n"),
            "spec.containers[0].securityContext.runAsUser: Invalid value: 4294967296: must be "
            "between 0 and 2147483647, inclusive",
            id="run-as-user-huge-container",
        ),
        pytest.param(
            _pod("securityContext: {runAsGroup: 2147483648}\n"),
            "spec.securityContext.runAsGroup: Invalid value: 2147483648: must be between 0 "
            "and 2147483647, inclusive",
            id="run-as-group-range",
        ),
        pytest.param(
            _pod("securityContext: {fsGroup: -5}\n"),
            "spec.securityContext.fsGroup: Invalid value: -5: must be between 0 and "
            "2147483647, inclusive",
            id="fs-group-range",
        ),
        pytest.param(
            _pod("securityContext: {supplementalGroups: [1, -1]}\n"),
            "spec.securityContext.supplementalGroups[1]: Invalid value: -1: must be between "
            "0 and 2147483647, inclusive",
            id="supplemental-groups-range",
        ),
        pytest.param(
            _pod(container='resources: {limits: {cpu: "-1"}}\n'),
            "spec.containers[0].resources.limits.cpu: Invalid value: '-1': must be greater "
            "than or equal to 0",
            id="quantity-negative",
        ),
        pytest.param(
            _pod(container="resources: {limits: {memory: x}}\n"),
            "spec.containers[0].resources.limits.memory: Invalid value: 'x': quantities must "
            "match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            id="quantity-syntax",
        ),
        pytest.param(
            _pod(container="resources: {limits: {memory: 1e30}}\n"),
            "spec.containers[0].resources.limits.memory: Invalid value: '1e30': must be at "
            "most 9223372036854775807",
            id="quantity-beyond-int64",
        ),
        pytest.param(
            _pod(container="resources: {limits: {memory: 1Gi}, requests: {memory: 2Gi}}\n"),
            "spec.containers[0].resources.requests.memory: Invalid value: '2Gi': must be less "
            "than or equal to memory limit of '1Gi'",
            id="quantity-request-above-limit",
        ),
        pytest.param(
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: c}\n"
            "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: -1Gi}}}\n",
            "spec.resources.requests.storage: Invalid value: '-1Gi': must be greater than or "
            "equal to 0",
            id="pvc-quantity-negative",
        ),
        pytest.param(
            _pod("volumes: [{name: v, emptyDir: {sizeLimit: .inf}}]\n"),
            "spec.volumes[0].emptyDir.sizeLimit: Invalid value: inf: quantities must match "
            "the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            id="empty-dir-size-limit-quantity",
        ),
        pytest.param(
            _pod('hostAliases: [{ip: 10.0.0.1, hostnames: ["a\\nb"]}]\n'),
            "spec.hostAliases[0].hostnames[0]: Invalid value: 'a\\nb': a lowercase RFC 1123 "
            "subdomain must consist of at most 253 lower case alphanumeric characters, '-' or "
            "'.', and must start and end with an alphanumeric character",
            id="host-aliases-hostname-dns-subdomain",
        ),
        pytest.param(
            _pod("hostAliases: [{ip: 10.0.0.300, hostnames: [a]}]\n"),
            "spec.hostAliases[0].ip: Invalid value: '10.0.0.300': must be a valid IP address",
            id="host-aliases-ip",
        ),
        pytest.param(
            _pod("dnsConfig: {nameservers: [dns.example.com]}\n"),
            "spec.dnsConfig.nameservers[0]: Invalid value: 'dns.example.com': must be a valid "
            "IP address",
            id="dns-config-nameserver-is-an-ip",
        ),
        pytest.param(
            _pod("dnsConfig: {nameservers: [1.1.1.1, 1.0.0.1, 8.8.8.8, 8.8.4.4]}\n"),
            "spec.dnsConfig.nameservers: Invalid value: must not have more than 3 nameservers",
            id="dns-config-at-most-3-nameservers",
        ),
        pytest.param(
            _pod("dnsPolicy: None\n"),
            "spec.dnsConfig.nameservers: Required value: must provide at least one DNS "
            "nameserver when DNSPolicy is None",
            id="dns-policy-none-needs-nameserver",
        ),
        pytest.param(
            _pod(
                "dnsConfig: {searches: [" + ", ".join(f"s{i}.example" for i in range(33)) + "]}\n"
            ),
            "spec.dnsConfig.searches: Invalid value: must not have more than 32 search paths",
            id="dns-config-at-most-32-searches",
        ),
        pytest.param(
            _pod("dnsConfig: {searches: [Bad_Domain]}\n"),
            "spec.dnsConfig.searches[0]: Invalid value: 'Bad_Domain': a lowercase RFC 1123 "
            "subdomain must consist of at most 253 lower case alphanumeric characters, '-' or "
            "'.', and must start and end with an alphanumeric character",
            id="dns-config-search-dns-subdomain",
        ),
        pytest.param(
            _pod("dnsConfig: {options: [{value: '2'}]}\n"),
            "spec.dnsConfig.options[0].name: Required value: must not be empty",
            id="dns-config-option-name-required",
        ),
        pytest.param(
            _pod("hostname: " + "h" * 100 + "\n"),
            f"spec.hostname: Invalid value: '{'h' * 56}...: a lowercase RFC 1123 label must "
            "consist of at most 63 lower case alphanumeric characters or '-', and must start "
            "and end with an alphanumeric character",
            id="hostname-dns-label",
        ),
        pytest.param(
            _pod("subdomain: a.b\n"),
            "spec.subdomain: Invalid value: 'a.b': a lowercase RFC 1123 label must consist of "
            "at most 63 lower case alphanumeric characters or '-', and must start and end "
            "with an alphanumeric character",
            id="subdomain-dns-label",
        ),
        pytest.param(
            _pod("activeDeadlineSeconds: 9223372036854775807\n"),
            "spec.activeDeadlineSeconds: Invalid value: 9223372036854775807: must be between "
            "1 and 2147483647, inclusive",
            id="active-deadline-seconds-range",
        ),
        pytest.param(
            _pod("activeDeadlineSeconds: 0\n"),
            "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, "
            "inclusive",
            id="active-deadline-seconds-positive",
        ),
        pytest.param(
            _pod(container="env: [{name: A=B, value: x}]\n"),
            "spec.containers[0].env[0].name: Invalid value: 'A=B': a valid environment "
            "variable name must consist only of printable ASCII characters other than '='",
            id="env-name-no-equals",
        ),
        pytest.param(
            _pod(container='env: [{name: "", value: x}]\n'),
            "spec.containers[0].env[0].name: Required value",
            id="env-name-required",
        ),
        pytest.param(
            _pod(container='envFrom: [{prefix: "A\\tB", configMapRef: {name: c}}]\n'),
            "spec.containers[0].envFrom[0].prefix: Invalid value: 'A\\tB': a valid "
            "environment variable name must consist only of printable ASCII characters other "
            "than '='",
            id="env-from-prefix",
        ),
        pytest.param(
            _pod(
                container="env: [{name: X, valueFrom: {resourceFieldRef: "
                "{resource: limits.cpu, divisor: 2}}}]\n"
            ),
            "spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: Invalid value: "
            "'limits.cpu': only divisor's values 1m and 1 are supported with the cpu resource",
            id="resource-field-ref-divisor-cpu",
        ),
        pytest.param(
            _pod(
                "volumes: [{name: v, downwardAPI: {items: [{path: m, resourceFieldRef: "
                "{containerName: app, resource: limits.memory, divisor: 3Mi}}]}}]\n"
            ),
            "spec.volumes[0].downwardAPI.items[0].resourceFieldRef.divisor: Invalid value: "
            "'limits.memory': only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, "
            "1Ti, 1Pi, 1Ei are supported with the memory resource",
            id="resource-field-ref-divisor-memory",
        ),
    ],
)
def test_api_server_rule(text: str, expected: str) -> None:
    assert expected in _errors(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_deployment("replicas: 2147483647\n"), id="int32-max-replicas"),
        pytest.param(_pod(meta="annotations: {a: " + "x" * 1000 + "}\n"), id="annotations-small"),
        pytest.param(_pod(meta="labels: {example.com/app: web, empty: ''}\n"), id="labels-valid"),
        pytest.param(_pod("securityContext: {runAsUser: 2147483647}\n"), id="run-as-user-max"),
        pytest.param(
            _pod(container="resources: {limits: {cpu: 500m, memory: 64Mi}}\n"),
            id="quantities-valid",
        ),
        pytest.param(
            _pod(container="resources: {requests: {cpu: '1', memory: 1Gi}, limits: {cpu: 1}}\n"),
            id="request-without-limit",
        ),
        pytest.param(
            _pod("dnsConfig: {nameservers: ['::1'], searches: [example.com.]}\n"),
            id="dns-config-valid",
        ),
        pytest.param(
            _pod(container="env: [{name: 'my var.1', value: x}]\n"), id="env-name-relaxed"
        ),
        pytest.param(_pod("activeDeadlineSeconds: 2147483647\n"), id="active-deadline-max"),
        pytest.param(
            _pod(
                container="env: [{name: X, valueFrom: {resourceFieldRef: "
                "{resource: requests.memory, divisor: 1Mi}}}, {name: Y, valueFrom: "
                "{resourceFieldRef: {resource: limits.cpu, divisor: '0'}}}]\n"
            ),
            id="divisors-valid-and-zero-unset",
        ),
    ],
)
def test_api_server_accepts(text: str) -> None:
    validate.validate(loader.load_text(text, source="p.yaml"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("100m", Decimal("0.1"), id="milli"),
        pytest.param("1.5Gi", Decimal(1.5 * 2**30), id="binary-si"),
        pytest.param("2k", Decimal(2000), id="decimal-si"),
        pytest.param("1e3", Decimal(1000), id="exponent"),
        pytest.param("1E", Decimal(10**18), id="exa-not-exponent"),
        pytest.param(".5", Decimal("0.5"), id="leading-dot"),
        pytest.param(2, Decimal(2), id="number"),
        pytest.param("1ki", None, id="lowercase-ki-invalid"),
        pytest.param(" 1", None, id="space-invalid"),
        pytest.param("inf", None, id="inf-invalid"),
        pytest.param(float("nan"), None, id="nan-invalid"),
        pytest.param(True, None, id="boolean-invalid"),
        pytest.param("1e99999999999", None, id="huge-exponent-invalid"),
    ],
)
def test_parse_quantity(value: Any, expected: Decimal | None) -> None:
    assert apirules.parse_quantity(value) == expected
