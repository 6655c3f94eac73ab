"""compile_pod: defaults and resolution as the API server's defaulting and the kubelet apply them.

Sources: pkg/apis/core/v1/defaults.go (SetDefaults_PodSpec, SetDefaults_Container),
pkg/kubelet/kubelet_pods.go (GeneratePodHostNameAndDomain, truncatePodHostnameIfNeeded),
https://kubernetes.io/docs/tasks/configure-pod-container/security-context/ (container
securityContext overrides the pod's).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from kubeplay.plan import pods
from kubeplay.plan.images import ImageConfig, ImageRef
from kubeplay.plan.pods import ContainerKind, PodPlan, PortPlan

NGINX = "docker.io/library/nginx:1.25"
NGINX_IMAGE = ImageRef(
    ref=NGINX,
    image_id="sha256:" + "a" * 64,
    config=ImageConfig(
        entrypoint=("/docker-entrypoint.sh",),
        cmd=("nginx", "-g", "daemon off;"),
        env=("PATH=/usr/sbin:/usr/bin", "NGINX_VERSION=1.25", "HOME=/root"),
        working_dir="/srv",
        user="101",
        stop_signal="SIGQUIT",
    ),
)
IMAGES = {NGINX: NGINX_IMAGE}


def _manifest() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
    }


def _compile(mutate: Callable[[dict[str, Any]], None] = lambda m: None) -> PodPlan:
    manifest = _manifest()
    mutate(manifest)
    return pods.compile_pod(manifest, uid="uid-1")


def _spec(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(m: dict[str, Any]) -> None:
        m["spec"].update(fields)

    return mutate


def _ctr(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(m: dict[str, Any]) -> None:
        m["spec"]["containers"][0].update(fields)

    return mutate


def _all(*mutations: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(m: dict[str, Any]) -> None:
        for one in mutations:
            one(m)

    return mutate


def _meta(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(m: dict[str, Any]) -> None:
        m["metadata"].update(fields)

    return mutate


# --- pod-level defaults -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "attr", "expected"),
    [
        # SetDefaults_PodSpec: restartPolicy Always, terminationGracePeriodSeconds 30.
        pytest.param(lambda m: None, "restart_policy", "Always", id="restart-policy-default"),
        pytest.param(_spec(restartPolicy="Never"), "restart_policy", "Never", id="restart-policy"),
        pytest.param(lambda m: None, "termination_grace_period", 30, id="grace-period-default"),
        pytest.param(
            _spec(terminationGracePeriodSeconds=0), "termination_grace_period", 0, id="grace-zero"
        ),
        # metadata.namespace defaults to "default" for a manifest without one.
        pytest.param(lambda m: None, "namespace", "default", id="namespace-default"),
        pytest.param(_meta(namespace="prod"), "namespace", "prod", id="namespace"),
        # GeneratePodHostNameAndDomain: hostname = pod name, or spec.hostname when set.
        pytest.param(lambda m: None, "hostname", "web", id="hostname-is-pod-name"),
        pytest.param(_spec(hostname="box"), "hostname", "box", id="hostname-field"),
        # truncatePodHostnameIfNeeded: cap at 63, then trim trailing "-" and ".".
        pytest.param(_meta(name="a" * 70), "hostname", "a" * 63, id="hostname-truncated-to-63"),
        pytest.param(
            _meta(name="a" * 62 + "-.b" + "c" * 5),
            "hostname",
            "a" * 62,
            id="hostname-truncation-trims-dash-and-dot",
        ),
        pytest.param(_meta(name="a" * 63), "hostname", "a" * 63, id="hostname-63-kept"),
        pytest.param(_spec(hostNetwork=True), "host_network", True, id="host-network"),
        pytest.param(
            _spec(shareProcessNamespace=True), "share_process_namespace", True, id="share-pid"
        ),
        pytest.param(
            _meta(labels={"b": "2", "a": "1"}),
            "labels",
            (("a", "1"), ("b", "2")),
            id="labels-sorted",
        ),
    ],
)
def test_pod_fields(mutate: Callable[[dict[str, Any]], None], attr: str, expected: Any) -> None:
    assert getattr(_compile(mutate), attr) == expected


def test_pod_identity() -> None:
    plan = _compile(_meta(namespace="ns"))
    assert (plan.uid, plan.name, plan.ref) == ("uid-1", "web", "ns/web")


# --- container-level resolution -----------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "attr", "expected"),
    [
        # SetDefaults_Container: imagePullPolicy Always for :latest (or no tag), else
        # IfNotPresent; an explicit policy is kept.
        pytest.param(_ctr(image="busybox"), "pull_policy", "Always", id="pull-no-tag-always"),
        pytest.param(
            _ctr(image="busybox:latest"), "pull_policy", "Always", id="pull-latest-always"
        ),
        pytest.param(lambda m: None, "pull_policy", "IfNotPresent", id="pull-tag-ifnotpresent"),
        pytest.param(
            _ctr(image="busybox@sha256:" + "b" * 64),
            "pull_policy",
            "IfNotPresent",
            id="pull-digest-ifnotpresent",
        ),
        pytest.param(
            _ctr(image="busybox:latest", imagePullPolicy="Never"),
            "pull_policy",
            "Never",
            id="pull-explicit-kept",
        ),
        pytest.param(
            _ctr(imagePullPolicy="Always"), "pull_policy", "Always", id="pull-explicit-always"
        ),
        pytest.param(lambda m: None, "image_ref", NGINX, id="image-ref-normalised"),
        pytest.param(lambda m: None, "image", "nginx:1.25", id="image-as-written"),
        # securityContext: the container's runAsUser/runAsGroup override the pod's.
        pytest.param(lambda m: None, "run_as_user", None, id="run-as-user-unset"),
        pytest.param(
            _spec(securityContext={"runAsUser": 1000, "runAsGroup": 3000}),
            "run_as_user",
            1000,
            id="run-as-user-from-pod",
        ),
        pytest.param(
            _all(
                _spec(securityContext={"runAsUser": 1000}),
                _ctr(securityContext={"runAsUser": 2000}),
            ),
            "run_as_user",
            2000,
            id="run-as-user-container-overrides-pod",
        ),
        pytest.param(
            _all(
                _spec(securityContext={"runAsGroup": 3000}),
                _ctr(securityContext={"runAsUser": 2000}),
            ),
            "run_as_group",
            3000,
            id="run-as-group-from-pod-when-container-sets-only-user",
        ),
        pytest.param(
            _all(
                _spec(securityContext={"runAsUser": 1000}),
                _ctr(securityContext={"runAsUser": None}),
            ),
            "run_as_user",
            1000,
            id="run-as-user-null-in-container-keeps-pod",
        ),
        # The plan is the manifest's alone: nothing of the image (reconcile.md section 7).
        pytest.param(lambda m: None, "image_id", "", id="plan-holds-no-image-id"),
        pytest.param(lambda m: None, "user", "", id="plan-holds-no-image-user"),
        pytest.param(lambda m: None, "argv", (), id="plan-holds-no-argv"),
        pytest.param(lambda m: None, "command", None, id="command-unset-is-the-images"),
        pytest.param(lambda m: None, "args", None, id="args-unset-are-the-images"),
        pytest.param(lambda m: None, "working_dir", "", id="working-dir-unset-is-the-images"),
        pytest.param(lambda m: None, "stop_signal", "", id="stop-signal-unset-is-the-images"),
        pytest.param(lambda m: None, "env", (), id="env-without-image-env"),
        pytest.param(_ctr(workingDir="/app"), "working_dir", "/app", id="working-dir-manifest"),
        pytest.param(
            _ctr(args=["$(HOME)", "$(MODE)", "$$(MODE)"], env=[{"name": "MODE", "value": "x"}]),
            "args",
            ("$(HOME)", "x", "$(MODE)"),
            id="args-expand-container-env-only",
        ),
        pytest.param(_ctr(args=[]), "args", (), id="empty-args-kept-empty"),
        pytest.param(
            _ctr(command=["run", "$(MODE)"], env=[{"name": "MODE", "value": "x"}]),
            "command",
            ("run", "x"),
            id="command-expanded",
        ),
        pytest.param(
            _ctr(env=[{"name": "A", "value": "1"}, {"name": "B", "value": "$(A)-$(HOME)"}]),
            "env",
            (("A", "1"), ("B", "1-$(HOME)")),
            id="env-expands-earlier-entries-not-the-images",
        ),
        pytest.param(lambda m: None, "restart_policy", "", id="container-restart-policy-unset"),
        pytest.param(
            lambda m: None,
            "termination_message_path",
            "/dev/termination-log",
            id="termination-message-path-default",
        ),
        pytest.param(
            lambda m: None,
            "termination_message_policy",
            "File",
            id="termination-message-policy-default",
        ),
        pytest.param(lambda m: None, "kind", ContainerKind.APP, id="app-kind"),
        pytest.param(_ctr(tty=True), "tty", True, id="tty"),
    ],
)
def test_container_fields(
    mutate: Callable[[dict[str, Any]], None], attr: str, expected: Any
) -> None:
    (ctr,) = _compile(mutate).containers
    assert getattr(ctr, attr) == expected


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        pytest.param([], (), id="no-ports"),
        pytest.param(
            [{"containerPort": 80}], (PortPlan(container_port=80),), id="protocol-defaults-tcp"
        ),
        pytest.param(
            [
                {
                    "containerPort": 53,
                    "protocol": "UDP",
                    "name": "dns",
                    "hostPort": 5353,
                    "hostIP": "127.0.0.1",
                }
            ],
            (PortPlan(53, "UDP", "dns", 5353, "127.0.0.1"),),
            id="all-port-fields",
        ),
        pytest.param(
            [{"containerPort": 80}, {"containerPort": 443}],
            (PortPlan(container_port=80), PortPlan(container_port=443)),
            id="ports-in-order",
        ),
    ],
)
def test_ports(ports: list[dict[str, Any]], expected: tuple[PortPlan, ...]) -> None:
    (ctr,) = _compile(_ctr(ports=ports)).containers
    assert ctr.ports == expected


def _with_init(m: dict[str, Any]) -> None:
    m["spec"]["initContainers"] = [
        {"name": "setup", "image": "nginx:1.25", "command": ["true"]},
        {"name": "proxy", "image": "nginx:1.25", "restartPolicy": "Always"},
    ]


def test_init_containers_kind_and_order() -> None:
    plan = _compile(_with_init)
    got = [(c.name, c.kind, c.restart_policy) for c in plan.all_containers()]
    assert got == [
        ("setup", ContainerKind.INIT, ""),
        ("proxy", ContainerKind.INIT, "Always"),
        ("app", ContainerKind.APP, ""),
    ]
    assert plan.container("proxy") is plan.init_containers[1]
    assert plan.container("nope") is None


# --- spec hash (kubelet's container hash: drift means "definition changed") ---------------


def test_spec_hash_is_stable_across_uid() -> None:
    a = pods.compile_pod(_manifest(), uid="uid-1")
    b = pods.compile_pod(_manifest(), uid="uid-2")
    assert a.spec_hash == b.spec_hash
    assert a.containers[0].spec_hash == b.containers[0].spec_hash
    assert len(a.spec_hash) == 16


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(_ctr(image="nginx:1.26"), id="image-changed"),
        pytest.param(_ctr(args=["-v"]), id="args-changed"),
        pytest.param(_ctr(env=[{"name": "A", "value": "1"}]), id="env-changed"),
        pytest.param(_ctr(ports=[{"containerPort": 80}]), id="ports-changed"),
    ],
)
def test_spec_hash_changes_when_container_changes(
    mutate: Callable[[dict[str, Any]], None],
) -> None:
    base = _compile()
    changed = _compile(mutate)
    assert changed.spec_hash != base.spec_hash
    assert changed.containers[0].spec_hash != base.containers[0].spec_hash


def test_spec_hash_of_untouched_container_is_kept() -> None:
    def two(m: dict[str, Any]) -> None:
        m["spec"]["containers"].append({"name": "side", "image": "nginx:1.25"})

    def two_changed(m: dict[str, Any]) -> None:
        two(m)
        m["spec"]["containers"][0]["args"] = ["-v"]

    base, changed = _compile(two), _compile(two_changed)
    assert changed.containers[1].spec_hash == base.containers[1].spec_hash
    assert changed.containers[0].spec_hash != base.containers[0].spec_hash


def test_the_plan_and_its_hashes_are_the_same_before_and_after_a_pull() -> None:
    """kubelet hashes the container spec, not the image, and the plan holds nothing of the
    image: compiling needs no image store, so a pull changes nothing (reconcile.md 7)."""
    base = pods.compile_pod(_manifest(), uid="u")
    resolved = pods.resolve_image(base.containers[0], NGINX_IMAGE)
    again = pods.compile_pod(_manifest(), uid="u")
    assert again == base
    assert resolved.spec_hash == base.containers[0].spec_hash


def test_container_spec_hash_takes_the_pull_policy_defaulted() -> None:
    def explicit(m: dict[str, Any]) -> None:
        m["spec"]["containers"][0]["imagePullPolicy"] = _compile().containers[0].pull_policy

    assert _compile(explicit).containers[0].spec_hash == _compile().containers[0].spec_hash


# --- what the image adds when the container is created -------------------------------------

EMPTY_IMAGE = ImageRef(ref=NGINX, image_id="sha256:" + "b" * 64, config=ImageConfig())


@pytest.mark.parametrize(
    ("mutate", "image", "attr", "expected"),
    [
        # The image's ENTRYPOINT + CMD; command replaces ENTRYPOINT and drops CMD, args
        # replace CMD (define-command-argument-container/#notes).
        pytest.param(
            lambda m: None,
            NGINX_IMAGE,
            "argv",
            ("/docker-entrypoint.sh", "nginx", "-g", "daemon off;"),
            id="argv-entrypoint-and-cmd-of-the-image",
        ),
        pytest.param(
            _ctr(command=["/bin/app"]), NGINX_IMAGE, "argv", ("/bin/app",), id="command-drops-cmd"
        ),
        pytest.param(
            _ctr(command=["/bin/app"], args=["-v"]),
            NGINX_IMAGE,
            "argv",
            ("/bin/app", "-v"),
            id="command-and-args",
        ),
        pytest.param(
            _ctr(args=["-v"]),
            NGINX_IMAGE,
            "argv",
            ("/docker-entrypoint.sh", "-v"),
            id="args-replace-cmd-keep-entrypoint",
        ),
        pytest.param(
            _ctr(args=[]),
            NGINX_IMAGE,
            "argv",
            ("/docker-entrypoint.sh", "nginx", "-g", "daemon off;"),
            id="empty-args-keep-cmd",
        ),
        pytest.param(
            _ctr(args=["$(HOME)", "$(MODE)", "$$(X)"], env=[{"name": "MODE", "value": "x"}]),
            NGINX_IMAGE,
            "argv",
            ("/docker-entrypoint.sh", "$(HOME)", "x", "$(X)"),
            id="args-expanded-once-from-the-container-env-not-the-image-env",
        ),
        pytest.param(
            _ctr(command=["echo", "$$$$"]),
            NGINX_IMAGE,
            "argv",
            ("echo", "$$"),
            id="escapes-not-expanded-twice",
        ),
        pytest.param(lambda m: None, EMPTY_IMAGE, "argv", (), id="image-without-entrypoint"),
        # The image's Env under the container's (in place), then a default PATH.
        pytest.param(
            _ctr(env=[{"name": "NGINX_VERSION", "value": "2"}, {"name": "MODE", "value": "x"}]),
            NGINX_IMAGE,
            "env",
            (
                ("PATH", "/usr/sbin:/usr/bin"),
                ("NGINX_VERSION", "2"),
                ("HOME", "/root"),
                ("MODE", "x"),
            ),
            id="env-merged-over-image-in-place",
        ),
        pytest.param(
            lambda m: None,
            EMPTY_IMAGE,
            "env",
            (("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),),
            id="env-default-path",
        ),
        # workingDir: the manifest's, else the image's WorkingDir, else "/".
        pytest.param(lambda m: None, NGINX_IMAGE, "working_dir", "/srv", id="working-dir-image"),
        pytest.param(
            _ctr(workingDir="/app"), NGINX_IMAGE, "working_dir", "/app", id="working-dir-manifest"
        ),
        pytest.param(lambda m: None, EMPTY_IMAGE, "working_dir", "/", id="working-dir-root"),
        # The image's USER, resolved later against the rootfs (runAsUser still wins there).
        pytest.param(lambda m: None, NGINX_IMAGE, "user", "101", id="user-of-the-image"),
        pytest.param(lambda m: None, EMPTY_IMAGE, "user", "", id="user-unset-root"),
        # StopSignal: lifecycle.stopSignal, else the image's, else SIGTERM.
        pytest.param(lambda m: None, NGINX_IMAGE, "stop_signal", "SIGQUIT", id="stop-signal-image"),
        pytest.param(
            _ctr(lifecycle={"stopSignal": "SIGUSR1"}),
            NGINX_IMAGE,
            "stop_signal",
            "SIGUSR1",
            id="stop-signal-lifecycle-wins",
        ),
        pytest.param(
            lambda m: None, EMPTY_IMAGE, "stop_signal", "SIGTERM", id="stop-signal-default"
        ),
        pytest.param(lambda m: None, NGINX_IMAGE, "image_id", NGINX_IMAGE.image_id, id="image-id"),
    ],
)
def test_resolve_image(
    mutate: Callable[[dict[str, Any]], None], image: ImageRef, attr: str, expected: Any
) -> None:
    (ctr,) = _compile(mutate).containers
    assert getattr(pods.resolve_image(ctr, image), attr) == expected


def test_a_plan_stored_with_the_images_part_decodes_to_the_same_container() -> None:
    """A plan stored before the image left the plan had argv, env and working dir resolved;
    decoded, the image adds nothing new to them, so its containers are made as before."""
    (ctr,) = _compile(_ctr(env=[{"name": "MODE", "value": "x"}], args=["-v"])).containers
    made = pods.resolve_image(ctr, NGINX_IMAGE)
    old = json.loads(pods.to_json(_compile()))
    old_ctr = old["containers"][0]
    for key in ("command", "args"):
        del old_ctr[key]
    old_ctr.update(
        argv=list(made.argv), env=[list(e) for e in made.env], working_dir=made.working_dir
    )
    old_ctr.update(user=made.user, image_id=made.image_id, stop_signal=made.stop_signal)
    (decoded,) = pods.from_json(json.dumps(old)).containers
    again = pods.resolve_image(decoded, NGINX_IMAGE)
    assert (again.argv, dict(again.env), again.working_dir, again.stop_signal) == (
        made.argv,
        dict(made.env),
        made.working_dir,
        made.stop_signal,
    )


# --- JSON codec ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda m: None, id="minimal"),
        pytest.param(
            _all(
                _with_init,
                _meta(labels={"app": "web"}, annotations={"a": "b"}),
                _ctr(
                    ports=[{"containerPort": 80, "hostPort": 8080}],
                    env=[{"name": "A", "value": "1"}],
                    securityContext={"runAsUser": 5},
                ),
            ),
            id="init-labels-ports-env-user",
        ),
    ],
)
def test_json_round_trip(mutate: Callable[[dict[str, Any]], None]) -> None:
    plan = _compile(mutate)
    again = pods.from_json(pods.to_json(plan))
    assert again == plan
    assert again.init_containers == plan.init_containers
    assert pods.to_json(again) == pods.to_json(plan)


@pytest.mark.parametrize(
    ("links", "own", "expected"),
    [
        pytest.param(True, [], "10.96.0.10", id="service-links-injected"),
        pytest.param(False, [], None, id="enableServiceLinks-false"),
        pytest.param(
            True, [{"name": "WEB_SERVICE_HOST", "value": "mine"}], "mine", id="container-env-wins"
        ),
    ],
)
def test_service_links(links: bool, own: list[dict[str, str]], expected: str | None) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "enableServiceLinks": links,
            "containers": [{"name": "c", "image": "busybox", "env": own}],
        },
    }
    plan = pods.compile_pod(manifest, uid="u", service_env=[("WEB_SERVICE_HOST", "10.96.0.10")])
    made = pods.resolve_image(plan.containers[0], NGINX_IMAGE, service_env=plan.service_env)
    assert dict(made.env).get("WEB_SERVICE_HOST") == expected
    assert pods.from_json(pods.to_json(plan)) == plan
