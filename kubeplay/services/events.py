"""Event queries: the events of one object (describe) or of a namespace or all (get events),
for every kind, keyed by the involved object. An object's events go when it is deleted.

`get events` filters as kubectl does: `--for KIND/NAME` (kubectl events' involved object,
the kind resolved as any resource word) and `--field-selector` on the fields the API server
selects events by (`involvedObject.kind|name|namespace|uid|fieldPath`, `reason`, `type`,
`source`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeplay.engine import events as engine_events
from kubeplay.engine import host as host_mod
from kubeplay.kube import selectors
from kubeplay.settings import Settings
from kubeplay.state.store import EventRecord

# The component that reports events about objects of these kinds (kubectl's FROM).
CONTROLLERS = {
    "Deployment": "deployment-controller",
    "ReplicaSet": "replicaset-controller",
    "StatefulSet": "statefulset-controller",
    "DaemonSet": "daemonset-controller",
}


@dataclass(frozen=True, slots=True)
class EventView:
    namespace: str
    kind: str
    name: str
    event: EventRecord

    @property
    def object(self) -> str:
        """kubectl's OBJECT column: `pod/web`, `deployment/api`."""
        return f"{self.kind.lower()}/{self.name}"

    @property
    def source(self) -> str:
        """kubectl's FROM: who reports the event (a controller, about its own object)."""
        if self.kind in CONTROLLERS:
            return CONTROLLERS[self.kind]
        return engine_events.source_of(self.event.reason)

    def fields(self) -> dict[str, str]:
        """The event's selectable fields (`--field-selector`)."""
        e = self.event
        return {
            "involvedObject.kind": self.kind,
            "involvedObject.namespace": e.namespace,
            "involvedObject.name": self.name,
            "involvedObject.uid": e.uid,
            "involvedObject.apiVersion": "",
            "involvedObject.resourceVersion": "",
            "involvedObject.fieldPath": e.field_path,
            "reason": e.reason,
            "reportingComponent": "",
            "source": self.source,
            "type": e.type,
            "metadata.name": f"{self.name}.{e.id:016x}",
            "metadata.namespace": self.namespace,
        }


def list_events(
    settings: Settings,
    *,
    namespace: str | None = None,
    uid: str | None = None,
    pod_uid: str | None = None,
    involved: tuple[str, str] | None = None,
    field_selector: str = "",
) -> list[EventView]:
    """Events oldest first (by when they were last seen): of one object (`uid`; `pod_uid` is
    the same), of an involved (kind, name) in `namespace`, of a namespace or all (None).
    Events of cluster-scoped objects are in the default namespace, as the API server keeps
    them. Bad `field_selector` text raises UsageError."""
    wanted = selectors.parse_fields(field_selector, supported=selectors.EVENT_FIELDS)
    if not settings.state_db.exists():
        return []
    host = host_mod.open_host(settings)
    try:
        records = host.store.list_events(uid or pod_uid)
    finally:
        host.close()
    out = []
    for e in records:
        view = EventView(namespace=e.namespace or "default", kind=e.kind, name=e.name, event=e)
        if namespace is not None and view.namespace != namespace:
            continue
        if involved is not None and (e.kind, e.name) != involved:
            continue
        if selectors.fields_match(wanted, view.fields()):
            out.append(view)
    out.sort(key=lambda v: (v.event.last_at, v.event.id))
    return out
