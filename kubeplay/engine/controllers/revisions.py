"""ControllerRevisions in the store, for the StatefulSet and DaemonSet controllers: write the
revision `plan.revisions` chose (new, or renumbered on a rollback) and drop the ones past the
set's history limit. The choosing is `plan.revisions`'; this module only writes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from kubeplay.plan import revisions as revisions_mod
from kubeplay.state.store import ObjectRecord, Store

GROUP = "apps"


def store_revision(
    store: Store,
    rec: ObjectRecord,
    chosen: revisions_mod.RevisionPlan,
    stored: Sequence[ObjectRecord],
    *,
    owner: Mapping[str, Any],
    now: float,
) -> None:
    """Write the revision `chosen` creates or renumbers (nothing when neither), owned by the
    set `rec`, labelled with its template's labels; a renumbered one keeps its uid."""
    new = chosen.create or chosen.renumber
    if new is None:
        return
    tmeta = ((rec.body.get("spec") or {}).get("template") or {}).get("metadata") or {}
    body = revisions_mod.revision_manifest(
        new, namespace=rec.namespace, owner=owner, labels=tmeta.get("labels") or {}
    )
    old = next((r for r in stored if r.name == new.name), None)
    store.put_records(
        [
            ObjectRecord(
                uid=old.uid if old is not None else str(uuid.uuid4()),
                api_group=GROUP,
                kind=revisions_mod.KIND,
                namespace=rec.namespace,
                name=new.name,
                body=body,
                owner_uid=rec.uid,
                created_at=old.created_at if old is not None else now,
                updated_at=now,
            )
        ]
    )


def prune_revisions(
    store: Store, stored: Sequence[ObjectRecord], *, live: Sequence[str], limit: int
) -> None:
    """Delete the revisions past `limit` that no live pod runs (revisionHistoryLimit)."""
    names = revisions_mod.revisions_to_prune(
        [revisions_mod.revision_of(r.body) for r in stored], live=live, limit=limit
    )
    if names:
        store.delete_records([r.uid for r in stored if r.name in names])
