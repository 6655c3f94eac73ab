"""compute_apply: kubectl apply's decisions, kind by kind (reconcile.md §2).

Sources: kubectl apply (create / configure / unchanged / prune, its output), the API server's
update validation (pkg/apis/core/validation ValidatePodUpdate, ValidateConfigMapUpdate,
ValidatePersistentVolumeClaimUpdate, ValidateServiceUpdate; apps/validation
ValidateDeploymentUpdate, ValidateStatefulSetUpdate; batch/validation ValidateJobSpecUpdate),
registry/core/service patchAllocatedValues (k8s #23551), and the prune-disabled annotations of
kubeplay, Flux and Argo CD.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubeplay.kube import defaults
from kubeplay.kube.kinds import ObjectKey
from kubeplay.kube.objects import KubeObject
from kubeplay.plan import apply
from kubeplay.plan.apply import AppliedRecord, ApplyMode, Effect, Reason

SOURCE = "apply:/srv/app"


def pod(name: str = "web", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]},
    }
    body["spec"].update(spec)
    return body


def configmap(name: str = "cfg", **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **fields}


def secret(name: str = "creds", **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, **fields}


def pvc(name: str = "data", size: str = "1Gi", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
            **spec,
        },
    }


def template(image: str = "nginx:1.27", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"labels": labels or {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def deployment(name: str = "web", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()},
    }
    body["spec"].update(spec)
    return body


def statefulset(name: str = "db", **spec: Any) -> dict[str, Any]:
    body = deployment(name, serviceName="db")
    body["kind"] = "StatefulSet"
    body["spec"].update(spec)
    return body


def daemonset(name: str = "agent", **spec: Any) -> dict[str, Any]:
    body = deployment(name)
    body["kind"] = "DaemonSet"
    body["spec"].update(spec)
    return body


def replicaset(name: str = "web-abc", **spec: Any) -> dict[str, Any]:
    body = deployment(name)
    body["kind"] = "ReplicaSet"
    body["spec"].update(spec)
    return body


def job(name: str = "once", **spec: Any) -> dict[str, Any]:
    tpl = template("busybox:1.36")
    tpl["spec"]["restartPolicy"] = "Never"
    body: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": tpl},
    }
    body["spec"].update(spec)
    return body


def cronjob(name: str = "tick", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": job()["spec"]}},
    }
    body["spec"].update(spec)
    return body


def service(name: str = "web", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    body["spec"].update(spec)
    return body


def generic(kind: str, api_version: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, **fields}


def obj(body: dict[str, Any], source: str = "app.yaml", doc: int = 1) -> KubeObject:
    return KubeObject(copy.deepcopy(body), source=source, doc_index=doc)


def stored(
    body: dict[str, Any],
    *,
    source: str = SOURCE,
    live: dict[str, Any] | None = None,
    owner_uid: str = "",
    uid: str = "uid-1",
) -> AppliedRecord:
    """A record as the store keeps it after applying `body`: live = defaulted + server fields."""
    live_body = defaults.default_object(copy.deepcopy(live if live is not None else body))
    live_body.setdefault("metadata", {}).update(
        {"uid": uid, "creationTimestamp": "2026-01-01T00:00:00Z", "generation": 1}
    )
    return AppliedRecord(
        key=apply.key_of(obj(body)),
        uid=uid,
        source=source,
        last_applied=copy.deepcopy(body),
        last_applied_sha256=apply.manifest_sha256(body),
        live=live_body,
        owner_uid=owner_uid,
    )


def one(
    new: dict[str, Any],
    old: dict[str, Any] | AppliedRecord | None,
    *,
    mode: ApplyMode = ApplyMode.APPLY,
    force: bool = False,
    source: str = SOURCE,
) -> apply.ApplyEntry:
    records = [] if old is None else [old if isinstance(old, AppliedRecord) else stored(old)]
    actions = apply.compute_apply([obj(new)], records, source=source, mode=mode, force=force)
    entries = actions.entries()
    assert len(entries) == 1, entries
    return entries[0]


def with_(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of body with the dotted path set (`spec.containers.0.image`)."""
    out = copy.deepcopy(body)
    parts = path.split(".")
    node: Any = out
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


