"""The Services controller: keeps the nft table and the DNS names in step with the store.

Every Service shares one nft table and one hosts file, rendered whole from the store
(`engine.network.refresh`: cluster IPs, endpoints from the pods' readiness, names), so the
controller has one key, `NETWORK_KEY`, listed while any Service is stored; a command's nudge
naming a Service key syncs the same way. A sync re-renders and applies only what changed
since this process last applied it; every `FULL_SYNC_SECONDS` it applies the table again
whatever it was, which repairs an `nft flush ruleset` or a deleted table by someone else.

A pod that changed (created, started, exited, a probe result, gone) queues the network key
through `pod_watcher` (the pod controller's watchers), so a readiness flip reaches the rules
at once; the key is also requeued every `POLL_SECONDS` while Services exist, a safety net
for changes no pod sync sees. While any Service exists the
supervisor is needed. Decides nothing itself: `plan.services` does.
"""

from __future__ import annotations

from kubeplay import log
from kubeplay.engine.host import Host
from kubeplay.engine.loop import ObjectKey, SyncResult
from kubeplay.errors import PermanentError
from kubeplay.state.store import PodRecord

KIND = "Service"
NETWORK_KEY = ObjectKey(KIND, "", "")  # the whole node network, not one Service
POLL_SECONDS = 2.0
FULL_SYNC_SECONDS = 20.0

_log = log.get_logger(__name__)


class ServiceController:
    def __init__(self, host: Host) -> None:
        self.host = host
        self._full_at = 0.0  # when the table was last applied whatever it was
        # Services existed at the last sync; until a first sync says, assume they may: a
        # fresh supervisor's first sync runs beside the pods' (in another worker), and a
        # readiness flip reported meanwhile must queue the key again, not wait for the poll.
        self._active = True

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset({KIND})

    def keys(self) -> list[ObjectKey]:
        return [NETWORK_KEY] if self._services() else []

    def _services(self) -> int:
        return sum(1 for r in self.host.store.list_records([KIND]) if not r.api_group)

    def sync(self, key: ObjectKey, *, now: float) -> SyncResult:
        from kubeplay.engine import network

        full = now - self._full_at >= FULL_SYNC_SECONDS
        applied = network.refresh(self.host, only_changed=not full)
        if full:
            self._full_at = now
        self._active = bool(applied.services)
        if not applied.services:
            return SyncResult()
        return SyncResult(
            requeue_after=POLL_SECONDS if key == NETWORK_KEY else None, needs_supervisor=True
        )

    def pod_watcher(self, pod: PodRecord) -> list[ObjectKey]:
        """A pod changed: while Services exist, their rules and names may have to follow."""
        return [NETWORK_KEY] if self._active else []

    def failed(self, key: ObjectKey, err: PermanentError, *, now: float) -> None:
        _log.warning("services_sync_failed", key=str(key), error=str(err))
