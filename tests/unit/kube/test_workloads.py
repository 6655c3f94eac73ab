"""Deployment -> replica pods, as the Deployment and ReplicaSet controllers name and mark them.

Sources: pkg/controller/controller_utils.go (ComputeHash: FNV-32a of the pod template, then
rand.SafeEncodeString of its decimal value), k8s.io/apimachinery/pkg/util/rand (the alphabet
"bcdfghjklmnpqrstvwxz2456789"), pkg/controller/deployment/sync.go (ReplicaSet name
`<deployment>-<hash>`, label pod-template-hash), the apiserver's names.SimpleNameGenerator
(generateName cut to 58 characters + 5 random), pkg/apis/apps/validation (selector rules).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from kubeplay.errors import AlreadyExistsError
from kubeplay.kube import workloads
from kubeplay.kube.objects import KubeObject

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "web"}, "annotations": {"team": "a"}},
    "spec": {"containers": [{"name": "app", "image": "nginx"}]},
}


def _deployment(name: str = "web", **spec: Any) -> KubeObject:
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE, **spec},
    }
    return KubeObject(body, source="web.yaml", doc_index=2, line=7)


def _suffixes(*values: str) -> Iterator[str]:
    return iter(values)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"", 0x811C9DC5, id="empty-is-the-offset-basis"),
        pytest.param(b"a", 0xE40C292C, id="one-byte"),
        pytest.param(b"foobar", 0xBF9CF968, id="fnv-1a-reference-vector"),
    ],
)
def test_fnv32a(data: bytes, expected: int) -> None:
    assert workloads.fnv32a(data) == expected


def test_safe_encode_maps_digits_into_the_alphabet() -> None:
    assert workloads.safe_encode("0123456789") == "456789bcdf"


def test_template_hash_is_safe_encoded_fnv32a_of_the_defaulted_template() -> None:
    canonical = (
        b'{"metadata":{"annotations":{"team":"a"},"labels":{"app":"web"}},'
        b'"spec":{"containers":[{"image":"nginx","imagePullPolicy":"Always","name":"app",'
        b'"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],'
        b'"dnsPolicy":"ClusterFirst","enableServiceLinks":true,"restartPolicy":"Always",'
        b'"schedulerName":"default-scheduler","securityContext":{},'
        b'"terminationGracePeriodSeconds":30}}'
    )
    expected = workloads.safe_encode(str(workloads.fnv32a(canonical)))
    assert workloads.template_hash(TEMPLATE) == expected
    assert set(expected) <= set(workloads.ALPHANUMS)
    # ComputeHash: a collisionCount is hashed after the template, 4 bytes little-endian
    for count, tail in ((0, b"\0\0\0\0"), (1, b"\1\0\0\0"), (258, b"\2\1\0\0")):
        with_count = workloads.safe_encode(str(workloads.fnv32a(canonical + tail)))
        assert workloads.template_hash(TEMPLATE, count) == with_count


@pytest.mark.parametrize(
    ("count", "other"),
    [
        pytest.param(None, 0, id="unset-differs-from-0"),
        pytest.param(0, 1, id="each-collision-count-its-own-name"),
        pytest.param(1, 2, id="bumped-again"),
    ],
)
def test_collision_count_gives_another_hash(count: int | None, other: int) -> None:
    assert workloads.template_hash(TEMPLATE, count) != workloads.template_hash(TEMPLATE, other)


def test_same_template_ignores_the_hash_label_whatever_the_collision_count() -> None:
    named = copy.deepcopy(TEMPLATE)
    named["metadata"]["labels"][workloads.TEMPLATE_HASH_LABEL] = workloads.template_hash(
        TEMPLATE, 3
    )
    assert workloads.same_template(named, TEMPLATE)
    named["spec"]["containers"][0]["image"] = "nginx:2"
    assert not workloads.same_template(named, TEMPLATE)


def test_template_hash_changes_with_the_template_only() -> None:
    changed = {**TEMPLATE, "spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}
    reordered = {"spec": TEMPLATE["spec"], "metadata": TEMPLATE["metadata"]}
    assert workloads.template_hash(reordered) == workloads.template_hash(TEMPLATE)
    assert workloads.template_hash(changed) != workloads.template_hash(TEMPLATE)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"restartPolicy": "Always"}, id="explicit-restart-policy"),
        pytest.param({"terminationGracePeriodSeconds": 30}, id="explicit-grace-period"),
        pytest.param(
            {"containers": [{"name": "app", "image": "nginx", "imagePullPolicy": "Always"}]},
            id="explicit-pull-policy-for-untagged-image",
        ),
    ],
)
def test_template_hash_ignores_explicit_defaults(spec: dict[str, Any]) -> None:
    explicit = {**TEMPLATE, "spec": {**TEMPLATE["spec"], **spec}}
    assert workloads.template_hash(explicit) == workloads.template_hash(TEMPLATE)


def test_replica_pods_are_named_labelled_and_owned_like_the_replicaset_controller() -> None:
    pods = workloads.replica_pods(
        _deployment(replicas=2),
        uid="d-uid",
        taken=(),
        random_suffix=_suffixes("bcdfg", "hjklm").__next__,
    )
    h = workloads.template_hash(TEMPLATE)
    assert [p.name for p in pods] == [f"web-{h}-bcdfg", f"web-{h}-hjklm"]
    meta = pods[0].body["metadata"]
    assert meta["generateName"] == f"web-{h}-"
    assert meta["labels"] == {"app": "web", "pod-template-hash": h}
    assert meta["annotations"] == {"team": "a"}
    assert "namespace" not in meta
    (owner,) = meta["ownerReferences"]
    assert owner == {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": f"web-{h}",
        "uid": workloads.workload_of(_deployment(), uid="d-uid").controller_uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert pods[0].body["spec"] == TEMPLATE["spec"]
    assert pods[0].body["spec"] is not TEMPLATE["spec"]
    assert (pods[0].source, pods[0].doc_index, pods[0].line) == ("web.yaml", 2, 7)


@pytest.mark.parametrize(
    ("spec", "count"),
    [
        pytest.param({}, 1, id="replicas-default-to-one"),
        pytest.param({"replicas": 3}, 3, id="replicas-three"),
        pytest.param({"replicas": 0}, 0, id="replicas-zero-makes-no-pod"),
        pytest.param(
            {"replicas": 2**31 - 1},
            workloads.BURST_REPLICAS,
            id="int32-max-replicas-bounded-by-burst-replicas",
        ),
    ],
)
def test_replica_count(spec: dict[str, Any], count: int) -> None:
    chars = ("".join(c) for c in itertools.product(workloads.ALPHANUMS, repeat=5))
    pods = workloads.replica_pods(
        _deployment(**spec), uid="u", taken=(), random_suffix=chars.__next__
    )
    assert len(pods) == count


def test_a_generated_name_already_taken_is_drawn_again() -> None:
    h = workloads.template_hash(TEMPLATE)
    pods = workloads.replica_pods(
        _deployment(replicas=2),
        uid="u",
        taken={f"web-{h}-bbbbb"},
        random_suffix=_suffixes("bbbbb", "ccccc", "ccccc", "ddddd").__next__,
    )
    assert [p.name for p in pods] == [f"web-{h}-ccccc", f"web-{h}-ddddd"]


def test_a_generated_name_taken_on_every_attempt_is_an_error() -> None:
    """The apiserver's RetryGenerateName gives up after 8 attempts; never an endless loop."""
    h = workloads.template_hash(TEMPLATE)
    drawn: list[str] = []

    def suffix() -> str:
        drawn.append("bbbbb")
        return "bbbbb"

    with pytest.raises(AlreadyExistsError, match=f"pod web-{h}-bbbbb: already exists"):
        workloads.replica_pods(
            _deployment(replicas=1), uid="u", taken={f"web-{h}-bbbbb"}, random_suffix=suffix
        )
    assert len(drawn) == workloads.GENERATE_NAME_ATTEMPTS