def without(body: dict[str, Any], path: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    parts = path.split(".")
    node: Any = out
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    del node[parts[-1]]
    return out


# --- every reason, every kind -------------------------------------------------------------------

CASES = [
    # create
    pytest.param(pod(), None, ApplyMode.APPLY, Reason.NEW, "pod/web created", id="pod-created"),
    pytest.param(
        deployment(),
        None,
        ApplyMode.APPLY,
        Reason.NEW,
        "deployment.apps/web created",
        id="deployment-created-with-group",
    ),
    pytest.param(
        generic("ClusterRole", "rbac.authorization.k8s.io/v1", "system:kube-scheduler"),
        None,
        ApplyMode.APPLY,
        Reason.NEW,
        "clusterrole.rbac.authorization.k8s.io/system:kube-scheduler created",
        id="clusterrole-path-segment-name-created",
    ),
    pytest.param(
        generic("Widget", "example.com/v1", "w1", spec={"size": 1}),
        None,
        ApplyMode.APPLY,
        Reason.NEW,
        "widget.example.com/w1 created",
        id="custom-resource-created",
    ),
    # unchanged
    pytest.param(
        pod(), pod(), ApplyMode.APPLY, Reason.UNCHANGED, "pod/web unchanged", id="pod-unchanged"
    ),
    pytest.param(
        deployment(),
        deployment(),
        ApplyMode.APPLY,
        Reason.UNCHANGED,
        "deployment.apps/api unchanged".replace("api", "web"),
        id="deployment-unchanged",
    ),
    pytest.param(
        with_(pod(), "spec.containers.0.imagePullPolicy", "IfNotPresent"),
        pod(),
        ApplyMode.APPLY,
        Reason.UNCHANGED,
        "pod/web unchanged",
        id="explicit-default-pull-policy-unchanged",
    ),
    pytest.param(
        with_(deployment(), "spec.replicas", 1),
        deployment(),
        ApplyMode.APPLY,
        Reason.UNCHANGED,
        "deployment.apps/web unchanged",
        id="explicit-default-replicas-unchanged",
    ),
    pytest.param(
        with_(service(), "spec.ports", [{"port": 80, "targetPort": 80, "protocol": "TCP"}]),
        service(),
        ApplyMode.APPLY,
        Reason.UNCHANGED,
        "service/web unchanged",
        id="explicit-default-service-port-unchanged",
    ),
    pytest.param(
        with_(secret(data={"a": "YQ=="}), "type", "Opaque"),
        secret(data={"a": "YQ=="}),
        ApplyMode.APPLY,
        Reason.UNCHANGED,
        "secret/creds unchanged",
        id="explicit-default-secret-type-unchanged",
    ),
    pytest.param(
        with_(pod(), "spec.containers.0.resources", {}),
        pod(),
        ApplyMode.APPLY,
        Reason.UNCHANGED,
        "pod/web unchanged",
        id="empty-resources-is-no-resources",
    ),
    pytest.param(
        with_(with_(pod(), "metadata.labels", {}), "spec.containers.0.env", []),
        pod(),
        ApplyMode.APPLY,
        Reason.UNCHANGED,
        "pod/web unchanged",
        id="empty-labels-and-env-are-omitted",
    ),
    pytest.param(
        with_(pod(), "spec.containers.0.resources", {"limits": {"cpu": "0.5", "memory": "1Gi"}}),
        with_(
            pod(), "spec.containers.0.resources", {"limits": {"cpu": "500m", "memory": "1024Mi"}}
        ),
        ApplyMode.APPLY,
        Reason.UNCHANGED,
        "pod/web unchanged",
        id="quantities-compared-by-value",
    ),
    pytest.param(
        pvc(size="1073741824"),
        pvc(size="1Gi"),
        ApplyMode.APPLY,
        Reason.UNCHANGED,
        "persistentvolumeclaim/data unchanged",
        id="claim-size-in-bytes-is-the-same-size",
    ),
    pytest.param(
        with_(deployment(), "spec.paused", None),
        deployment(),
        ApplyMode.APPLY,
        Reason.UNCHANGED,
        "deployment.apps/web unchanged",
        id="null-is-unset",
    ),
    pytest.param(
        secret(stringData={"a": "a"}),
        secret(data={"a": "YQ=="}),
        ApplyMode.APPLY,
        Reason.UNCHANGED,
        "secret/creds unchanged",
        id="secret-stringdata-equal-to-data-unchanged",
    ),
    # configured
    pytest.param(
        configmap(data={"k": "2"}),
        configmap(data={"k": "1"}),
        ApplyMode.APPLY,
        Reason.CHANGED,
        "configmap/cfg configured",
        id="configmap-data-configured",
    ),
    pytest.param(
        with_(pod(), "metadata.labels", {"tier": "web"}),
        pod(),
        ApplyMode.APPLY,
        Reason.METADATA_ONLY,
        "pod/web configured",
        id="pod-label-metadata-only",
    ),
    pytest.param(
        with_(pod(), "spec.containers.0.image", "busybox:1.37"),
        pod(),
        ApplyMode.APPLY,
        Reason.CHANGED,
        "pod/web configured",
        id="pod-image-configured-in-place",
    ),
    pytest.param(
        with_(deployment(), "spec.replicas", 3),
        deployment(),
        ApplyMode.APPLY,
        Reason.CHANGED,
        "deployment.apps/web configured",
        id="deployment-scaled",
    ),
    pytest.param(
        with_(cronjob(), "spec.schedule", "0 * * * *"),
        cronjob(),
        ApplyMode.APPLY,
        Reason.CHANGED,
        "cronjob.batch/tick configured",
        id="cronjob-everything-mutable",
    ),
    pytest.param(
        generic("Role", "rbac.authorization.k8s.io/v1", "reader", rules=[{"verbs": ["get"]}]),
        generic("Role", "rbac.authorization.k8s.io/v1", "reader", rules=[]),
        ApplyMode.APPLY,
        Reason.CHANGED,
        "role.rbac.authorization.k8s.io/reader configured",
        id="role-rules-configured",
    ),
    # recreate
    pytest.param(
        with_(pod(), "spec.containers.0.env", [{"name": "A", "value": "1"}]),
        pod(),
        ApplyMode.APPLY,
        Reason.RECREATE,
        "pod/web replaced (spec.containers[0].env changed; pods are immutable)",
        id="pod-env-change-recreates-without-force",
    ),
    pytest.param(
        pod(),
        pod(),
        ApplyMode.REPLACE,
        Reason.RECREATE,
        "pod/web replaced",
        id="play-replace-recreates-even-unchanged",
    ),
    # refused
    pytest.param(
        pod(),
        pod(),
        ApplyMode.PLAY,
        Reason.EXISTS,
        "pod default/web: already exists",
        id="play-refuses-stored-pod",
    ),
    pytest.param(
        deployment(),
        deployment(),
        ApplyMode.PLAY,
        Reason.EXISTS,
        "deployment default/web: already exists",
        id="play-refuses-stored-deployment",
    ),
    pytest.param(
        configmap(data={"k": "2"}),
        configmap(data={"k": "1"}),
        ApplyMode.PLAY,
        Reason.CHANGED,
        "configmap/cfg configured",
        id="play-configures-stored-configmap",
    ),
    pytest.param(
        generic("ServiceAccount", "v1", "sa"),
        generic("ServiceAccount", "v1", "sa"),
        ApplyMode.PLAY,
        Reason.UNCHANGED,
        "serviceaccount/sa unchanged",
        id="play-leaves-stored-serviceaccount-unchanged",
    ),
    pytest.param(
        pvc(),
        pvc(),
        ApplyMode.REPLACE,
        Reason.UNCHANGED,
        "persistentvolumeclaim/data unchanged",
        id="play-replace-keeps-a-claim",
    ),
    pytest.param(
        job(),
        job(),
        ApplyMode.PLAY,
        Reason.EXISTS,
        "job default/once: already exists",
        id="play-refuses-stored-job",
    ),
    pytest.param(
        configmap(data={"k": "2", "x": "1"}, immutable=True),
        configmap(data={"k": "1"}, immutable=True),
        ApplyMode.APPLY,
        Reason.IMMUTABLE,
        'The ConfigMap "cfg" is invalid: data: Forbidden: field is immutable when '
        "`immutable` is set",
        id="immutable-configmap-refused",
    ),
    pytest.param(
        secret(type="kubernetes.io/tls", data={"a": "YQ=="}),
        secret(data={"a": "YQ=="}),
        ApplyMode.APPLY,
        Reason.IMMUTABLE,
        'The Secret "creds" is invalid: type: Forbidden: field is immutable',
        id="secret-type-refused",
    ),
    pytest.param(
        with_(deployment(), "spec.selector", {"matchLabels": {"app": "web", "v": "2"}}),
        deployment(),
        ApplyMode.APPLY,
        Reason.IMMUTABLE,
        'The Deployment "web" is invalid: spec.selector: Invalid value: '
        '{"matchLabels":{"app":"web","v":"2"}}: field is immutable',
        id="deployment-selector-immutable",
    ),
    pytest.param(
        pvc(storageClassName="fast"),
        pvc(),
        ApplyMode.APPLY,
        Reason.IMMUTABLE,
        'The PersistentVolumeClaim "data" is invalid: spec: Forbidden: spec is immutable '
        "after creation except resources.requests and volumeAttributesClassName for bound "
        "claims",
        id="pvc-storage-class-immutable",
    ),
    pytest.param(
        with_(job(), "spec.completions", 5),
        job(),
        ApplyMode.APPLY,
        Reason.IMMUTABLE,
        'The Job "once" is invalid: spec.completions: Invalid value: 5: field is immutable',
        id="job-completions-immutable",
    ),
    pytest.param(
        with_(statefulset(), "spec.serviceName", "other"),
        statefulset(),
        ApplyMode.APPLY,
        Reason.IMMUTABLE,
        f'The StatefulSet "db" is invalid: spec: Forbidden: {apply.STATEFULSET_UPDATE_MESSAGE}',
        id="statefulset-service-name-immutable",
    ),
]


@pytest.mark.parametrize(("new", "old", "mode", "reason", "message"), CASES)
def test_reason_and_message(
    new: dict[str, Any],
    old: dict[str, Any] | AppliedRecord | None,
    mode: ApplyMode,
    reason: Reason,
    message: str,
) -> None:
    source = apply.PLAY_SOURCE if mode in (ApplyMode.PLAY, ApplyMode.REPLACE) else SOURCE
    if isinstance(old, dict) and source == apply.PLAY_SOURCE:
        old = stored(old, source=source)
    entry = one(new, old, mode=mode, source=source)
    assert (entry.reason, entry.message) == (reason, message)


# --- ownership: which source an object belongs to -------------------------------------------

WATCHED = apply.WATCHED_SOURCE_PREFIX + "app"
PLAY_TAKEOVER = (
    "pod/web was created by play, not apply: apply takes it over (an apply --prune of these "
    "paths now removes it once it leaves them)"
)


@pytest.mark.parametrize(
    ("new", "record", "mode", "reason", "message", "taken_from", "warning"),
    [
        pytest.param(
            pod(),
            stored(pod(), source="apply:/elsewhere"),
            ApplyMode.APPLY,
            Reason.UNCHANGED,
            "pod/web unchanged",
            "apply:/elsewhere",
            "",
            id="last-applier-takes-over-an-unchanged-object",
        ),
        pytest.param(
            configmap(data={"k": "2"}),
            stored(configmap(data={"k": "1"}), source="apply:/elsewhere"),
            ApplyMode.APPLY,
            Reason.CHANGED,
            "configmap/cfg configured",
            "apply:/elsewhere",
            "",
            id="last-applier-wins-a-changed-object",
        ),
        pytest.param(
            with_(pod(), "spec.containers.0.env", [{"name": "A", "value": "1"}]),
            stored(pod(), source="apply:/elsewhere"),
            ApplyMode.APPLY,
            Reason.RECREATE,
            "pod/web replaced (spec.containers[0].env changed; pods are immutable)",
            "apply:/elsewhere",
            "",
            id="last-applier-recreates-a-pod-it-takes-over",
        ),
        pytest.param(
            pod(),
            stored(pod(), source=apply.PLAY_SOURCE),
            ApplyMode.APPLY,
            Reason.UNCHANGED,
            "pod/web unchanged",
            apply.PLAY_SOURCE,
            PLAY_TAKEOVER,
            id="apply-of-a-played-object-takes-it-over-with-a-warning",
        ),
        pytest.param(
            pod(),
            stored(pod(), source=WATCHED),
            ApplyMode.APPLY,
            Reason.OWNED_BY_OTHER_SOURCE,
            "pod/web: not applied: managed by watched source app, which would put it back "
            "(change it there, or unwatch it)",
            "",
            "",
            id="watched-source-object-refused",
        ),
        pytest.param(
            pod(),
            stored(pod(), source="", owner_uid="rs-uid"),
            ApplyMode.APPLY,
            Reason.OWNED_BY_OTHER_SOURCE,
            "pod/web: not applied: managed by its owner",
            "",
            "",
            id="controller-made-pod-belongs-to-its-owner",
        ),
        pytest.param(
            configmap(),
            stored(configmap(), source=SOURCE),
            ApplyMode.PLAY,
            Reason.OWNED_BY_OTHER_SOURCE,
            f"configmap/cfg: not applied: managed by source {SOURCE}",
            "",
            "",
            id="play-never-takes-over",
        ),
        pytest.param(
            configmap(),
            stored(configmap(), source=apply.PLAY_SOURCE),
            ApplyMode.WATCH,
            Reason.OWNED_BY_OTHER_SOURCE,
            "configmap/cfg: not applied: managed by source play",
            "",
            "",
            id="watch-never-takes-over",
        ),
        pytest.param(
            configmap(),
            stored(configmap(), source=""),
            ApplyMode.APPLY,
            Reason.UNCHANGED,
            "configmap/cfg unchanged",
            "",
            "",
            id="unowned-object-is-applied",
        ),
    ],
)
def test_ownership(
    new: dict[str, Any],
    record: AppliedRecord,
    mode: ApplyMode,
    reason: Reason,
    message: str,
    taken_from: str,
    warning: str,
) -> None:
    source = apply.PLAY_SOURCE if mode is ApplyMode.PLAY else SOURCE
    entry = one(new, record, mode=mode, source=source)
    assert (entry.reason, entry.message) == (reason, message)
    assert (entry.taken_from, entry.warning) == (taken_from, warning)


def test_entries_land_in_their_list() -> None:
    records = [
        stored(pod("same")),
        stored(pod("changed")),
        stored(configmap(immutable=True, data={"a": "1"})),
        stored(pod("gone")),
    ]
    actions = apply.compute_apply(
        [
            obj(pod("same")),
            obj(with_(pod("changed"), "spec.containers.0.image", "busybox:2")),
            obj(configmap(immutable=True, data={"a": "2"})),
            obj(pod("new")),
        ],
        records,
        source=SOURCE,
        mode=ApplyMode.APPLY,
        prune=True,
    )
    names = {
        field: [e.key.name for e in getattr(actions, field)]
        for field in ("create", "update", "unchanged", "prune", "refused")
    }
    assert names == {
        "create": ["new"],
        "update": ["changed"],
        "unchanged": ["same"],
        "prune": ["gone"],
        "refused": ["cfg"],
    }
    assert actions.changes


# --- what an update does ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("new", "old", "effect", "containers"),
    [
        pytest.param(
            with_(pod(), "spec.containers.0.image", "busybox:1.37"),
            pod(),
            Effect.RESTART,
            ("app",),
            id="pod-image-restarts-that-container-in-place",
        ),
        pytest.param(
            with_(pod(), "spec.containers.0.image", "busybox:v2"),
            with_(pod(), "spec.containers.0.image", "busybox:latest"),
            Effect.RESTART,
            ("app",),
            id="pod-image-from-latest-to-a-tag-keeps-its-pull-policy-in-place",
        ),
        pytest.param(
            with_(pod(), "spec.containers.0.image", "busybox:latest"),
            with_(pod(), "spec.containers.0.image", "busybox:v2"),
            Effect.RESTART,
            ("app",),
            id="pod-image-from-a-tag-to-latest-keeps-its-pull-policy-in-place",
        ),
        pytest.param(
            with_(
                pod(initContainers=[{"name": "init", "image": "busybox:1"}]),
                "spec.initContainers.0.image",
                "busybox:2",
            ),
            pod(initContainers=[{"name": "init", "image": "busybox:1"}]),
            Effect.RESTART,
            ("init",),
            id="init-container-image-in-place",
        ),
        pytest.param(
            pod(activeDeadlineSeconds=30),
            pod(),
            Effect.NONE,
            (),
            id="pod-active-deadline-set-in-place",
        ),
        pytest.param(
            pod(activeDeadlineSeconds=10),
            pod(activeDeadlineSeconds=30),
            Effect.NONE,
            (),
            id="pod-active-deadline-lowered-in-place",
        ),
        pytest.param(
            pod(tolerations=[{"key": "a", "operator": "Exists"}]),
            pod(),
            Effect.NONE,
            (),
            id="pod-toleration-added-in-place",
        ),
        pytest.param(
            with_(deployment(), "spec.template.spec.containers.0.image", "nginx:1.28"),
            deployment(),
            Effect.ROLLOUT,
            (),
            id="deployment-template-rolls-out",
        ),
        pytest.param(
            with_(
                deployment(),
                "spec.template.spec.containers.0.resources",
                {"limits": {"memory": "2Gi"}},
            ),
            with_(
                deployment(),
                "spec.template.spec.containers.0.resources",
                {"limits": {"memory": "1Gi"}},
            ),
            Effect.ROLLOUT,
            (),
            id="deployment-memory-limit-by-value-rolls-out",
        ),
        pytest.param(
            with_(deployment(), "spec.replicas", 4),
            deployment(),
            Effect.NONE,
            (),
            id="deployment-replicas-scale-without-rollout",
        ),
        pytest.param(
            with_(deployment(), "spec.strategy", {"type": "Recreate"}),
            deployment(),
            Effect.NONE,
            (),
            id="deployment-strategy-no-rollout",
        ),
        pytest.param(
            with_(daemonset(), "spec.template.spec.containers.0.image", "nginx:1.28"),
            daemonset(),
            Effect.ROLLOUT,
            (),
            id="daemonset-template-rolls-out",
        ),
        pytest.param(
            with_(statefulset(), "spec.template.spec.containers.0.image", "nginx:1.28"),
            statefulset(),
            Effect.ROLLOUT,
            (),
            id="statefulset-template-rolls-out",
        ),
        pytest.param(
            with_(statefulset(), "spec.replicas", 3),
            statefulset(),
            Effect.NONE,
            (),
            id="statefulset-replicas-mutable",
        ),
        pytest.param(
            with_(replicaset(), "spec.template.spec.containers.0.image", "nginx:1.28"),
            replicaset(),
            Effect.NONE,
            (),
            id="replicaset-template-changes-no-pods",
        ),
        pytest.param(
            with_(job(), "spec.parallelism", 3),
            job(),
            Effect.NONE,
            (),
            id="job-parallelism-mutable",
        ),
        pytest.param(
            with_(job(), "spec.suspend", True),
            job(),
            Effect.NONE,
            (),
            id="job-suspend-mutable",
        ),
        pytest.param(
            with_(job(), "spec.ttlSecondsAfterFinished", 60),
            job(),
            Effect.NONE,
            (),
            id="job-ttl-mutable",
        ),
        pytest.param(
            with_(
                job(completionMode="Indexed", completions=2, parallelism=2),
                "spec.completions",
                4,
            )
            | {"spec": job(completionMode="Indexed", completions=4, parallelism=4)["spec"]},
            job(completionMode="Indexed", completions=2, parallelism=2),
            Effect.NONE,
            (),
            id="elastic-indexed-job-completions-mutable",
        ),
        pytest.param(
            pvc(size="2Gi"),
            pvc(size="1Gi"),
            Effect.NONE,
            (),
            id="pvc-size-increase",
        ),
        pytest.param(
            with_(service(), "spec.ports", [{"port": 8080}]),
            service(),
            Effect.NONE,
            (),
            id="service-ports-mutable",
        ),
        pytest.param(
            with_(service(), "spec.type", "NodePort"),
            service(),
            Effect.NONE,
            (),
            id="service-type-mutable",
        ),
        pytest.param(
            configmap(data={"k": "2"}),
            configmap(data={"k": "1"}),
            Effect.NONE,
            (),
            id="configmap-data-no-restart",
        ),
    ],
)
def test_update_effect(
    new: dict[str, Any], old: dict[str, Any], effect: Effect, containers: tuple[str, ...]
) -> None:
    entry = one(new, old)
    assert entry.reason is Reason.CHANGED, entry.message
    assert (entry.effect, entry.restart_containers, entry.spec_changed) == (
        effect,
        containers,
        True,
    )


