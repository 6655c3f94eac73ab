"""ControllerRevision history (pkg/controller/history, getStatefulSetRevisions and
truncateHistory): naming, a new revision per template, a rollback renumbering the older
revision, the current revision from status, and pruning."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplay.plan import revisions
from kubeplay.plan.revisions import Revision

T1: dict[str, Any] = {"spec": {"containers": [{"name": "c", "image": "a:1"}]}}
T2: dict[str, Any] = {"spec": {"containers": [{"name": "c", "image": "a:2"}]}}


def rev(template: dict[str, Any], number: int) -> Revision:
    return Revision(revisions.revision_name("web", template), number, template)


def test_name_is_owner_and_template_hash() -> None:
    name = revisions.revision_name("web", T1)
    assert name.startswith("web-") and name != revisions.revision_name("web", T2)


def test_explicit_default_keeps_the_name() -> None:
    explicit = {
        "spec": {
            "containers": [
                {"name": "c", "image": "a:1", "terminationMessagePath": "/dev/termination-log"}
            ]
        }
    }
    assert revisions.revision_name("web", explicit) == revisions.revision_name("web", T1)


def test_first_sync_creates_revision_1() -> None:
    got = revisions.compute_revisions("web", T1, [], current_name="")
    assert got.create == rev(T1, 1)
    assert got.current == got.update == rev(T1, 1)


def test_unchanged_template_reuses_latest() -> None:
    got = revisions.compute_revisions("web", T1, [rev(T1, 1)], current_name=rev(T1, 1).name)
    assert (got.create, got.renumber) == (None, None)
    assert got.update == rev(T1, 1)


def test_new_template_new_revision_current_stays() -> None:
    got = revisions.compute_revisions("web", T2, [rev(T1, 1)], current_name=rev(T1, 1).name)
    assert got.create == rev(T2, 2)
    assert got.current == rev(T1, 1)


def test_rollback_renumbers_the_older_revision() -> None:
    stored = [rev(T1, 1), rev(T2, 2)]
    got = revisions.compute_revisions("web", T1, stored, current_name=rev(T2, 2).name)
    assert got.create is None
    assert got.renumber == got.update == rev(T1, 3)


@pytest.mark.parametrize(
    ("numbers", "live", "limit", "expected"),
    [
        pytest.param([1, 2, 3], ["r3"], 10, (), id="within-limit"),
        pytest.param([1, 2, 3, 4], ["r4"], 1, ("r1", "r2"), id="oldest-pruned-first"),
        pytest.param([1, 2, 3], ["r1", "r3"], 0, ("r2",), id="live-revisions-kept"),
    ],
)
def test_revisions_to_prune(
    numbers: list[int], live: list[str], limit: int, expected: tuple[str, ...]
) -> None:
    stored = [Revision(f"r{n}", n) for n in numbers]
    assert revisions.revisions_to_prune(stored, live=live, limit=limit) == expected


def test_manifest_round_trip() -> None:
    r = rev(T1, 4)
    body = revisions.revision_manifest(r, namespace="ns", owner={"uid": "u"}, labels={"a": "b"})
    assert body["kind"] == "ControllerRevision" and body["revision"] == 4
    assert body["data"]["spec"]["template"]["$patch"] == "replace"
    assert revisions.revision_of(body) == r