def test_long_names_are_cut_to_58_characters_before_the_random_part() -> None:
    name = "d" * 60
    (pod,) = workloads.replica_pods(
        _deployment(name), uid="u", taken=(), random_suffix=lambda: "zzzzz"
    )
    assert pod.name == f"{name}-{workloads.template_hash(TEMPLATE)}-"[:58] + "zzzzz"
    assert len(pod.name) == 63


def test_namespace_is_kept_when_the_deployment_names_one() -> None:
    obj = _deployment()
    obj.body["metadata"]["namespace"] = "team-a"
    (pod,) = workloads.replica_pods(obj, uid="u", taken=(), random_suffix=lambda: "bbbbb")
    assert pod.namespace == "team-a"


def test_owns_finds_the_replicas_of_this_deployment_only() -> None:
    obj = _deployment()
    (pod,) = workloads.replica_pods(obj, uid="u1", taken=(), random_suffix=lambda: "bbbbb")
    mine = workloads.workload_of(obj, uid="u1")
    replayed = workloads.workload_of(obj, uid="u2")
    other = workloads.workload_of(_deployment("db"), uid="u1")
    assert workloads.owns(mine, pod.body)
    assert not workloads.owns(replayed, pod.body)
    assert not workloads.owns(other, pod.body)
    assert not workloads.owns(mine, {"metadata": {"name": "bare"}})


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        pytest.param({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True, id="subset"),
        pytest.param({"matchLabels": {"a": "1"}}, {"a": "2"}, False, id="other-value"),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]},
            {"a": "2"},
            True,
            id="in",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]},
            {},
            True,
            id="notin-absent-key-matches",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {}, False, id="exists"
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]},
            {"a": "x"},
            False,
            id="does-not-exist",
        ),
    ],
)
def test_selector_matches(selector: dict[str, Any], labels: dict[str, str], matches: bool) -> None:
    assert workloads.selector_matches(selector, labels) is matches


@pytest.mark.parametrize(
    ("pod", "member"),
    [
        pytest.param("web-0", True, id="ordinal-0"),
        pytest.param("web-12", True, id="ordinal-12"),
        pytest.param("web-01", False, id="leading-zero-is-not-an-ordinal"),
        pytest.param("web-", False, id="no-ordinal"),
        pytest.param("web-x", False, id="not-a-number"),
        pytest.param("webby-0", False, id="another-set"),
        pytest.param("web-db-0", False, id="a-longer-set-name"),
        pytest.param("web", False, id="the-set-name-alone"),
    ],
)
def test_statefulset_member_is_set_dash_ordinal(pod: str, member: bool) -> None:
    assert workloads.statefulset_member("web", pod) is member
