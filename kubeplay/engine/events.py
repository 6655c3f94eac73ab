"""Events about pods, recorded the way the kubelet words them (Scheduled, Pulled, Created,
Started, Killing, BackOff, Failed ...), with the field path of the container they concern
(`spec.containers{web}`); events about objects of any other kind with `record_object`
(keyed by the involved object). The store counts a repeat of an object's latest event.

Recording an event never fails the operation it describes: a store error is logged only.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from kubeplay import log
from kubeplay.engine.host import Host
from kubeplay.errors import KubeplayError
from kubeplay.plan.pods import ContainerKind, ContainerPlan

if TYPE_CHECKING:
    from kubeplay.state.store import ObjectRecord

NORMAL = "Normal"
WARNING = "Warning"
# The component that reports each reason (kubectl's FROM column); the kubelet otherwise.
SOURCES = {
    "Scheduled": "default-scheduler",
    "ProvisioningSucceeded": "persistentvolume-controller",
}
NODE = "localhost"

_log = log.get_logger(__name__)


def field_path(ctr: ContainerPlan) -> str:
    group = "initContainers" if ctr.kind == ContainerKind.INIT else "containers"
    return f"spec.{group}{{{ctr.name}}}"


def source_of(reason: str) -> str:
    return SOURCES.get(reason, "kubelet")


def record(
    host: Host,
    pod_uid: str,
    *,
    reason: str,
    message: str,
    type: str = NORMAL,
    ctr: ContainerPlan | None = None,
) -> None:
    import sqlite3

    try:
        host.store.add_event(
            pod_uid,
            type=type,
            reason=reason,
            message=message,
            field_path=field_path(ctr) if ctr is not None else "",
            at=time.time(),
        )
    except (sqlite3.Error, KubeplayError) as err:
        _log.warning("event_not_recorded", pod_uid=pod_uid, reason=reason, error=str(err))


def record_object(
    host: Host,
    uid: str,
    *,
    kind: str,
    namespace: str,
    name: str,
    reason: str,
    message: str,
    type: str = NORMAL,
    at: float | None = None,
) -> None:
    """An event about a stored object of any kind (`get events`, `describe KIND NAME`), at
    `at` (a controller's clock) or now; a store error is logged, never raised: an event never
    fails what it describes."""
    import sqlite3

    try:
        host.store.add_event(
            uid,
            type=type,
            reason=reason,
            message=message,
            at=time.time() if at is None else at,
            kind=kind,
            namespace=namespace,
            name=name,
        )
    except (sqlite3.Error, KubeplayError) as err:
        _log.warning("event_not_recorded", uid=uid, kind=kind, reason=reason, error=str(err))


def record_about(
    host: Host,
    rec: ObjectRecord,
    *,
    reason: str,
    message: str,
    type: str = NORMAL,
    at: float | None = None,
) -> None:
    """`record_object` for a stored object's record, under its own kind."""
    record_object(
        host,
        rec.uid,
        kind=rec.kind,
        namespace=rec.namespace,
        name=rec.name,
        reason=reason,
        message=message,
        type=type,
        at=at,
    )


def scheduled(host: Host, pod_uid: str, ref: str) -> None:
    record(host, pod_uid, reason="Scheduled", message=f"Successfully assigned {ref} to {NODE}")


def pulled(host: Host, pod_uid: str, ctr: ContainerPlan) -> None:
    message = f'Container image "{ctr.image}" already present on machine'
    record(host, pod_uid, reason="Pulled", message=message, ctr=ctr)


def created(host: Host, pod_uid: str, ctr: ContainerPlan) -> None:
    record(host, pod_uid, reason="Created", message=f"Created container: {ctr.name}", ctr=ctr)


def started(host: Host, pod_uid: str, ctr: ContainerPlan) -> None:
    record(host, pod_uid, reason="Started", message=f"Started container {ctr.name}", ctr=ctr)


def failed(host: Host, pod_uid: str, ctr: ContainerPlan, error: str) -> None:
    record(host, pod_uid, type=WARNING, reason="Failed", message=f"Error: {error}", ctr=ctr)


def killing(host: Host, pod_uid: str, ctr: ContainerPlan, *, message: str = "") -> None:
    message = message or f"Stopping container {ctr.name}"
    record(host, pod_uid, reason="Killing", message=message, ctr=ctr)
