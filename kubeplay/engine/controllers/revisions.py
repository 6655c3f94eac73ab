"""ControllerRevisions in the store, for the StatefulSet and DaemonSet controllers: adopt the
released ones the set's selector matches, write the revision `plan.revisions` chose (new, or
renumbered on a rollback) and drop the ones past the set's history limit. The choosing is
`plan.revisions`'; this module only reads and writes the store."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from kubeplay.plan import revisions as revisions_mod
from kubeplay.state.store import ObjectRecord, Store

GROUP = "apps"


def adopt_revisions(
    store: Store, rec: ObjectRecord, *, owner: Mapping[str, Any], now: float
) -> None:
    """ClaimControllerRevisions' adoption: the revisions of the set's namespace that no
    controller owns (a `delete --cascade=orphan` released them) and whose labels its selector
    matches become the set's, so that the same template finds its revision again instead of
    clashing with its name."""
    from kubeplay.kube import workloads

    selector = (rec.body.get("spec") or {}).get("selector") or {}
    if not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return
    adopted = []
    for r in store.list_records([revisions_mod.KIND], rec.namespace):
        meta = r.body.get("metadata") or {}
        if r.owner_uid or not workloads.selector_matches(selector, meta.get("labels") or {}):
            continue
        refs = [*(meta.get("ownerReferences") or ()), dict(owner)]
        body = {**r.body, "metadata": {**meta, "ownerReferences": refs}}
        adopted.append(replace(r, body=body, owner_uid=rec.uid, content_hash="", updated_at=now))
    if adopted:
        store.put_records(adopted)


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
