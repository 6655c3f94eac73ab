"""Validating probes, lifecycle hooks and stopSignal: the API server's rules
(pkg/apis/core/validation: validateProbe, validateHandler, validateLifecycle,
validateContainerStopSignal, validateInitContainers) and what kubeplay warns it ignores."""

from __future__ import annotations

import re
import textwrap

import pytest

from kubeplay.errors import ManifestError
from kubeplay.kube import loader, validate

PREFIX = "pod.yaml: document 1 (Pod web): "


def _pod(container_yaml: str, *, extra_spec: str = "", init: bool = False) -> str:
    group = "initContainers" if init else "containers"
    body = textwrap.indent(textwrap.dedent(container_yaml), "    ")
    app = "  containers: [{name: main, image: busybox}]\n" if init else ""
    return (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n"
        f"{textwrap.indent(textwrap.dedent(extra_spec), '  ')}{app}"
        f"  {group}:\n  - name: app\n    image: busybox\n{body}"
    )


def _check(text: str) -> list[str]:
    """Error lines or warnings, without the `:LINE` after the file name."""
    try:
        warnings = validate.validate(loader.load_text(text, source="pod.yaml"))
    except ManifestError as err:
        return [re.sub(r"^pod\.yaml:\d+:", "pod.yaml:", ln) for ln in str(err).splitlines()]
    return [w.render() for w in warnings]


@pytest.mark.parametrize(
    ("container", "extra"),
    [
        pytest.param(
            """\
            ports: [{name: http, containerPort: 80}]
            livenessProbe:
              httpGet:
                path: /healthz
                port: http
                host: 127.0.0.1
                scheme: HTTPS
                httpHeaders: [{name: X-A, value: b}]
              initialDelaySeconds: 1
              periodSeconds: 2
              timeoutSeconds: 3
              successThreshold: 1
              failureThreshold: 4
              terminationGracePeriodSeconds: 5
            readinessProbe: {tcpSocket: {port: 80, host: localhost}, successThreshold: 2}
            startupProbe: {grpc: {port: 9000, service: health}}
            """,
            "",
            id="every-probe-field-is-implemented",
        ),
        pytest.param(
            """\
            lifecycle:
              postStart: {exec: {command: [touch, /started]}}
              preStop: {httpGet: {path: /stop, port: 8080}}
            """,
            "",
            id="poststart-exec-prestop-httpget",
        ),
        pytest.param(
            "lifecycle: {preStop: {sleep: {seconds: 5}}}\n", "", id="prestop-sleep-within-grace"
        ),
        pytest.param(
            "lifecycle: {stopSignal: SIGUSR1}\n", "os: {name: linux}\n", id="stop-signal-with-os"
        ),
    ],
)
def test_accepted_without_warnings(container: str, extra: str) -> None:
    assert _check(_pod(container, extra_spec=extra)) == []