@pytest.mark.parametrize(
    ("new", "old", "path"),
    [
        pytest.param(
            pod(activeDeadlineSeconds=60),
            pod(activeDeadlineSeconds=30),
            "spec.activeDeadlineSeconds",
            id="pod-active-deadline-raised-recreates",
        ),
        pytest.param(
            pod(tolerations=[]),
            pod(tolerations=[{"key": "a", "operator": "Exists"}]),
            "spec.tolerations",
            id="pod-toleration-removed-recreates",
        ),
        pytest.param(
            with_(pod(), "spec.containers.0.ports", [{"containerPort": 80}]),
            pod(),
            "spec.containers[0].ports",
            id="pod-ports-recreate",
        ),
        pytest.param(
            pod(restartPolicy="Never"),
            pod(),
            "spec.restartPolicy",
            id="pod-restart-policy-recreates",
        ),
        pytest.param(
            with_(pod(), "spec.containers.0.imagePullPolicy", "Always"),
            pod(),
            "spec.containers[0].imagePullPolicy",
            id="pod-pull-policy-is-not-the-image",
        ),
        pytest.param(
            with_(pod(), "spec.containers.0.env", [{"name": "MODE", "value": "b"}]),
            with_(pod(), "spec.containers.0.env", [{"name": "MODE", "value": "a"}]),
            "spec.containers[0].env",
            id="pod-env-value-change-names-the-env-list",
        ),
    ],
)
def test_pod_changes_kubernetes_refuses_recreate(
    new: dict[str, Any], old: dict[str, Any], path: str
) -> None:
    entry = one(new, old)
    assert entry.reason is Reason.RECREATE
    assert entry.effect is Effect.RECREATE
    assert entry.message == f"pod/web replaced ({path} changed; pods are immutable)"


