"""Probes and lifecycle hooks: parsing with Kubernetes' defaults, and the prober's state machine.

Sources: pkg/apis/core/v1/defaults.go (SetDefaults_Probe), pkg/kubelet/prober/worker.go
(doProbe: initial values, runs of equal results, thresholds, on hold after a liveness
failure, startup gating), pkg/kubelet/prober/prober.go (event messages),
pkg/kubelet/kuberuntime/kuberuntime_manager.go (computePodActions kill messages).
https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from kubeplay.plan import pods
from kubeplay.plan import probes as p
from kubeplay.plan.probes import Outcome, ProbeSpec, ProbeState, ProbeType, Result

PORTS = (p.PortRef("http", 8080), p.PortRef("grpc", 9000))


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {"exec": {"command": ["cat", "/tmp/healthy"]}},
            ProbeSpec(p.ExecAction(("cat", "/tmp/healthy"))),
            id="exec-with-kubernetes-defaults",
        ),
        pytest.param(
            {
                "httpGet": {"port": 8080},
                "initialDelaySeconds": 3,
                "periodSeconds": 2,
                "timeoutSeconds": 5,
                "successThreshold": 2,
                "failureThreshold": 7,
            },
            ProbeSpec(
                p.HTTPGetAction(port=8080),
                initial_delay=3,
                period=2,
                timeout=5,
                success_threshold=2,
                failure_threshold=7,
            ),
            id="every-timing-field",
        ),
        pytest.param(
            {"tcpSocket": {"port": 80}, "periodSeconds": 0, "timeoutSeconds": 0},
            ProbeSpec(p.TCPSocketAction(port=80)),
            id="zero-timing-fields-take-defaults",
        ),
        pytest.param(
            {
                "httpGet": {
                    "port": "http",
                    "path": "healthz",
                    "host": "127.0.0.1",
                    "scheme": "HTTPS",
                    "httpHeaders": [{"name": "X-Probe", "value": "1"}],
                }
            },
            ProbeSpec(
                p.HTTPGetAction(
                    port=8080,
                    port_name="http",
                    path="/healthz",
                    host="127.0.0.1",
                    scheme="HTTPS",
                    headers=(("X-Probe", "1"),),
                )
            ),
            id="httpget-named-port-host-scheme-headers",
        ),
        pytest.param(
            {"httpGet": {"port": "metrics"}},
            ProbeSpec(p.HTTPGetAction(port=0, port_name="metrics")),
            id="httpget-unknown-port-name-left-unresolved",
        ),
        pytest.param(
            {"tcpSocket": {"port": "grpc"}},
            ProbeSpec(p.TCPSocketAction(port=9000, port_name="grpc")),
            id="tcpsocket-named-port",
        ),
        pytest.param(
            {"tcpSocket": {"port": "8081"}},
            ProbeSpec(p.TCPSocketAction(port=8081)),
            id="tcpsocket-port-number-as-string",
        ),
        pytest.param(
            {"grpc": {"port": 9000, "service": "liveness"}},
            ProbeSpec(p.GRPCAction(port=9000, service="liveness")),
            id="grpc-port-and-service",
        ),
        pytest.param(
            {"exec": {"command": ["true"]}, "terminationGracePeriodSeconds": 5},
            ProbeSpec(p.ExecAction(("true",)), termination_grace_period=5),
            id="probe-level-termination-grace-period",
        ),
        pytest.param(None, None, id="no-probe"),
    ],
)
def test_parse_probe(raw: dict[str, Any] | None, expected: ProbeSpec | None) -> None:
    assert p.parse_probe(raw, PORTS) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {"postStart": {"exec": {"command": ["sh", "-c", "echo hi"]}}},
            p.LifecycleSpec(post_start=p.ExecAction(("sh", "-c", "echo hi"))),
            id="poststart-exec",
        ),
        pytest.param(
            {"preStop": {"httpGet": {"port": "http", "path": "/shutdown"}}},
            p.LifecycleSpec(pre_stop=p.HTTPGetAction(8080, path="/shutdown", port_name="http")),
            id="prestop-httpget-named-port",
        ),
        pytest.param(
            {"preStop": {"sleep": {"seconds": 5}}},
            p.LifecycleSpec(pre_stop=p.SleepAction(5)),
            id="prestop-sleep",
        ),
        pytest.param(
            {"stopSignal": "SIGUSR1"}, p.LifecycleSpec(stop_signal="SIGUSR1"), id="stop-signal"
        ),
        pytest.param(None, p.LifecycleSpec(), id="no-lifecycle"),
    ],
)
def test_parse_lifecycle(raw: dict[str, Any] | None, expected: p.LifecycleSpec) -> None:
    assert p.parse_lifecycle(raw, PORTS) == expected


def _pod(container: dict[str, Any]) -> dict[str, Any]:
    base = {"name": "web", "image": "busybox", "ports": [{"name": "http", "containerPort": 80}]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{**base, **container}]},
    }


def test_compiled_container_plan_carries_probes_and_hooks_through_json() -> None:
    manifest = _pod(
        {
            "livenessProbe": {
                "httpGet": {"port": "http", "httpHeaders": [{"name": "a", "value": "b"}]}
            },
            "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1},
            "startupProbe": {"exec": {"command": ["true"]}, "failureThreshold": 30},
            "lifecycle": {
                "postStart": {"exec": {"command": ["touch", "/started"]}},
                "preStop": {"sleep": {"seconds": 2}},
                "stopSignal": "SIGINT",
            },
        }
    )
    plan = pods.compile_pod(manifest, uid="u")
    (ctr,) = plan.containers
    assert ctr.liveness == ProbeSpec(p.HTTPGetAction(80, port_name="http", headers=(("a", "b"),)))
    assert ctr.readiness == ProbeSpec(p.TCPSocketAction(80), period=1)
    assert ctr.startup == ProbeSpec(p.ExecAction(("true",)), failure_threshold=30)
    assert ctr.post_start == p.ExecAction(("touch", "/started"))
    assert ctr.pre_stop == p.SleepAction(2)
    assert ctr.stop_signal == "SIGINT"
    assert pods.from_json(pods.to_json(plan)) == plan


def test_lifecycle_stop_signal_overrides_the_image_stop_signal() -> None:
    from kubeplay.plan.images import ImageConfig, ImageRef

    ref = "docker.io/library/busybox:latest"
    image = ImageRef(ref=ref, image_id="sha256:1", config=ImageConfig(stop_signal="SIGQUIT"))
    plain = pods.compile_pod(_pod({}), uid="u")
    assert pods.resolve_image(plain.containers[0], image).stop_signal == "SIGQUIT"
    own = pods.compile_pod(_pod({"lifecycle": {"stopSignal": "SIGUSR2"}}), uid="u")
    assert pods.resolve_image(own.containers[0], image).stop_signal == "SIGUSR2"


def test_probes_change_the_container_spec_hash() -> None:
    plain = pods.compile_pod(_pod({}), uid="u")
    probed = pods.compile_pod(_pod({"readinessProbe": {"tcpSocket": {"port": 80}}}), uid="u")
    assert plain.containers[0].spec_hash != probed.containers[0].spec_hash


# --- the state machine -----------------------------------------------------------------------

OK = Outcome(Result.SUCCESS)
WARN = Outcome(Result.WARNING, "Probe terminated redirects, Response body: moved")
FAIL = Outcome(Result.FAILURE, "HTTP probe failed with statuscode: 500")
ERR = Outcome(Result.UNKNOWN, "port metrics not found")
SPEC = ProbeSpec(p.HTTPGetAction(80))


def _run(
    probe_type: ProbeType,
    outcomes: Sequence[Outcome],
    spec: ProbeSpec = SPEC,
    *,
    policy: str = "Always",
) -> list[p.Verdict]:
    state = p.initial_state(probe_type, "c1")
    verdicts = []
    for outcome in outcomes:
        verdict = p.observe_result(state, outcome, spec, container="web", restart_policy=policy)
        verdicts.append(verdict)
        state = verdict.state
    return verdicts


@pytest.mark.parametrize(
    ("probe_type", "expected"),
    [
        pytest.param(ProbeType.LIVENESS, True, id="liveness-starts-success"),
        pytest.param(ProbeType.READINESS, False, id="readiness-starts-failure"),
        pytest.param(ProbeType.STARTUP, None, id="startup-starts-unknown"),
    ],
)
def test_initial_result(probe_type: ProbeType, expected: bool | None) -> None:
    assert p.initial_state(probe_type, "c1").result is expected


@pytest.mark.parametrize(
    ("probe_type", "spec", "outcomes", "results"),
    [
        pytest.param(ProbeType.READINESS, SPEC, [OK], [True], id="readiness-one-success-is-ready"),
        pytest.param(
            ProbeType.READINESS,
            replace(SPEC, success_threshold=3),
            [OK, OK, OK],
            [False, False, True],
            id="readiness-success-threshold-counts-consecutive-successes",
        ),
        pytest.param(
            ProbeType.READINESS,
            replace(SPEC, success_threshold=2),
            [OK, FAIL, OK, OK],
            [False, False, False, True],
            id="readiness-failure-resets-success-run",
        ),
        pytest.param(
            ProbeType.READINESS,
            SPEC,
            [OK, FAIL, FAIL, FAIL],
            [True, True, True, False],
            id="readiness-failure-threshold-3-default",
        ),
        pytest.param(
            ProbeType.READINESS,
            SPEC,
            [OK, FAIL, FAIL, OK, FAIL, FAIL],
            [True, True, True, True, True, True],
            id="readiness-success-resets-failure-run",
        ),
        pytest.param(
            ProbeType.READINESS,
            SPEC,
            [WARN],
            [True],
            id="readiness-warning-counts-as-success",
        ),
        pytest.param(
            ProbeType.READINESS,
            SPEC,
            [ERR, ERR, ERR, ERR],
            [False, False, False, False],
            id="readiness-errors-are-thrown-away",
        ),
        pytest.param(
            ProbeType.READINESS,
            replace(SPEC, failure_threshold=2),
            [OK, FAIL, ERR, FAIL],
            [True, True, True, False],
            id="errors-do-not-break-a-failure-run",
        ),
        pytest.param(
            ProbeType.LIVENESS,
            SPEC,
            [FAIL, FAIL],
            [True, True],
            id="liveness-below-failure-threshold-stays-healthy",
        ),
        pytest.param(
            ProbeType.STARTUP,
            SPEC,
            [FAIL, OK],
            [None, True],
            id="startup-success-publishes-started",
        ),
    ],
)
def test_results_follow_thresholds(
    probe_type: ProbeType,
    spec: ProbeSpec,
    outcomes: list[Outcome],
    results: list[bool | None],
) -> None:
    assert [v.state.result for v in _run(probe_type, outcomes, spec)] == results


@pytest.mark.parametrize(
    ("probe_type", "outcomes", "spec"),
    [
        pytest.param(ProbeType.READINESS, [OK, OK, OK], SPEC, id="ready-stays-ready"),
        pytest.param(
            ProbeType.READINESS,
            [OK, FAIL, FAIL, FAIL, FAIL],
            replace(SPEC, failure_threshold=3),
            id="not-ready-stays-not-ready",
        ),
        pytest.param(
            ProbeType.READINESS,
            [OK, OK, OK],
            replace(SPEC, success_threshold=2),
            id="success-threshold-reached-stays",
        ),
        pytest.param(ProbeType.LIVENESS, [OK, OK], SPEC, id="live-stays-live"),
    ],
)
def test_a_settled_result_repeated_leaves_the_state_as_it_is(
    probe_type: ProbeType, outcomes: list[Outcome], spec: ProbeSpec
) -> None:
    """Once a result is published and its threshold reached, the same result again changes
    nothing (the kubelet's resultRun counts on, which no decision reads past the threshold)."""
    *_, before, after = _run(probe_type, outcomes, spec)
    assert after.state is before.state
    assert not after.changed and not after.kill


def test_a_flip_after_a_settled_run_counts_from_one() -> None:
    spec = replace(SPEC, failure_threshold=2)
    results = [v.state.result for v in _run(ProbeType.READINESS, [OK, OK, OK, FAIL, FAIL], spec)]
    assert results == [True, True, True, True, False]


def test_changed_only_when_the_published_result_flips() -> None:
    verdicts = _run(ProbeType.READINESS, [OK, OK, FAIL, FAIL, FAIL, FAIL])
    assert [v.changed for v in verdicts] == [True, False, False, False, True, False]


@pytest.mark.parametrize(
    ("probe_type", "policy", "message"),
    [
        pytest.param(
            ProbeType.LIVENESS,
            "Always",
            "Container web failed liveness probe, will be restarted",
            id="liveness-failure-restarts",
        ),
        pytest.param(
            ProbeType.LIVENESS,
            "Never",
            "Container web failed liveness probe",
            id="liveness-failure-restart-never-only-kills",
        ),
        pytest.param(
            ProbeType.STARTUP,
            "OnFailure",
            "Container web failed startup probe, will be restarted",
            id="startup-failure-restarts",
        ),
    ],
)
def test_liveness_and_startup_failure_kill_the_container(
    probe_type: ProbeType, policy: str, message: str
) -> None:
    verdicts = _run(probe_type, [FAIL, FAIL, FAIL], policy=policy)
    assert [v.kill for v in verdicts] == ["", "", message]
    assert verdicts[-1].state.result is False


def test_readiness_failure_never_kills() -> None:
    assert not any(v.kill for v in _run(ProbeType.READINESS, [FAIL] * 10))


def test_liveness_is_on_hold_after_a_kill_until_a_new_container() -> None:
    verdicts = _run(ProbeType.LIVENESS, [FAIL, FAIL, FAIL, FAIL, OK])
    held = verdicts[2].state
    assert held.on_hold
    assert [v.kill for v in verdicts[3:]] == ["", ""]  # no second kill for the same container
    assert verdicts[-1].state.result is False  # results are ignored while on hold
    assert not p.should_probe(held, SPEC, started_at=0, now=100, started=True)


@pytest.mark.parametrize(
    ("probe_type", "outcome", "events"),
    [
        pytest.param(
            ProbeType.LIVENESS,
            FAIL,
            [
                (
                    "Warning",
                    "Unhealthy",
                    "Liveness probe failed: HTTP probe failed with statuscode: 500",
                )
            ],
            id="liveness-failure-event-unhealthy",
        ),
        pytest.param(
            ProbeType.READINESS,
            Outcome(Result.FAILURE, "dial tcp 10.0.0.2:80: connect: connection refused"),
            [
                (
                    "Warning",
                    "Unhealthy",
                    "Readiness probe failed: dial tcp 10.0.0.2:80: connect: connection refused",
                )
            ],
            id="readiness-failure-event-unhealthy",
        ),
        pytest.param(
            ProbeType.READINESS,
            WARN,
            [
                (
                    "Warning",
                    "ProbeWarning",
                    "Readiness probe warning: Probe terminated redirects, Response body: moved",
                )
            ],
            id="redirect-warning-event-probewarning",
        ),
        pytest.param(
            ProbeType.STARTUP,
            ERR,
            [
                (
                    "Warning",
                    "Unhealthy",
                    "Startup probe errored and resulted in unknown state: port metrics not found",
                )
            ],
            id="probe-error-event",
        ),
        pytest.param(ProbeType.LIVENESS, OK, [], id="success-no-event"),
    ],
)
def test_probe_events(
    probe_type: ProbeType, outcome: Outcome, events: list[tuple[str, str, str]]
) -> None:
    (verdict,) = _run(probe_type, [outcome])
    assert [(e.type, e.reason, e.message) for e in verdict.events] == events


# --- gating ----------------------------------------------------------------------------------


def _state(probe_type: ProbeType) -> ProbeState:
    return p.initial_state(probe_type, "c1")


@pytest.mark.parametrize(
    ("probe_type", "spec", "elapsed", "started", "expected"),
    [
        pytest.param(
            ProbeType.READINESS,
            replace(SPEC, initial_delay=5),
            4.9,
            True,
            False,
            id="initial-delay-holds-probe",
        ),
        pytest.param(
            ProbeType.READINESS,
            replace(SPEC, initial_delay=5),
            5.0,
            True,
            True,
            id="probe-runs-after-initial-delay",
        ),
        pytest.param(ProbeType.LIVENESS, SPEC, 0, True, True, id="no-delay-probes-at-once"),
        pytest.param(ProbeType.LIVENESS, SPEC, 30, False, False, id="startup-probe-holds-liveness"),
        pytest.param(
            ProbeType.READINESS, SPEC, 30, False, False, id="startup-probe-holds-readiness"
        ),
        pytest.param(
            ProbeType.STARTUP, SPEC, 30, False, True, id="startup-probe-runs-until-started"
        ),
        pytest.param(
            ProbeType.STARTUP, SPEC, 30, True, False, id="startup-probe-stops-once-started"
        ),
    ],
)
def test_should_probe(
    probe_type: ProbeType, spec: ProbeSpec, elapsed: float, started: bool, expected: bool
) -> None:
    state = _state(probe_type)
    assert (
        p.should_probe(state, spec, started_at=100.0, now=100.0 + elapsed, started=started)
        is expected
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(SPEC, 30, id="pod-grace-period-by-default"),
        pytest.param(
            replace(SPEC, termination_grace_period=3), 3, id="probe-level-grace-period-wins"
        ),
        pytest.param(None, 30, id="no-probe-pod-grace-period"),
    ],
)
def test_kill_grace_period(spec: ProbeSpec | None, expected: int) -> None:
    assert p.kill_grace_period(spec, pod_grace=30) == expected


