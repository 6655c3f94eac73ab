"""ControllerRevisions: the template history of a StatefulSet or a DaemonSet.

As `pkg/controller/history` and the two controllers' `getStatefulSetRevisions` /
`constructHistory` keep it: a revision is named `<owner>-<hash>` (the hash of the defaulted
pod template, FNV-32a safe-encoded as `kube.workloads.template_hash`; the value differs from
a cluster's, which hashes the Go struct), numbered from 1; the newest number is the update
revision. A template equal to an older revision's takes that revision back under a new number
(a rollback keeps its name, so its pods count as updated). History no pod and neither status
revision uses is pruned beyond `revisionHistoryLimit`, oldest first. Pure: no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeplay.kube import workloads

KIND = "ControllerRevision"
# history.ControllerRevisionName: a prefix longer than this is cut.
_PREFIX_MAX = 223


@dataclass(frozen=True, slots=True)
class Revision:
    """A ControllerRevision: its name, number and the pod template it records."""

    name: str
    number: int
    template: Mapping[str, Any] = field(default_factory=dict)


def revision_name(owner: str, template: Mapping[str, Any]) -> str:
    """ControllerRevisionName: `<owner>-<hash of the defaulted template>`."""
    return f"{owner[:_PREFIX_MAX]}-{workloads.template_hash(template)}"


@dataclass(frozen=True, slots=True)
class RevisionPlan:
    """The current and update revisions of a sync; `create` is a revision to store,
    `renumber` an older one taken back (a rollback) under a new number."""

    current: Revision
    update: Revision
    create: Revision | None = None
    renumber: Revision | None = None


def compute_revisions(
    owner: str,
    template: Mapping[str, Any],
    stored: Sequence[Revision],
    *,
    current_name: str,
) -> RevisionPlan:
    """The revisions a sync works with, from the stored ones and `status.currentRevision`
    ("" for a DaemonSet, whose current revision is the update one)."""
    ordered = sorted(stored, key=lambda r: (r.number, r.name))
    next_number = (ordered[-1].number + 1) if ordered else 1
    name = revision_name(owner, template)
    equal = [r for r in ordered if r.name == name]
    create = renumber = None
    if equal and ordered[-1].name == name:
        update = ordered[-1]
    elif equal:
        update = renumber = Revision(name, next_number, equal[-1].template)
    else:
        update = create = Revision(name, next_number, copy.deepcopy(dict(template)))
    current = next((r for r in ordered if r.name == current_name), None)
    if current is None or current.name == update.name:
        current = update
    return RevisionPlan(current=current, update=update, create=create, renumber=renumber)


def revisions_to_prune(
    stored: Sequence[Revision], *, live: Sequence[str], limit: int
) -> tuple[str, ...]:
    """truncateHistory: revisions that no pod and neither status revision uses, beyond
    `limit`, the lowest numbers first."""
    keep = set(live)
    history = [r for r in sorted(stored, key=lambda r: r.number) if r.name not in keep]
    if limit < 0 or len(history) <= limit:
        return ()
    return tuple(r.name for r in history[: len(history) - limit])


def revision_manifest(
    revision: Revision, *, namespace: str, owner: Mapping[str, Any], labels: Mapping[str, str]
) -> dict[str, Any]:
    """The ControllerRevision object: the template as the patch the controller records."""
    template = {**copy.deepcopy(dict(revision.template)), "$patch": "replace"}
    return {
        "apiVersion": "apps/v1",
        "kind": KIND,
        "metadata": {
            "name": revision.name,
            "namespace": namespace,
            "labels": {**labels, "controller-revision-hash": revision.name.rsplit("-", 1)[-1]},
            "ownerReferences": [dict(owner)],
        },
        "data": {"spec": {"template": template}},
        "revision": revision.number,
    }


def revision_of(body: Mapping[str, Any]) -> Revision:
    """A stored ControllerRevision back as a Revision."""
    template = dict(((body.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    number = body.get("revision")
    return Revision(
        name=str((body.get("metadata") or {}).get("name", "")),
        number=number if isinstance(number, int) else 0,
        template=template,
    )