def test_force_recreates_what_the_api_server_refuses() -> None:
    entry = one(
        configmap(data={"k": "2"}, immutable=True),
        configmap(data={"k": "1"}, immutable=True),
        force=True,
    )
    assert (entry.reason, entry.effect) == (Reason.RECREATE, Effect.RECREATE)
    assert entry.message == "configmap/cfg replaced (data.k changed; forced)"


def test_force_never_recreates_a_claim() -> None:
    entry = one(pvc(storageClassName="fast"), pvc(), force=True)
    assert entry.reason is Reason.IMMUTABLE


def test_pvc_shrink_refused() -> None:
    entry = one(pvc(size="512Mi"), pvc(size="1Gi"))
    assert entry.reason is Reason.IMMUTABLE
    assert "spec.resources.requests.storage: Forbidden" in entry.message


def test_watch_recreates_a_changed_pod_and_refuses_a_job_template() -> None:
    watched = one(pod(restartPolicy="Never"), pod(), mode=ApplyMode.WATCH)
    assert watched.reason is Reason.RECREATE
    job_entry = one(
        with_(job(), "spec.template.spec.containers.0.image", "busybox:2"),
        job(),
        mode=ApplyMode.WATCH,
    )
    assert job_entry.reason is Reason.IMMUTABLE
    assert job_entry.message.startswith('The Job "once" is invalid: spec.template: Invalid value:')
    assert job_entry.message.endswith(": field is immutable")