@pytest.mark.parametrize(
    ("running", "startup", "startup_result", "readiness", "ready_result", "expected"),
    [
        pytest.param(True, None, None, None, None, (True, True), id="no-probes-running-is-ready"),
        pytest.param(False, None, None, None, None, (False, False), id="not-running-not-started"),
        pytest.param(
            True, SPEC, None, None, None, (False, False), id="startup-pending-not-started"
        ),
        pytest.param(True, SPEC, True, None, None, (True, True), id="startup-succeeded-started"),
        pytest.param(True, None, None, SPEC, None, (True, False), id="readiness-unknown-not-ready"),
        pytest.param(
            True, None, None, SPEC, False, (True, False), id="readiness-failing-not-ready"
        ),
        pytest.param(True, None, None, SPEC, True, (True, True), id="readiness-passing-ready"),
        pytest.param(True, SPEC, None, SPEC, True, (False, False), id="ready-needs-started-first"),
    ],
)
def test_container_started_and_ready(
    running: bool,
    startup: ProbeSpec | None,
    startup_result: bool | None,
    readiness: ProbeSpec | None,
    ready_result: bool | None,
    expected: tuple[bool, bool],
) -> None:
    started = p.container_started(running=running, startup=startup, result=startup_result)
    ready = p.container_ready(started=started, readiness=readiness, result=ready_result)
    assert (started, ready) == expected
