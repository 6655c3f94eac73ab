"""SqliteStore: kubeplay's desired and recorded state, one SQLite file (WAL) per install.

The desired state of every kind is one `objects` table (`state.objects`); pods keep their
runtime tables (`state.pods`), named volumes theirs (`state.volumes`), and events are keyed
by their object (`state.events`). The schema and its migrations are `state.schema`. Pods are
written in one transaction per play before anything is created, so a crash leaves rows the
next `down`/`system reset` can clean; `batch()` groups writes of several tables into one
transaction. `Store` is the Protocol the engine's apply step is written against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from kubeplay.state.events import EventRecord, EventsTable
from kubeplay.state.objects import ObjectRecord, StoredObject, WorkloadRecord
from kubeplay.state.pods import ContainerRecord, PodRecord, PodsTable, ProbeStateRecord
from kubeplay.state.schema import SCHEMA_VERSION
from kubeplay.state.sources import SourceFileRecord, SourceRecord, SourcesTable
from kubeplay.state.volumes import VolumeRecord, VolumesTable

__all__ = [
    "SCHEMA_VERSION",
    "ContainerRecord",
    "EventRecord",
    "ObjectRecord",
    "PodRecord",
    "ProbeStateRecord",
    "SourceFileRecord",
    "SourceRecord",
    "SqliteStore",
    "Store",
    "StoredObject",
    "VolumeRecord",
    "WorkloadRecord",
]


class Store(Protocol):
    """What the engine's apply step and the object commands need of a store."""

    def batch(self) -> AbstractContextManager[None]: ...

    def put_records(self, records: Iterable[ObjectRecord]) -> None: ...

    def delete_records(self, uids: Iterable[str]) -> int: ...

    def set_origins(self, origins: Mapping[str, str]) -> None: ...

    def set_record_status(self, uid: str, status: Mapping[str, Any]) -> bool: ...

    def get_record(
        self, group: str, kind: str, namespace: str, name: str
    ) -> ObjectRecord | None: ...

    def get_record_by_uid(self, uid: str) -> ObjectRecord | None: ...

    def list_records(
        self,
        kinds: Sequence[str] | None = None,
        namespace: str | None = None,
        *,
        source: str | None = None,
        owner_uid: str | None = None,
    ) -> list[ObjectRecord]: ...

    def add_pods(
        self,
        pods: Sequence[PodRecord],
        *,
        workloads: Sequence[WorkloadRecord] = (),
        guard: Callable[[list[PodRecord]], None] | None = None,
    ) -> None: ...

    def get_pod_by_uid(self, uid: str) -> PodRecord | None: ...

    def list_pods(self, namespace: str | None = None) -> list[PodRecord]: ...

    def set_pod_spec(self, uid: str, *, manifest: dict[str, Any], plan_json: str) -> None: ...

    def add_event(
        self,
        uid: str,
        *,
        type: str,
        reason: str,
        message: str,
        field_path: str = "",
        at: float,
        kind: str = "Pod",
        namespace: str = "",
        name: str = "",
    ) -> EventRecord: ...


class SqliteStore(PodsTable, EventsTable, VolumesTable, SourcesTable):
    """Every table of one install's state database, over one connection."""
