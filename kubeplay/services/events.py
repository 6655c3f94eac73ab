"""Event queries: the events of one pod (describe) or of a namespace or all (get events),
with the object each concerns (a pod, or a controller's object such as a StatefulSet).
Events are kept with their object and go when it is deleted."""

from __future__ import annotations

from dataclasses import dataclass

from kubeplay.engine import events as engine_events
from kubeplay.engine import host as host_mod
from kubeplay.settings import Settings
from kubeplay.state.store import EventRecord

# The component that reports events about objects of these kinds (kubectl's FROM).
CONTROLLERS = {"StatefulSet": "statefulset-controller", "DaemonSet": "daemonset-controller"}


@dataclass(frozen=True, slots=True)
class EventView:
    namespace: str
    pod: str  # the involved object's name (a pod's, or a controller's object)
    event: EventRecord
    kind: str = "Pod"

    @property
    def object(self) -> str:
        """kubectl's OBJECT: `pod/web-0`, `statefulset/web`."""
        return f"{self.kind.lower()}/{self.pod}"

    @property
    def source(self) -> str:
        """kubectl's FROM: who reports the event (a controller, about its own object)."""
        if self.kind in CONTROLLERS:
            return CONTROLLERS[self.kind]
        return engine_events.source_of(self.event.reason)


def list_events(
    settings: Settings, *, namespace: str | None = None, pod_uid: str | None = None
) -> list[EventView]:
    """Events oldest first (by when they were last seen), of one pod, a namespace or all."""
    if not settings.state_db.exists():
        return []
    host = host_mod.open_host(settings)
    try:
        pods = {r.uid: r for r in host.store.list_pods(namespace)}
        out = [
            EventView(namespace=pods[e.pod_uid].namespace, pod=pods[e.pod_uid].name, event=e)
            for e in host.store.list_events(pod_uid)
            if e.pod_uid in pods
        ]
        if pod_uid is None:  # the events of other objects (a controller's about its set)
            out += [
                EventView(namespace=e.namespace, pod=e.name, event=e, kind=e.kind)
                for e in host.store.list_events()
                if e.kind != "Pod" and e.name and namespace in (None, e.namespace)
            ]
    finally:
        host.close()
    out.sort(key=lambda v: (v.event.last_at, v.event.id))
    return out