def test_service_cluster_ip_immutable_and_kept_when_omitted() -> None:
    live = with_(service(), "spec.clusterIP", "10.96.0.10")
    live["spec"]["clusterIPs"] = ["10.96.0.10"]
    record = stored(service(), live=live)
    kept = one(with_(service(), "spec.ports", [{"port": 81}]), record)
    assert kept.reason is Reason.CHANGED
    assert kept.body["spec"]["clusterIP"] == "10.96.0.10"
    changed = one(with_(service(), "spec.clusterIP", "10.96.0.11"), record)
    assert changed.reason is Reason.IMMUTABLE
    assert changed.message == (
        'The Service "web" is invalid: spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: '
        "may not change once set"
    )


def test_service_allocated_node_port_kept_when_manifest_omits_it() -> None:
    manifest = service(type="NodePort", ports=[{"name": "http", "port": 80}])
    live = copy.deepcopy(manifest)
    live["spec"]["ports"][0]["nodePort"] = 30080
    record = stored(manifest, live=live)
    new = service(type="NodePort", ports=[{"name": "http", "port": 80, "targetPort": 8080}])
    entry = one(new, record)
    assert entry.reason is Reason.CHANGED
    assert entry.body["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 30080}
    ]


# --- the unchanged fast path and the three-way merge ----------------------------------------


def test_key_order_never_changes_anything() -> None:
    body = pod()
    reordered = {k: body[k] for k in reversed(list(body))}
    assert apply.manifest_sha256(body) == apply.manifest_sha256(reordered)
    entry = one(reordered, body)
    assert entry.reason is Reason.UNCHANGED
    assert entry.body is not None and entry.uid == "uid-1"


def test_explicit_default_records_the_new_manifest_without_change() -> None:
    new = with_(pod(), "spec.restartPolicy", "Always")
    entry = one(new, pod())
    assert entry.reason is Reason.UNCHANGED
    assert entry.last_applied == new
    assert entry.last_applied_sha256 == apply.manifest_sha256(new)


def test_replicas_left_out_keep_a_scale() -> None:
    """`replicas` not in the file: a `kubeplay scale` survives re-apply; written, apply resets."""
    live = with_(deployment(), "spec.replicas", 5)
    record = stored(deployment(), live=live)
    relabelled = with_(deployment(), "metadata.labels", {"a": "b"})
    entry = one(relabelled, record)
    assert entry.reason is Reason.METADATA_ONLY
    assert entry.body["spec"]["replicas"] == 5
    reset = one(with_(deployment(), "spec.replicas", 2), record)
    assert reset.body["spec"]["replicas"] == 2


def test_watch_sets_back_a_field_the_file_sets_changed_by_hand() -> None:
    """The same manifest: apply keeps a scale (the unchanged fast path); a watched source's
    relist merges even so, so the replicas it sets go back and the rest of live stays."""
    manifest = with_(deployment(), "spec.replicas", 2)
    live = with_(with_(manifest, "spec.replicas", 5), "spec.paused", True)
    record = stored(manifest, live=live)
    assert one(manifest, record).reason is Reason.UNCHANGED
    watched = one(manifest, record, mode=ApplyMode.WATCH)
    assert watched.reason is Reason.CHANGED
    assert (watched.body["spec"]["replicas"], watched.body["spec"]["paused"]) == (2, True)
    assert one(manifest, stored(manifest), mode=ApplyMode.WATCH).reason is Reason.UNCHANGED


def test_field_removed_from_manifest_goes_back_to_its_default() -> None:
    old = with_(deployment(), "spec.revisionHistoryLimit", 3)
    entry = one(deployment(), old)
    assert entry.reason is Reason.CHANGED
    assert entry.body["spec"]["revisionHistoryLimit"] == 10


def test_lists_are_atomic() -> None:
    """Same port on TCP and UDP (k8s #39188): the manifest's list replaces the live one whole."""
    old = service(ports=[{"name": "dns", "port": 53, "protocol": "UDP"}])
    new = service(
        ports=[
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        ]
    )
    entry = one(new, old)
    assert [(p["name"], p["protocol"]) for p in entry.body["spec"]["ports"]] == [
        ("dns", "UDP"),
        ("dns-tcp", "TCP"),
    ]


def test_image_tag_change_keeps_the_defaulted_pull_policy() -> None:
    """`:latest` was defaulted to imagePullPolicy Always; a new tag changes only the image
    (containers merge by name, as strategic merge patch does), so the kubelet restarts that
    container in place instead of the pod being replaced."""
    old = with_(pod(), "spec.containers.0.image", "busybox:latest")
    entry = one(with_(pod(), "spec.containers.0.image", "busybox:1.37"), old)
    assert (entry.reason, entry.effect, entry.restart_containers) == (
        Reason.CHANGED,
        Effect.RESTART,
        ("app",),
    )
    assert entry.body["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_containers_merge_by_name_in_the_manifest_order() -> None:
    last = {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y", "args": ["1"]}]}
    live = {
        "containers": [
            {"name": "a", "image": "x", "imagePullPolicy": "Always"},
            {"name": "b", "image": "y", "args": ["1"], "imagePullPolicy": "Never"},
        ]
    }
    new = {"containers": [{"name": "c", "image": "z"}, {"name": "b", "image": "y2"}]}
    assert apply.three_way_merge(last, new, live) == {
        "containers": [
            {"name": "c", "image": "z"},
            {"name": "b", "image": "y2", "imagePullPolicy": "Never"},
        ]
    }


def test_server_set_fields_survive_the_merge() -> None:
    entry = one(configmap(data={"k": "2"}), configmap(data={"k": "1"}))
    assert entry.body["metadata"]["uid"] == "uid-1"
    assert entry.before["data"] == {"k": "1"}


@pytest.mark.parametrize(
    ("old", "new", "paths"),
    [
        pytest.param(
            {"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}]}},
            {"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "2"}]}]}},
            ["spec.containers[0].env"],
            id="atomic-list-is-one-field",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}},
            {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "z"}]}},
            ["spec.containers[1].image"],
            id="containers-followed-item-by-item",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "a", "image": "x"}]}},
            {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}},
            ["spec.containers"],
            id="container-added-is-the-list",
        ),
        pytest.param(
            {"spec": {"ports": [{"port": 80}]}},
            {"spec": {"ports": [{"port": 8080}]}},
            ["spec.ports"],
            id="service-ports-one-field",
        ),
        pytest.param(
            {"data": {"a": "1", "b": "2"}},
            {"data": {"a": "1", "c": "3"}},
            ["data.c", "data.b"],
            id="map-keys-deepest-in-manifest-order",
        ),
    ],
)
def test_diff_paths(old: dict[str, Any], new: dict[str, Any], paths: list[str]) -> None:
    assert list(apply.diff_paths(old, new)) == paths


