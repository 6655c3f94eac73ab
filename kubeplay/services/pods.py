"""Pod queries: get and describe. Each returns views for the CLI.

Kept apart from `services.play` (play, down, delete) so that `kubeplay get pods` imports only
what reading needs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from kubeplay.engine import host as host_mod
from kubeplay.engine import observe as engine
from kubeplay.errors import NotFoundError
from kubeplay.plan import pods as plans
from kubeplay.plan import status as status_mod
from kubeplay.settings import Settings
from kubeplay.state.store import PodRecord


@dataclass(frozen=True, slots=True)
class PodView:
    record: PodRecord
    plan: plans.PodPlan
    status: dict[str, Any]
    summary: status_mod.PodSummary

    @property
    def ref(self) -> str:
        return f"{self.record.namespace}/{self.record.name}"

    def to_kube(self) -> dict[str, Any]:
        """The pod as the API server returns a v1 Pod: the spec as played, defaulted as on
        write (dnsPolicy, schedulerName, each container's terminationMessagePath...), plus
        status."""
        from kubeplay.kube import defaults

        body = defaults.default_object({**self.record.manifest, "kind": "Pod"})
        meta = dict(body.get("metadata") or {})
        meta["namespace"] = self.record.namespace
        meta["uid"] = self.record.uid
        meta["creationTimestamp"] = status_mod.rfc3339(self.record.created_at)
        if self.record.lifecycle == "terminating":
            meta["deletionTimestamp"] = status_mod.rfc3339(self.record.deleting_at or time.time())
        body["apiVersion"] = "v1"
        body["kind"] = "Pod"
        body["metadata"] = meta
        spec = dict(body.get("spec") or {})
        spec.setdefault("nodeName", "localhost")
        spec.setdefault("restartPolicy", self.plan.restart_policy)
        body["spec"] = spec
        body["status"] = self.status
        return body


def _view(host: host_mod.Host, rec: PodRecord) -> PodView:
    plan = plans.from_json(rec.plan_json)
    observed = engine.observe(host, rec)
    status = status_mod.derive_pod_status(plan, observed)
    summary = status_mod.summarize(plan, observed, phase=status["phase"])
    return PodView(record=rec, plan=plan, status=status, summary=summary)


def get_pods(settings: Settings, *, namespace: str | None) -> list[PodView]:
    host = host_mod.open_host(settings)
    try:
        return [_view(host, rec) for rec in host.store.list_pods(namespace)]
    finally:
        host.close()


def get_pod(settings: Settings, namespace: str, name: str) -> PodView:
    host = host_mod.open_host(settings)
    try:
        rec = host.store.get_pod(namespace, name)
        if rec is None:
            raise NotFoundError(f'pod "{name}" not found in namespace "{namespace}"')
        return _view(host, rec)
    finally:
        host.close()
