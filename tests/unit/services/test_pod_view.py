"""`get pod -o json|yaml` and describe: the pod as the API server returns it."""

from __future__ import annotations

from typing import Any, cast

from kubeplay.plan import pods as plans
from kubeplay.plan import status as status_mod
from kubeplay.services.pods import PodView
from kubeplay.state.store import PodRecord

MANIFEST: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "app", "image": "busybox", "ports": [{"containerPort": 80}]}]},
}


def _view(manifest: dict[str, Any]) -> PodView:
    record = PodRecord(
        uid="u1",
        namespace="default",
        name="web",
        source="web.yaml",
        manifest=manifest,
        plan_json="{}",
        created_at=1_700_000_000.0,
        lifecycle="active",
    )
    plan = cast(plans.PodPlan, type("Plan", (), {"restart_policy": "Always"})())
    summary = cast(status_mod.PodSummary, None)
    return PodView(record=record, plan=plan, status={"phase": "Running"}, summary=summary)


def test_the_spec_is_shown_defaulted_as_the_api_server_stores_it() -> None:
    pod = _view(MANIFEST).to_kube()
    spec = pod["spec"]
    assert (spec["dnsPolicy"], spec["schedulerName"], spec["terminationGracePeriodSeconds"]) == (
        "ClusterFirst",
        "default-scheduler",
        30,
    )
    assert (spec["restartPolicy"], spec["nodeName"], spec["securityContext"]) == (
        "Always",
        "localhost",
        {},
    )
    (ctr,) = spec["containers"]
    assert ctr["imagePullPolicy"] == "Always"  # busybox: the :latest tag
    assert ctr["terminationMessagePath"] == "/dev/termination-log"
    assert ctr["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert pod["metadata"]["namespace"] == "default" and pod["status"] == {"phase": "Running"}


def test_what_the_manifest_sets_is_kept_and_the_stored_manifest_is_not_changed() -> None:
    manifest = {**MANIFEST, "spec": {**MANIFEST["spec"], "dnsPolicy": "Default"}}
    pod = _view(manifest).to_kube()
    assert pod["spec"]["dnsPolicy"] == "Default"
    assert "terminationMessagePath" not in MANIFEST["spec"]["containers"][0]