def test_three_way_merge() -> None:
    last = {"a": 1, "m": {"x": 1, "y": 2}, "l": [1, 2]}
    new = {"a": 2, "m": {"x": 1}, "l": [3]}
    live = {"a": 1, "m": {"x": 1, "y": 2, "z": 9}, "l": [1, 2], "server": True}
    assert apply.three_way_merge(last, new, live) == {
        "a": 2,
        "m": {"x": 1, "z": 9},
        "l": [3],
        "server": True,
    }


def test_large_configmap_has_no_annotation_limit() -> None:
    big = configmap(data={"blob": "x" * 300_000})
    entry = one(big, configmap(data={"blob": ""}))
    assert entry.reason is Reason.CHANGED


# --- prune ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotations", "reason", "message"),
    [
        pytest.param({}, Reason.GONE_FROM_SOURCE, "pod/old pruned", id="gone-from-source"),
        pytest.param(
            {"kubeplay.io/prune": "disabled"},
            Reason.PRUNE_DISABLED,
            "pod/old not pruned (kubeplay.io/prune: disabled)",
            id="kubeplay-prune-disabled",
        ),
        pytest.param(
            {"kustomize.toolkit.fluxcd.io/prune": "disabled"},
            Reason.PRUNE_DISABLED,
            "pod/old not pruned (kustomize.toolkit.fluxcd.io/prune: disabled)",
            id="flux-prune-disabled",
        ),
        pytest.param(
            {"argocd.argoproj.io/sync-options": "ServerSideApply=true,Prune=false"},
            Reason.PRUNE_DISABLED,
            "pod/old not pruned (argocd.argoproj.io/sync-options: Prune=false)",
            id="argocd-sync-option-prune-false",
        ),
    ],
)
def test_prune(annotations: dict[str, str], reason: Reason, message: str) -> None:
    old = with_(pod("old"), "metadata.annotations", annotations)
    actions = apply.compute_apply([], [stored(old)], source=SOURCE, mode=ApplyMode.WATCH)
    (entry,) = actions.entries()
    assert (entry.reason, entry.message, entry.uid) == (reason, message, "uid-1")
    assert not actions.refused, "a kept object does not fail the apply"
    assert bool(actions.prune) is (reason is Reason.GONE_FROM_SOURCE)


@pytest.mark.parametrize(
    ("mode", "prune", "record", "pruned"),
    [
        pytest.param(ApplyMode.APPLY, False, stored(pod("old")), False, id="apply-without-prune"),
        pytest.param(ApplyMode.APPLY, True, stored(pod("old")), True, id="apply-prune"),
        pytest.param(ApplyMode.WATCH, False, stored(pod("old")), True, id="watch-is-a-set"),
        pytest.param(
            ApplyMode.WATCH,
            False,
            stored(pod("old"), source=apply.PLAY_SOURCE),
            False,
            id="play-objects-never-pruned-by-watch",
        ),
        pytest.param(
            ApplyMode.APPLY,
            True,
            stored(pod("old"), source="apply:/other"),
            False,
            id="other-applyset-not-pruned",
        ),
        pytest.param(
            ApplyMode.APPLY,
            True,
            stored(pod("old"), source=SOURCE, owner_uid="rs"),
            False,
            id="dependents-left-to-owner-cascade",
        ),
        pytest.param(ApplyMode.PLAY, True, stored(pod("old")), False, id="play-never-prunes"),
    ],
)
def test_prune_scope(mode: ApplyMode, prune: bool, record: AppliedRecord, pruned: bool) -> None:
    actions = apply.compute_apply([], [record], source=SOURCE, mode=mode, prune=prune)
    assert bool(actions.prune) is pruned
    assert not actions.create and not actions.update


def test_down_prunes_the_named_objects_whatever_their_source() -> None:
    records = [
        stored(pod("a"), source=apply.PLAY_SOURCE),
        stored(configmap(), source=SOURCE),
        stored(pod("other")),
    ]
    actions = apply.compute_apply(
        [obj(pod("a")), obj(configmap()), obj(pod("never-stored"))],
        records,
        source=apply.PLAY_SOURCE,
        mode=ApplyMode.DOWN,
    )
    assert [e.message for e in actions.entries()] == ["pod/a deleted", "configmap/cfg deleted"]
    assert all(e.reason is Reason.GONE_FROM_SOURCE for e in actions.prune)


# --- order --------------------------------------------------------------------------------------


def test_apply_order_and_reverse_prune_order() -> None:
    desired = [
        obj(pod("p")),
        obj(deployment("d")),
        obj(service("s")),
        obj(generic("Widget", "example.com/v1", "w")),
        obj(configmap("c")),
        obj(generic("Namespace", "v1", "team")),
        obj(generic("ServiceAccount", "v1", "sa")),
        obj(secret("x")),
        obj(pvc("v")),
        obj(job("j")),
        obj(generic("CustomResourceDefinition", "apiextensions.k8s.io/v1", "widgets.example.com")),
    ]
    actions = apply.compute_apply(desired, [], source=SOURCE, mode=ApplyMode.APPLY)
    assert [e.key.kind for e in actions.entries()] == [
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
        "Service",
        "Deployment",
        "Job",
        "Pod",
        "Widget",
    ]
    records = [stored(o.body, uid=o.name) for o in desired]
    gone = apply.compute_apply([], records, source=SOURCE, mode=ApplyMode.WATCH)
    assert [e.key.kind for e in gone.entries()][:3] == ["Widget", "Pod", "Job"]
    assert [e.key.kind for e in gone.entries()][-2:] == ["CustomResourceDefinition", "Namespace"]


def test_keys_name_group_kind_namespace_name() -> None:
    body = with_(deployment(), "metadata.namespace", "prod")
    assert apply.key_of(obj(body)) == ObjectKey("apps", "Deployment", "prod", "web")
    assert apply.key_of(obj(pod())) == ObjectKey("", "Pod", "default", "web")
    ns = generic("Namespace", "v1", "prod")
    assert apply.key_of(obj(ns)) == ObjectKey("", "Namespace", "", "prod")