@pytest.mark.parametrize(
    ("container", "extra", "init", "expected"),
    [
        pytest.param(
            "livenessProbe: {periodSeconds: 5}\n",
            "",
            False,
            "spec.containers[0].livenessProbe: must specify a handler type",
            id="probe-needs-a-handler",
        ),
        pytest.param(
            "readinessProbe: {exec: {command: ['true']}, tcpSocket: {port: 80}}\n",
            "",
            False,
            "spec.containers[0].readinessProbe.tcpSocket: may not specify more than 1 handler type",
            id="probe-one-handler-only",
        ),
        pytest.param(
            "livenessProbe: {exec: {command: ['true']}, successThreshold: 2}\n",
            "",
            False,
            "spec.containers[0].livenessProbe.successThreshold: must be 1",
            id="liveness-success-threshold-must-be-1",
        ),
        pytest.param(
            "startupProbe: {exec: {command: ['true']}, successThreshold: 3}\n",
            "",
            False,
            "spec.containers[0].startupProbe.successThreshold: must be 1",
            id="startup-success-threshold-must-be-1",
        ),
        pytest.param(
            "readinessProbe: {exec: {command: ['true']}, terminationGracePeriodSeconds: 3}\n",
            "",
            False,
            "spec.containers[0].readinessProbe.terminationGracePeriodSeconds: "
            "must not be set for readinessProbes",
            id="readiness-no-probe-level-grace-period",
        ),
        pytest.param(
            "livenessProbe: {exec: {command: ['true']}, periodSeconds: -1}\n",
            "",
            False,
            "spec.containers[0].livenessProbe.periodSeconds: must be greater than or equal to 0",
            id="negative-period",
        ),
        pytest.param(
            "livenessProbe: {exec: {command: []}}\n",
            "",
            False,
            "spec.containers[0].livenessProbe.exec.command: required",
            id="exec-needs-a-command",
        ),
        pytest.param(
            "livenessProbe: {httpGet: {port: 70000}}\n",
            "",
            False,
            "spec.containers[0].livenessProbe.httpGet.port: invalid port 70000: "
            "must be between 1 and 65535",
            id="port-number-range",
        ),
        pytest.param(
            "readinessProbe: {tcpSocket: {port: Web_Port}}\n",
            "",
            False,
            "spec.containers[0].readinessProbe.tcpSocket.port: invalid port name 'Web_Port'",
            id="port-name-iana-svc-name",
        ),
        pytest.param(
            "livenessProbe: {httpGet: {port: 80, scheme: FTP}}\n",
            "",
            False,
            "spec.containers[0].livenessProbe.httpGet.scheme: unsupported value 'FTP'",
            id="httpget-scheme-http-or-https",
        ),
        pytest.param(
            "startupProbe: {exec: {command: ['true']}}\n",
            "",
            True,
            "spec.initContainers[0].startupProbe: may not be set for init containers without "
            "restartPolicy=Always",
            id="no-probes-on-regular-init-containers",
        ),
        pytest.param(
            "lifecycle: {postStart: {exec: {command: ['true']}}}\n",
            "",
            True,
            "spec.initContainers[0].lifecycle: may not be set for init containers without "
            "restartPolicy=Always",
            id="no-hooks-on-regular-init-containers",
        ),
        pytest.param(
            "lifecycle: {preStop: {sleep: {seconds: 60}}}\n",
            "terminationGracePeriodSeconds: 10\n",
            False,
            "spec.containers[0].lifecycle.preStop.sleep.seconds: "
            "must be between 0 and terminationGracePeriodSeconds (10)",
            id="sleep-longer-than-grace-period",
        ),
        pytest.param(
            "lifecycle: {stopSignal: SIGUSR1}\n",
            "",
            False,
            "spec.containers[0].lifecycle.stopSignal: may not be set for containers with empty "
            "`spec.os.name`",
            id="stop-signal-needs-os-name",
        ),
        pytest.param(
            "lifecycle: {stopSignal: SIGFOO}\n",
            "os: {name: linux}\n",
            False,
            "spec.containers[0].lifecycle.stopSignal: SIGFOO is not a valid signal for linux",
            id="stop-signal-must-be-a-linux-signal",
        ),
    ],
)
def test_rejected(container: str, extra: str, init: bool, expected: str) -> None:
    got = _check(_pod(container, extra_spec=extra, init=init))
    assert got and got[0].startswith(PREFIX)
    assert got[0].removeprefix(PREFIX).startswith(expected), got


def test_sidecar_init_container_may_have_probes_and_hooks() -> None:
    text = _pod(
        """\
        restartPolicy: Always
        startupProbe: {tcpSocket: {port: 80}}
        lifecycle: {preStop: {exec: {command: ['true']}}}
        """,
        init=True,
    )
    assert _check(text) == []


@pytest.mark.parametrize(
    ("container", "path"),
    [
        pytest.param(
            "lifecycle: {preStop: {tcpSocket: {port: 80}}}\n",
            "spec.containers[0].lifecycle.preStop.tcpSocket",
            id="tcpsocket-hook-is-not-run",
        ),
    ],
)
def test_warned(container: str, path: str) -> None:
    assert _check(_pod(container)) == [f"{PREFIX}{path}: not supported yet, ignored"]


def test_pod_os_must_be_linux() -> None:
    text = _pod("", extra_spec="os: {name: windows}\n")
    assert _check(text) == [
        f"{PREFIX}spec.os.name: unsupported value 'windows': kubeplay runs Linux pods only"
    ]


def test_stop_signal_is_not_in_older_schemas() -> None:
    text = _pod("lifecycle: {stopSignal: SIGUSR1}\n", extra_spec="os: {name: linux}\n")
    with pytest.raises(ManifestError, match=r"lifecycle\.stopSignal: unknown field"):
        validate.validate(loader.load_text(text, source="pod.yaml"), kube_version="1.32")
