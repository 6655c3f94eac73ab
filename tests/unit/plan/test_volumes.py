"""plan.volumes: pod volumes and volumeMounts as the kubelet resolves them.

Sources: https://kubernetes.io/docs/concepts/storage/volumes/ (configMap/secret items, modes,
optional; downwardAPI; projected; subPath, subPathExpr; mountPropagation), kubelet's
pkg/volume/util/atomic_writer.go and pkg/kubelet/kubelet_pods.go makeMounts, containerd's CRI
propagation options.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubeplay.plan import pods, volumes
from kubeplay.plan.images import ImageConfig, ImageRef
from kubeplay.plan.volumes import (
    FileEntry,
    ItemPlan,
    MountPlan,
    PodFacts,
    SourcePlan,
    VolumeError,
    VolumeKind,
    VolumePlan,
)

IMAGES = {
    "docker.io/library/busybox:latest": ImageRef(
        ref="docker.io/library/busybox:latest", image_id="sha256:" + "b" * 64, config=ImageConfig()
    )
}
FACTS = PodFacts(
    name="web",
    namespace="prod",
    uid="uid-1",
    labels={"app": "web", "tier": "front"},
    annotations={"note": 'say "hi"'},
    node_cpus=4,
    node_memory=8 * 1024**3,
)


def _pod(volume_list: list[dict[str, Any]], mounts: list[dict[str, Any]], **ctr: Any) -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {
            "volumes": volume_list,
            "containers": [{"name": "app", "image": "busybox", "volumeMounts": mounts, **ctr}],
        },
    }


@pytest.mark.parametrize(
    ("volume", "expected"),
    [
        pytest.param(
            {"name": "v", "hostPath": {"path": "/srv/data/", "type": "DirectoryOrCreate"}},
            VolumePlan(
                name="v",
                kind=VolumeKind.HOST_PATH,
                source="hostPath",
                host_path="/srv/data",
                host_path_type="DirectoryOrCreate",
            ),
            id="hostpath-with-type",
        ),
        pytest.param(
            {"name": "v", "emptyDir": {}},
            VolumePlan(name="v", kind=VolumeKind.EMPTY_DIR, source="emptyDir"),
            id="emptydir-on-disk",
        ),
        pytest.param(
            {"name": "v", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            VolumePlan(
                name="v",
                kind=VolumeKind.EMPTY_DIR,
                source="emptyDir",
                medium="Memory",
                size_limit=64 * 1024 * 1024,
            ),
            id="emptydir-memory-sizelimit",
        ),
        pytest.param(
            {"name": "v", "persistentVolumeClaim": {"claimName": "data", "readOnly": True}},
            VolumePlan(
                name="v",
                kind=VolumeKind.PVC,
                source="persistentVolumeClaim",
                claim_name="data",
                read_only=True,
            ),
            id="pvc-named-volume",
        ),
        pytest.param(
            {
                "name": "v",
                "configMap": {
                    "name": "cfg",
                    "defaultMode": 0o600,
                    "optional": True,
                    "items": [{"key": "a", "path": "dir/a", "mode": 0o400}],
                },
            },
            VolumePlan(
                name="v",
                kind=VolumeKind.FILES,
                source="configMap",
                default_mode=0o600,
                sources=(
                    SourcePlan(
                        kind="configMap",
                        name="cfg",
                        optional=True,
                        items=(ItemPlan(path="dir/a", key="a", mode=0o400),),
                    ),
                ),
            ),
            id="configmap-items-modes-optional",
        ),
        pytest.param(
            {"name": "v", "secret": {"secretName": "s"}},
            VolumePlan(
                name="v",
                kind=VolumeKind.FILES,
                source="secret",
                sources=(SourcePlan(kind="secret", name="s"),),
            ),
            id="secret-default-mode-0644",
        ),
        pytest.param(
            {"name": "v", "nfs": {"server": "nfs", "path": "/"}},
            VolumePlan(name="v", kind=VolumeKind.UNSUPPORTED, source="nfs"),
            id="unsupported-volume-type",
        ),
    ],
)
def test_compile_volumes(volume: dict[str, Any], expected: VolumePlan) -> None:
    assert volumes.compile_volumes({"volumes": [volume]}) == (expected,)


@pytest.mark.parametrize(
    ("volume", "tmpfs"),
    [
        pytest.param({"emptyDir": {}}, False, id="emptydir-disk-not-tmpfs"),
        pytest.param({"emptyDir": {"medium": "Memory"}}, True, id="emptydir-memory-tmpfs"),
        pytest.param({"configMap": {"name": "c"}}, False, id="configmap-on-disk"),
        pytest.param({"secret": {"secretName": "s"}}, True, id="secret-never-on-disk"),
        pytest.param({"downwardAPI": {"items": []}}, True, id="downwardapi-tmpfs"),
        pytest.param({"projected": {"sources": []}}, True, id="projected-tmpfs"),
    ],
)
def test_which_volumes_live_on_tmpfs(volume: dict[str, Any], tmpfs: bool) -> None:
    (plan,) = volumes.compile_volumes({"volumes": [{"name": "v", **volume}]})
    assert plan.on_tmpfs is tmpfs


@pytest.mark.parametrize(
    ("volume", "mount", "env", "expected"),
    [
        pytest.param(
            {"emptyDir": {}},
            {"mountPath": "/data"},
            [],
            MountPlan(volume="v", path="/data"),
            id="plain-mount-rw-rprivate",
        ),
        pytest.param(
            {"emptyDir": {}},
            {"mountPath": "/data", "readOnly": True},
            [],
            MountPlan(volume="v", path="/data", read_only=True),
            id="readonly-mount",
        ),
        pytest.param(
            {"configMap": {"name": "c"}},
            {"mountPath": "/etc/c"},
            [],
            MountPlan(volume="v", path="/etc/c", read_only=True),
            id="configmap-always-readonly",
        ),
        pytest.param(
            {"persistentVolumeClaim": {"claimName": "d", "readOnly": True}},
            {"mountPath": "/d"},
            [],
            MountPlan(volume="v", path="/d", read_only=True),
            id="pvc-readonly-source-makes-mount-readonly",
        ),
        pytest.param(
            {"emptyDir": {}},
            {"mountPath": "/data", "subPath": "a/./b/"},
            [],
            MountPlan(volume="v", path="/data", sub_path="a/b"),
            id="subpath-normalised",
        ),
        pytest.param(
            {"emptyDir": {}},
            {"mountPath": "/logs", "subPathExpr": "logs/$(POD_NAME)/$$x"},
            [{"name": "POD_NAME", "value": "web-1"}],
            MountPlan(volume="v", path="/logs", sub_path="logs/web-1/$x"),
            id="subpathexpr-expands-container-env",
        ),
        pytest.param(
            {"emptyDir": {}},
            {"mountPath": "/logs", "subPathExpr": "$(POD_NAME)"},
            [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            MountPlan(volume="v", path="/logs", sub_path_expr="$(POD_NAME)"),
            id="subpathexpr-from-value-from-waits-for-creation",
        ),
        pytest.param(
            {"hostPath": {"path": "/mnt"}},
            {"mountPath": "/mnt", "mountPropagation": "HostToContainer"},
            [],
            MountPlan(volume="v", path="/mnt", propagation="rslave"),
            id="propagation-hosttocontainer-rslave",
        ),
        pytest.param(
            {"hostPath": {"path": "/mnt"}},
            {"mountPath": "/mnt", "mountPropagation": "Bidirectional"},
            [],
            MountPlan(volume="v", path="/mnt", propagation="rshared"),
            id="propagation-bidirectional-rshared",
        ),
        pytest.param(
            {"hostPath": {"path": "/mnt"}},
            {"mountPath": "/mnt", "mountPropagation": "None"},
            [],
            MountPlan(volume="v", path="/mnt", propagation="rprivate"),
            id="propagation-none-rprivate",
        ),
    ],
)
def test_compile_mounts(
    volume: dict[str, Any], mount: dict[str, Any], env: list[dict[str, Any]], expected: MountPlan
) -> None:
    plan = pods.compile_pod(
        _pod([{"name": "v", **volume}], [{"name": "v", **mount}], env=env),
        uid="u",
    )
    assert plan.containers[0].mounts == (expected,)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        pytest.param("/$(DIR)", "expanded to '/abs': must be a relative path", id="absolute"),
        pytest.param("$(UP)/x", "expanded to '../x': must not contain '..'", id="backsteps"),
        pytest.param("a/$(UNKNOWN)/$(EMPTY)", "missing value for EMPTY, UNKNOWN", id="unset-var"),
    ],
)
def test_subpathexpr_expanding_out_of_the_volume_is_refused(expr: str, message: str) -> None:
    manifest = _pod(
        [{"name": "v", "emptyDir": {}}],
        [{"name": "v", "mountPath": "/x", "subPathExpr": expr}],
        env=[
            {"name": "DIR", "value": "abs"},
            {"name": "UP", "value": ".."},
            {"name": "EMPTY", "value": ""},
        ],
    )
    with pytest.raises(VolumeError) as caught:
        pods.compile_pod(manifest, uid="u")
    assert str(caught.value) == (
        f"pod default/web: container app.volumeMounts[0].subPathExpr: {message}"
    )


def test_mounts_of_unsupported_volumes_are_left_out() -> None:
    plan = pods.compile_pod(
        _pod(
            [{"name": "v", "nfs": {"server": "s", "path": "/"}}], [{"name": "v", "mountPath": "/n"}]
        ),
        uid="u",
    )
    assert plan.containers[0].mounts == ()


def test_plan_with_volumes_round_trips_through_json() -> None:
    manifest = _pod(
        [
            {
                "name": "a",
                "projected": {
                    "sources": [
                        {
                            "configMap": {
                                "name": "c",
                                "items": [{"key": "k", "path": "p", "mode": 0o400}],
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]
                            }
                        },
                    ]
                },
            },
            {"name": "b", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
        ],
        [{"name": "a", "mountPath": "/a"}, {"name": "b", "mountPath": "/b", "subPath": "x"}],
    )
    manifest["spec"]["securityContext"] = {"fsGroup": 2000, "fsGroupChangePolicy": "OnRootMismatch"}
    plan = pods.compile_pod(manifest, uid="u")
    assert pods.from_json(pods.to_json(plan)) == plan
    assert (plan.fs_group, plan.fs_group_change_policy) == (2000, "OnRootMismatch")


def _files(volume: dict[str, Any], objects: dict[tuple[str, str], Any]) -> tuple[FileEntry, ...]:
    (plan,) = volumes.compile_volumes({"volumes": [{"name": "v", **volume}]})
    return volumes.compute_files(plan, objects=objects, pod=FACTS)


CM = {("configMap", "cfg"): {"b.conf": b"B", "a.conf": b"A"}}


@pytest.mark.parametrize(
    ("volume", "objects", "expected"),
    [
        pytest.param(
            {"configMap": {"name": "cfg"}},
            CM,
            (FileEntry("a.conf", b"A", 0o644), FileEntry("b.conf", b"B", 0o644)),
            id="configmap-every-key-default-mode-0644",
        ),
        pytest.param(
            {
                "configMap": {
                    "name": "cfg",
                    "defaultMode": 0o440,
                    "items": [
                        {"key": "a.conf", "path": "etc/a"},
                        {"key": "b.conf", "path": "b", "mode": 0o600},
                    ],
                }
            },
            CM,
            (FileEntry("etc/a", b"A", 0o440), FileEntry("b", b"B", 0o600)),
            id="configmap-items-key-to-path-and-per-item-mode",
        ),
        pytest.param(
            {"secret": {"secretName": "s", "optional": True}},
            {("secret", "s"): None},
            (),
            id="optional-secret-missing-no-files",
        ),
        pytest.param(
            {
                "configMap": {
                    "name": "cfg",
                    "optional": True,
                    "items": [{"key": "gone", "path": "g"}, {"key": "a.conf", "path": "a"}],
                }
            },
            CM,
            (FileEntry("a", b"A", 0o644),),
            id="optional-configmap-missing-key-skipped",
        ),
        pytest.param(
            {
                "projected": {
                    "defaultMode": 0o400,
                    "sources": [
                        {
                            "configMap": {
                                "name": "cfg",
                                "items": [{"key": "a.conf", "path": "same"}],
                            }
                        },
                        {"secret": {"name": "s"}},
                        {"serviceAccountToken": {"path": "token"}},
                    ],
                }
            },
            {**CM, ("secret", "s"): {"same": b"S", "pw": b"P"}},
            (FileEntry("same", b"S", 0o400), FileEntry("pw", b"P", 0o400)),
            id="projected-later-source-wins-token-skipped",
        ),
        pytest.param(
            {
                "downwardAPI": {
                    "items": [
                        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                        {"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}},
                        {"path": "uid", "fieldRef": {"fieldPath": "metadata.uid"}},
                        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                        {"path": "ann", "fieldRef": {"fieldPath": "metadata.annotations"}},
                        {"path": "app", "fieldRef": {"fieldPath": "metadata.labels['app']"}},
                    ]
                }
            },
            {},
            (
                FileEntry("name", b"web", 0o644),
                FileEntry("ns", b"prod", 0o644),
                FileEntry("uid", b"uid-1", 0o644),
                FileEntry("labels", b'app="web"\ntier="front"', 0o644),
                FileEntry("ann", b'note="say \\"hi\\""', 0o644),
                FileEntry("app", b"web", 0o644),
            ),
            id="downwardapi-fieldref-formats-as-kubelet",
        ),
    ],
)
def test_compute_files(
    volume: dict[str, Any], objects: dict[tuple[str, str], Any], expected: tuple[FileEntry, ...]
) -> None:
    assert _files(volume, objects) == expected


@pytest.mark.parametrize(
    ("volume", "objects", "message"),
    [
        pytest.param(
            {"configMap": {"name": "cfg"}},
            {("configMap", "cfg"): None},
            'configmap "cfg" not found',
            id="configmap-missing",
        ),
        pytest.param(
            {"secret": {"secretName": "s"}},
            {("secret", "s"): None},
            'secret "s" not found',
            id="secret-missing",
        ),
        pytest.param(
            {"configMap": {"name": "cfg", "items": [{"key": "nope", "path": "n"}]}},
            CM,
            "configmap references non-existent config key: nope",
            id="configmap-key-missing",
        ),
        pytest.param(
            {"secret": {"secretName": "s", "items": [{"key": "nope", "path": "n"}]}},
            {("secret", "s"): {}},
            "secret references non-existent secret key: nope",
            id="secret-key-missing",
        ),
    ],
)
def test_compute_files_missing_objects_and_keys(
    volume: dict[str, Any], objects: dict[tuple[str, str], Any], message: str
) -> None:
    with pytest.raises(VolumeError) as caught:
        _files(volume, objects)
    assert str(caught.value) == message


def _pod_with_limits(resources: dict[str, Any]) -> dict[str, Any]:
    return {"containers": [{"name": "app", "resources": resources}]}


@pytest.mark.parametrize(
    ("resources", "resource", "divisor", "expected"),
    [
        pytest.param({"limits": {"memory": "64Mi"}}, "limits.memory", "1Mi", "64", id="mem-mi"),
        pytest.param({"limits": {"memory": "64Mi"}}, "limits.memory", "", "67108864", id="bytes"),
        pytest.param({"limits": {"cpu": "250m"}}, "limits.cpu", "", "1", id="cpu-rounds-up"),
        pytest.param({"limits": {"cpu": "250m"}}, "limits.cpu", "1m", "250", id="cpu-millis"),
        pytest.param({}, "limits.cpu", "", "4", id="unset-limit-is-node-capacity"),
        pytest.param({}, "limits.memory", "1Gi", "8", id="unset-memory-is-node-memory"),
        pytest.param(
            {"limits": {"cpu": "2"}}, "requests.cpu", "", "2", id="request-defaults-to-limit"
        ),
        pytest.param({}, "requests.memory", "", "0", id="unset-request-is-zero"),
    ],
)
def test_downward_resource_field_ref(
    resources: dict[str, Any], resource: str, divisor: str, expected: str
) -> None:
    item: dict[str, Any] = {"containerName": "app", "resource": resource}
    if divisor:
        item["divisor"] = divisor
    (plan,) = volumes.compile_volumes(
        {
            **_pod_with_limits(resources),
            "volumes": [
                {"name": "v", "downwardAPI": {"items": [{"path": "r", "resourceFieldRef": item}]}}
            ],
        }
    )
    (entry,) = volumes.compute_files(plan, objects={}, pod=FACTS)
    assert entry.data.decode() == expected


@pytest.mark.parametrize(
    ("propagations", "rootfs"),
    [
        pytest.param(("rprivate",), "", id="private-keeps-runtime-default"),
        pytest.param(("rprivate", "rslave"), "rslave", id="hosttocontainer-makes-rootfs-rslave"),
        pytest.param(("rslave", "rshared"), "rshared", id="bidirectional-makes-rootfs-rshared"),
    ],
)
def test_oci_mounts(propagations: tuple[str, ...], rootfs: str) -> None:
    mounts = [
        MountPlan(volume="v", path=f"/m{i}", read_only=i == 0, propagation=p)
        for i, p in enumerate(propagations)
    ]
    entries, got = volumes.oci_mounts(mounts, {m.path: f"/host{m.path}" for m in mounts})
    assert got == rootfs
    assert entries[0] == {
        "destination": "/m0",
        "type": "bind",
        "source": "/host/m0",
        "options": ["rbind", propagations[0], "ro"],
    }
    assert all(e["options"][-1] == "rw" for e in entries[1:])


@pytest.mark.parametrize(
    ("expr", "env", "expected"),
    [
        pytest.param("logs/$(POD)", {"POD": "web-1"}, "logs/web-1", id="value-from-pod-name"),
        pytest.param("$(A)/./$(B)/", {"A": "a", "B": "b"}, "a/b", id="normalised"),
        pytest.param("$$(A)", {"A": "a"}, "$(A)", id="escaped-reference-kept"),
    ],
)
def test_deferred_subpathexpr_expands_from_the_resolved_env(
    expr: str, env: dict[str, str], expected: str
) -> None:
    mounts = (
        MountPlan(volume="v", path="/x", sub_path_expr=expr),
        MountPlan(volume="v", path="/y", sub_path="kept"),
    )
    assert volumes.expand_deferred_sub_paths(mounts, env, where="container app") == (
        MountPlan(volume="v", path="/x", sub_path=expected, sub_path_expr=expr),
        MountPlan(volume="v", path="/y", sub_path="kept"),
    )


@pytest.mark.parametrize(
    ("expr", "env", "message"),
    [
        pytest.param("$(NOPE)", {}, "missing value for NOPE", id="unset"),
        pytest.param("/$(A)", {"A": "a"}, "expanded to '/a': must be a relative path", id="abs"),
        pytest.param("$(A)", {"A": ".."}, "expanded to '..': must not contain '..'", id="up"),
    ],
)
def test_deferred_subpathexpr_errors(expr: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(VolumeError) as caught:
        volumes.expand_deferred_sub_paths(
            (MountPlan(volume="v", path="/x", sub_path_expr=expr),), env, where="container app"
        )
    assert str(caught.value) == f"container app: volumeMount /x: subPathExpr: {message}"