def test_created_body_is_defaulted_and_input_untouched() -> None:
    body = pod()
    before = copy.deepcopy(body)
    (entry,) = apply.compute_apply([obj(body)], [], source=SOURCE, mode=ApplyMode.APPLY).create
    assert entry.body["spec"]["restartPolicy"] == "Always"
    assert entry.last_applied == before
    assert entry.origin == "app.yaml#1"
    assert body == before


# --- every kind: create, unchanged, default-equivalence, metadata, prune ----------------------

# (manifest, the same manifest with a default written out) for every kind kubeplay stores.
EVERY_KIND = [
    pytest.param(pod(), with_(pod(), "spec.dnsPolicy", "ClusterFirst"), id="Pod"),
    pytest.param(configmap(data={"a": "1"}), configmap(data={"a": "1"}), id="ConfigMap"),
    pytest.param(
        secret(data={"a": "YQ=="}), secret(data={"a": "YQ=="}, type="Opaque"), id="Secret"
    ),
    pytest.param(pvc(), pvc(volumeMode="Filesystem"), id="PersistentVolumeClaim"),
    pytest.param(
        generic("Namespace", "v1", "team"), generic("Namespace", "v1", "team"), id="Namespace"
    ),
    pytest.param(service(), with_(service(), "spec.type", "ClusterIP"), id="Service"),
    pytest.param(
        deployment(),
        with_(deployment(), "spec.template.spec.containers.0.imagePullPolicy", "IfNotPresent"),
        id="Deployment",
    ),
    pytest.param(replicaset(), with_(replicaset(), "spec.replicas", 1), id="ReplicaSet"),
    pytest.param(
        statefulset(),
        with_(statefulset(), "spec.podManagementPolicy", "OrderedReady"),
        id="StatefulSet",
    ),
    pytest.param(daemonset(), with_(daemonset(), "spec.revisionHistoryLimit", 10), id="DaemonSet"),
    pytest.param(job(), with_(job(), "spec.backoffLimit", 6), id="Job"),
    pytest.param(cronjob(), with_(cronjob(), "spec.concurrencyPolicy", "Allow"), id="CronJob"),
    pytest.param(
        generic("EndpointSlice", "discovery.k8s.io/v1", "web-1", addressType="IPv4"),
        generic("EndpointSlice", "discovery.k8s.io/v1", "web-1", addressType="IPv4"),
        id="EndpointSlice",
    ),
    pytest.param(
        generic("ServiceAccount", "v1", "sa"),
        generic("ServiceAccount", "v1", "sa"),
        id="ServiceAccount",
    ),
    pytest.param(
        generic("Role", "rbac.authorization.k8s.io/v1", "r", rules=[]),
        generic("Role", "rbac.authorization.k8s.io/v1", "r", rules=[]),
        id="Role",
    ),
    pytest.param(
        generic("ClusterRole", "rbac.authorization.k8s.io/v1", "system:x"),
        generic("ClusterRole", "rbac.authorization.k8s.io/v1", "system:x"),
        id="ClusterRole",
    ),
    pytest.param(
        generic(
            "RoleBinding",
            "rbac.authorization.k8s.io/v1",
            "rb",
            roleRef={"kind": "Role", "name": "r", "apiGroup": "rbac.authorization.k8s.io"},
        ),
        generic(
            "RoleBinding",
            "rbac.authorization.k8s.io/v1",
            "rb",
            roleRef={"apiGroup": "rbac.authorization.k8s.io", "name": "r", "kind": "Role"},
        ),
        id="RoleBinding",
    ),
    pytest.param(
        generic(
            "ClusterRoleBinding",
            "rbac.authorization.k8s.io/v1",
            "crb",
            roleRef={"kind": "ClusterRole", "name": "c", "apiGroup": "x"},
        ),
        generic(
            "ClusterRoleBinding",
            "rbac.authorization.k8s.io/v1",
            "crb",
            roleRef={"kind": "ClusterRole", "name": "c", "apiGroup": "x"},
        ),
        id="ClusterRoleBinding",
    ),
    pytest.param(
        generic("NetworkPolicy", "networking.k8s.io/v1", "np", spec={"podSelector": {}}),
        generic(
            "NetworkPolicy",
            "networking.k8s.io/v1",
            "np",
            spec={"podSelector": {}, "policyTypes": ["Ingress"]},
        ),
        id="NetworkPolicy",
    ),
    pytest.param(
        generic("Ingress", "networking.k8s.io/v1", "ing", spec={}),
        generic("Ingress", "networking.k8s.io/v1", "ing", spec={}),
        id="Ingress",
    ),
    pytest.param(
        generic("ResourceQuota", "v1", "q", spec={"hard": {"pods": "10"}}),
        generic("ResourceQuota", "v1", "q", spec={"hard": {"pods": "10"}}),
        id="ResourceQuota",
    ),
    pytest.param(
        generic("LimitRange", "v1", "l", spec={"limits": []}),
        generic("LimitRange", "v1", "l", spec={"limits": []}),
        id="LimitRange",
    ),
    pytest.param(
        generic("PodDisruptionBudget", "policy/v1", "p", spec={"minAvailable": 1}),
        generic("PodDisruptionBudget", "policy/v1", "p", spec={"minAvailable": 1}),
        id="PodDisruptionBudget",
    ),
    pytest.param(
        generic("HorizontalPodAutoscaler", "autoscaling/v2", "h", spec={"maxReplicas": 2}),
        generic("HorizontalPodAutoscaler", "autoscaling/v2", "h", spec={"maxReplicas": 2}),
        id="HorizontalPodAutoscaler",
    ),
    pytest.param(
        generic("PriorityClass", "scheduling.k8s.io/v1", "high", value=10),
        generic(
            "PriorityClass",
            "scheduling.k8s.io/v1",
            "high",
            value=10,
            preemptionPolicy="PreemptLowerPriority",
        ),
        id="PriorityClass",
    ),
    pytest.param(
        generic("StorageClass", "storage.k8s.io/v1", "fast", provisioner="x"),
        generic(
            "StorageClass", "storage.k8s.io/v1", "fast", provisioner="x", reclaimPolicy="Delete"
        ),
        id="StorageClass",
    ),
    pytest.param(
        generic("PersistentVolume", "v1", "pv", spec={"capacity": {"storage": "1Gi"}}),
        generic(
            "PersistentVolume",
            "v1",
            "pv",
            spec={"capacity": {"storage": "1Gi"}, "persistentVolumeReclaimPolicy": "Retain"},
        ),
        id="PersistentVolume",
    ),
    pytest.param(
        generic(
            "CustomResourceDefinition",
            "apiextensions.k8s.io/v1",
            "widgets.example.com",
            spec={"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}},
        ),
        generic(
            "CustomResourceDefinition",
            "apiextensions.k8s.io/v1",
            "widgets.example.com",
            spec={
                "group": "example.com",
                "conversion": {"strategy": "None"},
                "names": {"kind": "Widget", "plural": "widgets"},
            },
        ),
        id="CustomResourceDefinition",
    ),
    pytest.param(
        generic("Widget", "example.com/v1", "w", spec={"size": 1}),
        generic("Widget", "example.com/v1", "w", spec={"size": 1}),
        id="custom-resource",
    ),
]


@pytest.mark.parametrize(("body", "explicit"), EVERY_KIND)
def test_every_kind_lifecycle(body: dict[str, Any], explicit: dict[str, Any]) -> None:
    ref = apply.key_of(obj(body))
    assert one(body, None).reason is Reason.NEW
    assert one(body, body).reason is Reason.UNCHANGED
    reordered = {k: body[k] for k in reversed(list(body))}
    assert one(reordered, body).reason is Reason.UNCHANGED
    written = one(explicit, body)
    assert written.reason is Reason.UNCHANGED, written.changed_paths
    assert written.last_applied_sha256 == apply.manifest_sha256(explicit)
    labelled = with_(body, "metadata.labels", {"team": "a"})
    relabel = one(labelled, body)
    assert (relabel.reason, relabel.effect, relabel.spec_changed) == (
        Reason.METADATA_ONLY,
        Effect.NONE,
        False,
    )
    (gone,) = apply.compute_apply([], [stored(body)], source=SOURCE, mode=ApplyMode.WATCH).prune
    assert (gone.key, gone.reason) == (ref, Reason.GONE_FROM_SOURCE)


def test_cluster_scoped_custom_resource_has_no_namespace() -> None:
    crd = generic(
        "CustomResourceDefinition",
        "apiextensions.k8s.io/v1",
        "gadgets.example.com",
        spec={
            "group": "example.com",
            "scope": "Cluster",
            "names": {"kind": "Gadget", "plural": "gadgets"},
            "versions": [{"name": "v1"}],
        },
    )
    gadget = generic("Gadget", "example.com/v1", "g")
    actions = apply.compute_apply([obj(crd), obj(gadget)], [], source=SOURCE, mode=ApplyMode.APPLY)
    assert [e.key for e in actions.create] == [
        ObjectKey("apiextensions.k8s.io", "CustomResourceDefinition", "", "gadgets.example.com"),
        ObjectKey("example.com", "Gadget", "", "g"),
    ]


def test_object_moved_to_another_file_of_its_source_is_only_an_origin_update() -> None:
    entry = apply.compute_apply(
        [obj(pod(), source="other.yaml", doc=3)],
        [stored(pod())],
        source=SOURCE,
        mode=ApplyMode.APPLY,
    ).unchanged[0]
    assert (entry.reason, entry.effect, entry.origin) == (
        Reason.UNCHANGED,
        Effect.NONE,
        "other.yaml#3",
    )


@pytest.mark.parametrize(
    ("new", "old", "message"),
    [
        pytest.param(
            generic(
                "RoleBinding",
                "rbac.authorization.k8s.io/v1",
                "rb",
                roleRef={"kind": "Role", "name": "b", "apiGroup": "rbac.authorization.k8s.io"},
            ),
            generic(
                "RoleBinding",
                "rbac.authorization.k8s.io/v1",
                "rb",
                roleRef={"kind": "Role", "name": "a", "apiGroup": "rbac.authorization.k8s.io"},
            ),
            'The RoleBinding "rb" is invalid: roleRef: Invalid value: {"apiGroup":'
            '"rbac.authorization.k8s.io","kind":"Role","name":"b"}: cannot change roleRef',
            id="rolebinding-roleref-immutable",
        ),
        pytest.param(
            generic("PriorityClass", "scheduling.k8s.io/v1", "high", value=20),
            generic("PriorityClass", "scheduling.k8s.io/v1", "high", value=10),
            'The PriorityClass "high" is invalid: value: Forbidden: may not be changed in an '
            "update.",
            id="priorityclass-value-immutable",
        ),
        pytest.param(
            generic("StorageClass", "storage.k8s.io/v1", "fast", provisioner="y"),
            generic("StorageClass", "storage.k8s.io/v1", "fast", provisioner="x"),
            'The StorageClass "fast" is invalid: provisioner: Forbidden: updates to provisioner '
            "are forbidden.",
            id="storageclass-provisioner-immutable",
        ),
        pytest.param(
            with_(daemonset(), "spec.selector", {"matchLabels": {"app": "x"}}),
            daemonset(),
            'The DaemonSet "agent" is invalid: spec.selector: Invalid value: '
            '{"matchLabels":{"app":"x"}}: field is immutable',
            id="daemonset-selector-immutable",
        ),
        pytest.param(
            with_(replicaset(), "spec.selector", {"matchLabels": {"app": "x"}}),
            replicaset(),
            'The ReplicaSet "web-abc" is invalid: spec.selector: Invalid value: '
            '{"matchLabels":{"app":"x"}}: field is immutable',
            id="replicaset-selector-immutable",
        ),
        pytest.param(
            configmap(data={"k": "1"}),
            configmap(data={"k": "1"}, immutable=True),
            'The ConfigMap "cfg" is invalid: immutable: Forbidden: field is immutable when '
            "`immutable` is set",
            id="immutable-cannot-be-unset",
        ),
    ],
)
def test_more_refusals(new: dict[str, Any], old: dict[str, Any], message: str) -> None:
    entry = one(new, old)
    assert (entry.reason, entry.message) == (Reason.IMMUTABLE, message)


def test_force_annotation_recreates_that_object_only() -> None:
    old = job()
    new = with_(job(), "spec.completions", 3)
    new["metadata"]["annotations"] = {"kubeplay.io/force": "true"}
    entry = one(new, old)
    assert (entry.reason, entry.message) == (
        Reason.RECREATE,
        "job.batch/once replaced (spec.completions changed; forced)",
    )


@pytest.mark.parametrize(
    ("before", "after", "masked"),
    [
        pytest.param(
            secret(data={"a": "YQ==", "b": "Yg==", "gone": "eA=="}),
            secret(data={"a": "YQ==", "b": "Yw==", "new": "eQ=="}),
            (
                {"a": "***", "b": "*** (before)", "gone": "***"},
                {"a": "***", "b": "*** (after)", "new": "***"},
            ),
            id="secret-values-masked-changed-keys-marked",
        ),
        pytest.param(
            {},
            secret(data={"a": "YQ=="}),
            (None, {"a": "***"}),
            id="new-secret-masked",
        ),
        pytest.param(
            configmap(data={"a": "1"}),
            configmap(data={"a": "2"}),
            ({"a": "1"}, {"a": "2"}),
            id="configmap-not-masked",
        ),
    ],
)
def test_masked_secrets(
    before: dict[str, Any], after: dict[str, Any], masked: tuple[Any, Any]
) -> None:
    originals = copy.deepcopy((before, after))
    old, new = apply.masked_secrets(before, after)
    assert (old.get("data"), new.get("data")) == masked
    assert (before, after) == originals, "the inputs are never changed"
