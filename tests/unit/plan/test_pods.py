"""compile_pod: defaults and resolution as the API server's defaulting and the kubelet apply them.

Sources: pkg/apis/core/v1/defaults.go (SetDefaults_PodSpec, SetDefaults_Container),
pkg/kubelet/kubelet_pods.go (GeneratePodHostNameAndDomain, truncatePodHostnameIfNeeded),
https://kubernetes.io/docs/tasks/configure-pod-container/security-context/ (container
securityContext overrides the pod's).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
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
    return pods.compile_pod(manifest, uid="uid-1", images=IMAGES)


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
        pytest.param(lambda m: None, "image_id", NGINX_IMAGE.image_id, id="image-id-from-store"),
        pytest.param(_ctr(image="absent:1"), "image_id", "", id="image-missing-empty-id"),
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
        pytest.param(lambda m: None, "user", "101", id="image-user-kept-to-resolve"),
        # workingDir: the manifest's, else the image's WorkingDir, else "/".
        pytest.param(lambda m: None, "working_dir", "/srv", id="working-dir-from-image"),
        pytest.param(_ctr(workingDir="/app"), "working_dir", "/app", id="working-dir-manifest"),
        pytest.param(_ctr(image="absent:1"), "working_dir", "/", id="working-dir-default-root"),
        pytest.param(lambda m: None, "stop_signal", "SIGQUIT", id="stop-signal-from-image"),
        pytest.param(_ctr(image="absent:1"), "stop_signal", "SIGTERM", id="stop-signal-default"),
        pytest.param(
            lambda m: None,
            "argv",
            ("/docker-entrypoint.sh", "nginx", "-g", "daemon off;"),
            id="argv-from-image",
        ),
        pytest.param(
            _ctr(args=["$(HOME)", "$(MODE)"], env=[{"name": "MODE", "value": "x"}]),
            "argv",
            ("/docker-entrypoint.sh", "$(HOME)", "x"),
            id="args-expand-container-env-not-image-env",
        ),
        pytest.param(
            _ctr(env=[{"name": "NGINX_VERSION", "value": "2"}]),
            "env",
            (("PATH", "/usr/sbin:/usr/bin"), ("NGINX_VERSION", "2"), ("HOME", "/root")),
            id="env-merged-over-image",
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
    a = pods.compile_pod(_manifest(), uid="uid-1", images=IMAGES)
    b = pods.compile_pod(_manifest(), uid="uid-2", images=IMAGES)
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


@pytest.mark.parametrize(
    "images",
    [
        pytest.param({}, id="before-the-pull"),
        pytest.param(IMAGES, id="after-the-pull"),
        pytest.param(
            {NGINX: replace(NGINX_IMAGE, image_id="sha256:" + "e" * 64)}, id="after-a-new-pull"
        ),
    ],
)
def test_container_spec_hash_is_the_manifests_so_stable_across_pulls(
    images: dict[str, Any],
) -> None:
    """kubelet hashes the container spec, not the image: a pull never restarts anything."""
    base = pods.compile_pod(_manifest(), uid="u", images=IMAGES)
    again = pods.compile_pod(_manifest(), uid="u", images=images)
    assert again.containers[0].spec_hash == base.containers[0].spec_hash


def test_container_spec_hash_takes_the_pull_policy_defaulted() -> None:
    def explicit(m: dict[str, Any]) -> None:
        m["spec"]["containers"][0]["imagePullPolicy"] = _compile().containers[0].pull_policy

    assert _compile(explicit).containers[0].spec_hash == _compile().containers[0].spec_hash


def test_spec_hash_ignores_the_image_store_object_identity() -> None:
    images = {NGINX: replace(NGINX_IMAGE, config=copy.deepcopy(NGINX_IMAGE.config))}
    a = pods.compile_pod(_manifest(), uid="u", images=IMAGES)
    b = pods.compile_pod(_manifest(), uid="u", images=images)
    assert a == b


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
    plan = pods.compile_pod(
        manifest, uid="u", images={}, service_env=[("WEB_SERVICE_HOST", "10.96.0.10")]
    )
    assert dict(plan.containers[0].env).get("WEB_SERVICE_HOST") == expected
    assert pods.from_json(pods.to_json(plan)) == plan
