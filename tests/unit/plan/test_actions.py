"""compute_pod_actions, table-tested the way kubelet's TestComputePodActions and
TestComputePodActionsWithInitContainers / ...WithRestartableInitContainers are
(pkg/kubelet/kuberuntime/kuberuntime_manager_test.go): a base plan and a base observed pod,
a mutation of each, and the expected PodActions.

Semantics: computePodActions, findNextInitContainerToRun, computeInitContainerActions and
ShouldContainerBeRestarted; https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/
#restart-policy and .../pods/sidecar-containers/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from kubeplay.plan import actions
from kubeplay.plan.actions import PodActions
from kubeplay.plan.observed import ContainerState, ObservedContainer, ObservedPod, Termination
from kubeplay.plan.pods import ContainerKind, ContainerPlan, PodPlan

Mutate = Callable[[ObservedPod], ObservedPod]
MutatePlan = Callable[[PodPlan], PodPlan]


def _ctr(name: str, kind: ContainerKind = ContainerKind.APP, restart: str = "") -> ContainerPlan:
    return ContainerPlan(
        name=name,
        kind=kind,
        image="busybox:1",
        image_ref="docker.io/library/busybox:1",
        image_id="sha256:" + "d" * 64,
        pull_policy="IfNotPresent",
        argv=("true",),
        env=(),
        working_dir="/",
        user="",
        restart_policy=restart,
    )


def running(name: str) -> ObservedContainer:
    return ObservedContainer(
        name=name, state=ContainerState.RUNNING, container_id=f"c-{name}", started_at=1.0
    )


def exited(name: str, code: int) -> ObservedContainer:
    return ObservedContainer(
        name=name,
        state=ContainerState.TERMINATED,
        container_id=f"c-{name}",
        started_at=1.0,
        termination=Termination(exit_code=code, started_at=1.0, finished_at=2.0),
    )


def start_error(name: str) -> ObservedContainer:
    """The runtime could not start it: terminated, exit 128, StartError (never ran)."""
    return ObservedContainer(
        name=name,
        state=ContainerState.TERMINATED,
        container_id=f"c-{name}",
        termination=Termination(exit_code=128, started_at=0.0, finished_at=2.0, start_error=True),
    )


def backoff(name: str, code: int = 1) -> ObservedContainer:
    """Ran, exited, now waiting for its next start (kubelet: CrashLoopBackOff)."""
    return ObservedContainer(
        name=name,
        waiting_reason="CrashLoopBackOff",
        restart_count=1,
        last_termination=Termination(exit_code=code, started_at=1.0, finished_at=2.0),
    )


def created(name: str) -> ObservedContainer:
    return ObservedContainer(name=name)


def with_(*containers: ObservedContainer) -> Mutate:
    def mutate(o: ObservedPod) -> ObservedPod:
        return replace(o, containers={**o.containers, **{c.name: c for c in containers}})

    return mutate


def without(*names: str) -> Mutate:
    def mutate(o: ObservedPod) -> ObservedPod:
        return replace(o, containers={k: v for k, v in o.containers.items() if k not in names})

    return mutate


def policy(value: str) -> MutatePlan:
    return lambda p: replace(p, restart_policy=value)


def no_sandbox(o: ObservedPod) -> ObservedPod:
    return replace(o, sandbox_id="", sandbox_running=False, containers={})


def keep(o: ObservedPod) -> ObservedPod:
    return o


def keep_plan(p: PodPlan) -> PodPlan:
    return p


def _observed(*containers: ObservedContainer) -> ObservedPod:
    return ObservedPod(
        sandbox_id="sb", sandbox_running=True, containers={c.name: c for c in containers}
    )


# --- app containers only --------------------------------------------------------------------

BASE_PLAN = PodPlan(
    uid="u",
    namespace="default",
    name="p",
    hostname="p",
    containers=(_ctr("a"), _ctr("b"), _ctr("c")),
)
BASE_OBSERVED = _observed(running("a"), running("b"), running("c"))


@pytest.mark.parametrize(
    ("mutate_plan", "mutate", "expected"),
    [
        pytest.param(keep_plan, keep, PodActions(), id="all-running-noop"),
        pytest.param(
            keep_plan,
            no_sandbox,
            PodActions(
                create_sandbox=True,
                start=("a", "b", "c"),
                message="pod sandbox missing: create it",
            ),
            id="new-pod-creates-sandbox-and-starts-all",
        ),
        pytest.param(
            keep_plan,
            with_(created("b")),
            PodActions(start=("b",)),
            id="never-started-container-started",
        ),
        pytest.param(
            keep_plan,
            without("c"),
            PodActions(start=("c",)),
            id="container-without-record-started",
        ),
        pytest.param(
            policy("Always"),
            with_(exited("a", 0), exited("b", 1)),
            PodActions(start=("a", "b"), restarts=("a", "b")),
            id="always-restarts-any-exit",
        ),
        pytest.param(
            policy("OnFailure"),
            with_(exited("a", 0), exited("b", 1)),
            PodActions(start=("b",), restarts=("b",)),
            id="onfailure-restarts-failed-only",
        ),
        pytest.param(
            policy("Never"),
            with_(exited("a", 0), exited("b", 1)),
            PodActions(),
            id="never-restarts-nothing",
        ),
        pytest.param(
            keep_plan,
            with_(backoff("a")),
            PodActions(start=("a",), restarts=("a",)),
            id="container-in-backoff-is-a-restart",
        ),
        pytest.param(
            policy("Never"),
            with_(start_error("a"), exited("b", 0), exited("c", 0)),
            PodActions(pod_done=True),
            id="never-start-error-is-not-started-again",
        ),
        pytest.param(
            policy("OnFailure"),
            with_(start_error("a")),
            PodActions(start=("a",), restarts=("a",)),
            id="onfailure-start-error-is-a-restart",
        ),
        pytest.param(
            policy("Never"),
            with_(exited("a", 0), exited("b", 1), exited("c", 0)),
            PodActions(pod_done=True),
            id="never-all-exited-pod-done",
        ),
        pytest.param(
            policy("OnFailure"),
            with_(exited("a", 0), exited("b", 0), exited("c", 0)),
            PodActions(pod_done=True),
            id="onfailure-all-succeeded-pod-done",
        ),
        pytest.param(
            policy("OnFailure"),
            with_(exited("a", 0), exited("b", 0), exited("c", 3)),
            PodActions(start=("c",), restarts=("c",)),
            id="onfailure-one-failed-not-done",
        ),
        pytest.param(
            policy("Always"),
            with_(exited("a", 0), exited("b", 0), exited("c", 0)),
            PodActions(start=("a", "b", "c"), restarts=("a", "b", "c")),
            id="always-all-exited-restarts-all",
        ),
    ],
)
def test_compute_pod_actions(mutate_plan: MutatePlan, mutate: Mutate, expected: PodActions) -> None:
    assert actions.compute_pod_actions(mutate_plan(BASE_PLAN), mutate(BASE_OBSERVED)) == expected


# --- a sandbox that died (kubelet computePodActions, SandboxChanged) -------------------------


def sandbox_died(o: ObservedPod) -> ObservedPod:
    """The infra container existed and is gone (killed, or the host rebooted)."""
    return replace(o, sandbox_id="sb", sandbox_running=False)


def then(*mutations: Mutate) -> Mutate:
    def mutate(o: ObservedPod) -> ObservedPod:
        for m in mutations:
            o = m(o)
        return o

    return mutate


CHANGED = "pod sandbox changed: kill it and make it again"


@pytest.mark.parametrize(
    ("mutate_plan", "mutate", "expected"),
    [
        pytest.param(
            policy("Always"),
            sandbox_died,
            PodActions(create_sandbox=True, kill_pod=True, start=("a", "b", "c"), message=CHANGED),
            id="sandbox-changed-always-kills-and-recreates",
        ),
        pytest.param(
            policy("OnFailure"),
            then(sandbox_died, with_(exited("a", 0), exited("b", 1))),
            PodActions(create_sandbox=True, kill_pod=True, start=("b", "c"), message=CHANGED),
            id="sandbox-changed-onfailure-succeeded-container-stays-finished",
        ),
        pytest.param(
            policy("OnFailure"),
            then(sandbox_died, with_(exited("a", 0), exited("b", 0), exited("c", 0))),
            PodActions(kill_pod=True, pod_done=True),
            id="sandbox-changed-onfailure-nothing-left-to-run-no-sandbox",
        ),
        pytest.param(
            policy("Never"),
            sandbox_died,
            PodActions(
                kill_pod=True, message="pod sandbox died and restartPolicy is Never: the pod ends"
            ),
            id="sandbox-changed-never-kills-pod-no-new-sandbox",
        ),
        pytest.param(
            policy("Never"),
            no_sandbox,
            PodActions(
                create_sandbox=True,
                start=("a", "b", "c"),
                message="pod sandbox missing: create it",
            ),
            id="never-first-sandbox-is-made",
        ),
        pytest.param(
            policy("OnFailure"),
            then(sandbox_died, with_(backoff("a", 0))),
            PodActions(create_sandbox=True, kill_pod=True, start=("a", "b", "c"), message=CHANGED),
            id="sandbox-changed-retired-container-runs-again",
        ),
    ],
)
def test_compute_pod_actions_after_the_sandbox_died(
    mutate_plan: MutatePlan, mutate: Mutate, expected: PodActions
) -> None:
    assert actions.compute_pod_actions(mutate_plan(BASE_PLAN), mutate(BASE_OBSERVED)) == expected


# --- init containers ------------------------------------------------------------------------

INIT_PLAN = replace(
    BASE_PLAN,
    init_containers=(_ctr("init1", ContainerKind.INIT), _ctr("init2", ContainerKind.INIT)),
    containers=(_ctr("a"), _ctr("b")),
)
INIT_OBSERVED = _observed(exited("init1", 0), exited("init2", 0), running("a"), running("b"))


@pytest.mark.parametrize(
    ("mutate_plan", "mutate", "expected"),
    [
        pytest.param(keep_plan, keep, PodActions(), id="initialized-all-running-noop"),
        pytest.param(
            keep_plan,
            no_sandbox,
            PodActions(
                create_sandbox=True, start_init="init1", message="pod sandbox missing: create it"
            ),
            id="new-pod-starts-first-init-only",
        ),
        pytest.param(
            keep_plan,
            lambda o: _observed(),
            PodActions(start_init="init1"),
            id="sandbox-up-first-init-next",
        ),
        pytest.param(
            keep_plan,
            lambda o: _observed(running("init1")),
            PodActions(wait_for="init1"),
            id="wait-for-running-init",
        ),
        pytest.param(
            keep_plan,
            lambda o: _observed(exited("init1", 0)),
            PodActions(start_init="init2"),
            id="inits-run-in-order",
        ),
        pytest.param(
            keep_plan,
            lambda o: _observed(exited("init1", 0), running("init2")),
            PodActions(wait_for="init2"),
            id="wait-for-second-init",
        ),
        pytest.param(
            policy("Never"),
            lambda o: _observed(exited("init1", 1)),
            PodActions(
                pod_done=True,
                message="init container init1 failed (exit 1) and restartPolicy is Never",
            ),
            id="init-failed-never-pod-done",
        ),
        pytest.param(
            policy("OnFailure"),
            lambda o: _observed(exited("init1", 0), exited("init2", 2)),
            PodActions(start_init="init2", restarts=("init2",)),
            id="init-failed-onfailure-restarts-it",
        ),
        pytest.param(
            policy("Always"),
            lambda o: _observed(exited("init1", 2)),
            PodActions(start_init="init1", restarts=("init1",)),
            id="init-failed-always-restarts-it",
        ),
        pytest.param(
            keep_plan,
            lambda o: _observed(backoff("init1")),
            PodActions(start_init="init1", restarts=("init1",)),
            id="init-in-backoff-is-a-restart",
        ),
        pytest.param(
            keep_plan,
            lambda o: _observed(exited("init1", 0), exited("init2", 0)),
            PodActions(start=("a", "b")),
            id="apps-start-after-all-inits",
        ),
        pytest.param(
            keep_plan,
            without("init1", "init2"),
            PodActions(),
            id="init-records-gone-while-apps-run-no-rerun",
        ),
        pytest.param(
            policy("Never"),
            with_(exited("a", 0), exited("b", 0)),
            PodActions(pod_done=True),
            id="all-done-pod-done",
        ),
    ],
)
def test_compute_pod_actions_init(
    mutate_plan: MutatePlan, mutate: Mutate, expected: PodActions
) -> None:
    assert actions.compute_pod_actions(mutate_plan(INIT_PLAN), mutate(INIT_OBSERVED)) == expected


# --- sidecars: init containers with restartPolicy Always ------------------------------------

SIDECAR_PLAN = replace(
    BASE_PLAN,
    init_containers=(
        _ctr("proxy", ContainerKind.INIT, "Always"),
        _ctr("setup", ContainerKind.INIT),
    ),
    containers=(_ctr("a"),),
)
SIDECAR_OBSERVED = _observed(running("proxy"), exited("setup", 0), running("a"))


@pytest.mark.parametrize(
    ("mutate_plan", "mutate", "expected"),
    [
        pytest.param(keep_plan, keep, PodActions(), id="sidecar-running-noop"),
        pytest.param(
            keep_plan,
            no_sandbox,
            PodActions(
                create_sandbox=True, start_init="proxy", message="pod sandbox missing: create it"
            ),
            id="new-pod-starts-sidecar-first",
        ),
        pytest.param(
            keep_plan,
            lambda o: _observed(running("proxy")),
            PodActions(start_init="setup"),
            id="running-sidecar-not-waited-for",
        ),
        pytest.param(
            keep_plan,
            lambda o: _observed(exited("proxy", 1)),
            PodActions(start_init="proxy", restarts=("proxy",)),
            id="sidecar-exited-during-init-restarted",
        ),
        pytest.param(
            policy("Never"),
            with_(exited("proxy", 1)),
            PodActions(start_init="proxy", restarts=("proxy",)),
            id="sidecar-restarted-even-with-never",
        ),
        pytest.param(
            keep_plan,
            with_(exited("proxy", 1), exited("a", 1)),
            PodActions(start_init="proxy", start=("a",), restarts=("proxy", "a")),
            id="sidecar-and-app-restarted-together",
        ),
        pytest.param(
            keep_plan,
            with_(backoff("proxy")),
            PodActions(start_init="proxy", restarts=("proxy",)),
            id="sidecar-in-backoff-after-init-restarted",
        ),
        pytest.param(
            lambda p: replace(p, containers=(_ctr("a"), _ctr("b"))),
            with_(exited("proxy", 1)),
            PodActions(start_init="proxy", start=("b",), restarts=("proxy",)),
            id="sidecar-restart-does-not-block-apps-after-init",
        ),
        pytest.param(
            policy("Never"),
            with_(exited("proxy", 1), exited("a", 0)),
            PodActions(pod_done=True),
            id="apps-done-sidecar-not-restarted",
        ),
        pytest.param(
            policy("Never"),
            with_(exited("a", 0)),
            PodActions(pod_done=True),
            id="apps-done-with-sidecar-running-pod-done",
        ),
    ],
)
def test_compute_pod_actions_sidecar(
    mutate_plan: MutatePlan, mutate: Mutate, expected: PodActions
) -> None:
    got = actions.compute_pod_actions(mutate_plan(SIDECAR_PLAN), mutate(SIDECAR_OBSERVED))
    assert got == expected


@pytest.mark.parametrize(
    ("restart_policy", "obs", "expected"),
    [
        pytest.param("Always", exited("x", 0), True, id="always-success"),
        pytest.param("Always", exited("x", 1), True, id="always-failure"),
        pytest.param("OnFailure", exited("x", 0), False, id="onfailure-success"),
        pytest.param("OnFailure", exited("x", 137), True, id="onfailure-failure"),
        pytest.param("Never", exited("x", 1), False, id="never-failure"),
        pytest.param("Always", running("x"), False, id="not-terminated"),
    ],
)
def test_should_restart(restart_policy: str, obs: ObservedContainer, expected: bool) -> None:
    assert actions.should_restart(restart_policy, obs) is expected


# --- definition changed: kubelet containerChanged (the stored spec hash differs) ------------

OLD, NEW = "h-old", "h-new"


def _hashed(name: str, spec_hash: str, kind: ContainerKind = ContainerKind.APP) -> ContainerPlan:
    restart = "Always" if kind == ContainerKind.INIT else ""
    return replace(_ctr(name, kind, restart), spec_hash=spec_hash)


def made_from(obs: ObservedContainer, spec_hash: str) -> ObservedContainer:
    return replace(obs, spec_hash=spec_hash)


def new_definition(*names: str) -> MutatePlan:
    def mutate(p: PodPlan) -> PodPlan:
        def one(c: ContainerPlan) -> ContainerPlan:
            return replace(c, spec_hash=NEW) if c.name in names else c

        return replace(
            p,
            init_containers=tuple(one(c) for c in p.init_containers),
            containers=tuple(one(c) for c in p.containers),
        )

    return mutate


def _changed(name: str) -> actions.ContainerKill:
    return actions.ContainerKill(
        name,
        actions.KillReason.SPEC_CHANGED,
        f"Container {name} definition changed, will be restarted",
    )


SPEC_PLAN = replace(
    BASE_PLAN,
    init_containers=(_hashed("proxy", OLD, ContainerKind.INIT),),
    containers=(_hashed("a", OLD), _hashed("b", OLD)),
)
SPEC_OBSERVED = _observed(
    made_from(running("proxy"), OLD), made_from(running("a"), OLD), made_from(running("b"), OLD)
)


@pytest.mark.parametrize(
    ("mutate_plan", "mutate", "expected"),
    [
        pytest.param(keep_plan, keep, PodActions(), id="same-definition-noop"),
        pytest.param(
            new_definition("a"),
            keep,
            PodActions(kills=(_changed("a"),), start=("a",), restarts=("a",)),
            id="image-update-restarts-that-container-alone",
        ),
        pytest.param(
            lambda p: policy("Never")(new_definition("a")(p)),
            keep,
            PodActions(kills=(_changed("a"),), start=("a",), restarts=("a",)),
            id="definition-changed-restarts-even-with-never",
        ),
        pytest.param(
            new_definition("a", "b"),
            keep,
            PodActions(kills=(_changed("a"), _changed("b")), start=("a", "b"), restarts=("a", "b")),
            id="every-changed-container-restarted",
        ),
        pytest.param(
            new_definition("a"),
            with_(made_from(running("a"), "")),
            PodActions(),
            id="instance-from-before-hashes-is-kept",
        ),
        pytest.param(
            lambda p: policy("Never")(new_definition("a")(p)),
            with_(made_from(exited("a", 0), OLD)),
            PodActions(),
            id="exited-container-follows-its-restart-policy",
        ),
        pytest.param(
            new_definition("a"),
            with_(made_from(exited("a", 1), OLD)),
            PodActions(start=("a",), restarts=("a",)),
            id="exited-container-restarted-without-a-kill",
        ),
        pytest.param(
            new_definition("proxy"),
            keep,
            PodActions(kills=(_changed("proxy"),), start_init="proxy", restarts=("proxy",)),
            id="sidecar-definition-changed-restarted",
        ),
    ],
)
def test_compute_pod_actions_definition_changed(
    mutate_plan: MutatePlan, mutate: Mutate, expected: PodActions
) -> None:
    got = actions.compute_pod_actions(mutate_plan(SPEC_PLAN), mutate(SPEC_OBSERVED))
    assert got == expected
