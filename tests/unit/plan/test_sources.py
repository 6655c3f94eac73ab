"""plan.sources: which files a watched source counts, and one reconcile's decision.

Sources: watch.md (edge cases: editors writing in pieces, truncated-but-valid files, one object
in two files, the empty directory); kubelet's static pod directory (dotfiles skipped),
k3s's manifests directory (`*.yaml|*.yml|*.json`, `<file>.skip`) and Argo CD's allowEmpty.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubeplay.kube.kinds import ObjectKey
from kubeplay.kube.objects import KubeObject
from kubeplay.plan import sources
from kubeplay.plan.sources import FileInput, FileState, FileStatus

SETTLE = 0.15


def cm(name: str, source: str = "a.yaml", doc: int = 1) -> KubeObject:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    return KubeObject(body=body, source=source, doc_index=doc)


def key(name: str) -> ObjectKey:
    return ObjectKey("", "ConfigMap", "default", name)


def applied(relpath: str, text: str = "x") -> FileState:
    return FileState(relpath=relpath, sha256="s0", last_good_sha256="s0", last_good_text=text)


@pytest.mark.parametrize(
    ("relpath", "counted"),
    [
        pytest.param("app.yaml", True, id="yaml-counts"),
        pytest.param("app.yml", True, id="yml-counts"),
        pytest.param("app.json", True, id="json-counts"),
        pytest.param("app.prod.yaml", True, id="dots-in-the-name-count"),
        pytest.param(".app.yaml", False, id="dotfile-ignored"),
        pytest.param(".app.yaml.Xa81", False, id="rsync-temp-ignored"),
        pytest.param("app.yaml~", False, id="backup-tilde-ignored"),
        pytest.param(".app.yaml.swp", False, id="vim-swap-ignored"),
        pytest.param("app.yaml.swp", False, id="swap-ignored"),
        pytest.param("#app.yaml#", False, id="emacs-autosave-ignored"),
        pytest.param("app.yaml.bak", False, id="bak-ignored"),
        pytest.param("app.yaml.tmp", False, id="tmp-ignored"),
        pytest.param("app.yaml.orig", False, id="orig-ignored"),
        pytest.param("4913", False, id="vim-probe-file-ignored"),
        pytest.param("README.md", False, id="not-a-manifest-suffix"),
        pytest.param("kube-apiserver.yaml-bak", False, id="yaml-bak-ignored-k8s-website-45758"),
        pytest.param("kustomization.yaml", False, id="kustomization-skipped"),
        pytest.param("sub/.hidden/a.yaml", False, id="dot-directory-ignored"),
    ],
)
def test_ignored_reason(relpath: str, counted: bool) -> None:
    assert (sources.ignored_reason(relpath) == "") is counted


def test_select_files_top_level_unless_recursive() -> None:
    found = ["b.yaml", "a.yml", "sub/c.yaml", "x.yaml", "x.yaml.skip", "kustomization.yaml"]
    top = sources.select_files(found, recursive=False)
    assert top.files == ("a.yml", "b.yaml")
    assert top.warnings == (
        "kustomization.yaml: skipped: a kustomization is not a Kubernetes object: "
        "pipe `kubectl kustomize` into `kubeplay apply -f -`",
    )
    assert sources.select_files(found, recursive=True).files == ("a.yml", "b.yaml", "sub/c.yaml")


def test_new_files_are_desired_and_applied() -> None:
    plan = sources.compute_source(
        [
            FileInput("a.yaml", "s1", "A", (cm("one"),)),
            FileInput("b.yaml", "s2", "B", (cm("two"),)),
        ],
        {},
        {},
        now=100.0,
    )
    assert [o.name for o in plan.desired] == ["one", "two"]
    assert plan.prune and not plan.keep and plan.requeue_after is None
    assert [(f.relpath, f.status, f.last_good_text) for f in plan.files] == [
        ("a.yaml", FileStatus.APPLIED, "A"),
        ("b.yaml", FileStatus.APPLIED, "B"),
    ]


def test_invalid_file_is_held_at_its_last_good_content() -> None:
    plan = sources.compute_source(
        [FileInput("a.yaml", "s1", "broken", error="a.yaml:3 (document 2): spec: bad")],
        {"a.yaml": applied("a.yaml", "good")},
        {"a.yaml": [cm("one"), cm("two", doc=2)]},
        now=100.0,
    )
    assert [o.name for o in plan.desired] == ["one", "two"]
    (state,) = plan.files
    assert state.status is FileStatus.HELD
    assert state.error == "a.yaml:3 (document 2): spec: bad"
    assert state.last_good_text == "good"
    assert plan.held == (state,)


def test_invalid_file_never_good_defines_nothing() -> None:
    plan = sources.compute_source([FileInput("a.yaml", "s1", "?", error="bad")], {}, {}, now=1.0)
    assert plan.desired == () and plan.files[0].status is FileStatus.HELD


@pytest.mark.parametrize(
    ("pending", "since", "now", "removed"),
    [
        pytest.param(None, 0.0, 100.0, False, id="first-look-at-a-truncated-file-waits"),
        pytest.param("s1", 99.95, 100.0, False, id="same-content-too-soon-waits"),
        pytest.param("s1", 99.8, 100.0, True, id="same-content-a-window-apart-removes"),
        pytest.param("s9", 90.0, 100.0, False, id="other-content-pending-starts-again"),
    ],
)
def test_object_gone_from_a_file_waits_to_settle(
    pending: str | None, since: float, now: float, removed: bool
) -> None:
    old = FileState(
        "a.yaml",
        "s0",
        last_good_sha256="s0",
        last_good_text="AB",
        pending_sha256=pending,
        pending_since=since,
    )
    plan = sources.compute_source(
        [FileInput("a.yaml", "s1", "A", (cm("one"),))],
        {"a.yaml": old},
        {"a.yaml": [cm("one"), cm("two", doc=2)]},
        now=now,
        settle=SETTLE,
    )
    (state,) = plan.files
    if removed:
        assert [o.name for o in plan.desired] == ["one"]
        assert state.status is FileStatus.APPLIED and state.last_good_text == "A"
        assert state.pending_sha256 is None and plan.requeue_after is None
    else:
        assert [o.name for o in plan.desired] == ["one", "two"]
        assert state.status is FileStatus.SETTLING and state.last_good_text == "AB"
        assert state.pending_sha256 == "s1"
        assert plan.requeue_after is not None
        assert 0 < plan.requeue_after <= SETTLE + 1e-9


def test_added_or_changed_objects_apply_at_once() -> None:
    plan = sources.compute_source(
        [FileInput("a.yaml", "s1", "AB", (cm("one"), cm("two", doc=2)))],
        {"a.yaml": applied("a.yaml", "A")},
        {"a.yaml": [cm("one")]},
        now=100.0,
    )
    assert plan.files[0].status is FileStatus.APPLIED and plan.requeue_after is None


def test_removed_file_prunes_only_once_it_stays_removed() -> None:
    stored = {"a.yaml": applied("a.yaml"), "b.yaml": applied("b.yaml")}
    good = {"a.yaml": [cm("one")], "b.yaml": [cm("two", "b.yaml")]}
    first = sources.compute_source(
        [FileInput("a.yaml", "s0", "x", (cm("one"),))], stored, good, now=100.0
    )
    assert [o.name for o in first.desired] == ["one", "two"]
    b = {f.relpath: f for f in first.files}["b.yaml"]
    assert b.status is FileStatus.SETTLING and b.pending_sha256 == ""
    later = sources.compute_source(
        [FileInput("a.yaml", "s0", "x", (cm("one"),))],
        {"a.yaml": applied("a.yaml"), "b.yaml": b},
        good,
        now=100.0 + SETTLE,
    )
    assert [o.name for o in later.desired] == ["one"]
    assert [f.relpath for f in later.files] == ["a.yaml"]


def test_rename_moves_objects_without_a_removal() -> None:
    plan = sources.compute_source(
        [FileInput("new.yaml", "s0", "x", (cm("one", "new.yaml"),))],
        {"old.yaml": applied("old.yaml")},
        {"old.yaml": [cm("one", "old.yaml")]},
        now=100.0,
    )
    assert [o.source for o in plan.desired] == ["new.yaml"]
    assert not plan.keep and plan.requeue_after is None
    assert [f.relpath for f in plan.files] == ["new.yaml"]


def test_object_moved_to_another_file_is_no_removal() -> None:
    plan = sources.compute_source(
        [
            FileInput("a.yaml", "s1", "A", (cm("one"),)),
            FileInput("b.yaml", "s2", "B", (cm("two", "b.yaml"),)),
        ],
        {"a.yaml": applied("a.yaml"), "b.yaml": applied("b.yaml")},
        {"a.yaml": [cm("one"), cm("two", doc=2)], "b.yaml": []},
        now=100.0,
    )
    assert [(o.name, o.source) for o in plan.desired] == [("one", "a.yaml"), ("two", "b.yaml")]
    assert all(f.status is FileStatus.APPLIED for f in plan.files) and not plan.keep


def test_duplicate_identity_in_two_files_is_a_conflict_that_changes_nothing() -> None:
    plan = sources.compute_source(
        [
            FileInput("a.yaml", "s1", "A", (cm("one"), cm("shared", doc=2))),
            FileInput("b.yaml", "s2", "B", (cm("shared", "b.yaml"),)),
        ],
        {},
        {},
        now=1.0,
    )
    assert [o.name for o in plan.desired] == ["one"]
    assert plan.keep == frozenset({key("shared")})
    assert [f.status for f in plan.files] == [FileStatus.CONFLICT, FileStatus.CONFLICT]
    assert "configmap/shared is also defined in b.yaml" in plan.files[0].error
    assert plan.messages == ("configmap/shared is defined in a.yaml and b.yaml",)


@pytest.mark.parametrize(
    ("owned", "allow_empty", "prune", "expected"),
    [
        pytest.param(3, False, True, False, id="empty-source-owning-objects-prunes-nothing"),
        pytest.param(3, True, True, True, id="allow-empty-prunes"),
        pytest.param(0, False, True, True, id="empty-source-owning-nothing-is-fine"),
        pytest.param(3, True, False, False, id="no-prune-never-prunes"),
    ],
)
def test_empty_guard(owned: int, allow_empty: bool, prune: bool, expected: bool) -> None:
    plan = sources.compute_source(
        [], {}, {}, now=1.0, owned=owned, allow_empty=allow_empty, prune=prune
    )
    assert plan.prune is expected
    assert bool(plan.messages) is (owned > 0 and prune and not allow_empty)


def test_revision_is_the_sorted_path_and_content_list() -> None:
    a = [FileInput("a.yaml", "1"), FileInput("b.yaml", "2")]
    assert sources.revision_of(a) == sources.revision_of(list(reversed(a)))
    assert sources.revision_of(a) != sources.revision_of([FileInput("a.yaml", "2")])


@pytest.mark.parametrize(
    ("failures", "delay"),
    [
        pytest.param(1, 10.0, id="first-retry-after-10s"),
        pytest.param(2, 20.0, id="doubling"),
        pytest.param(10, 300.0, id="capped-at-5m"),
    ],
)
def test_retry_delay(failures: int, delay: float) -> None:
    assert sources.retry_delay(failures) == delay


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("20s", 20.0, id="seconds"),
        pytest.param("1m", 60.0, id="minutes"),
        pytest.param("500ms", 0.5, id="milliseconds"),
        pytest.param("7", 7.0, id="plain-number"),
    ],
)
def test_parse_interval(text: str, seconds: float) -> None:
    assert sources.parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["0s", "-1", "soon"])
def test_parse_interval_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        sources.parse_interval(text)


def test_atomic_holds_every_file_while_one_is_invalid() -> None:
    plan = sources.compute_source(
        [
            FileInput("a.yaml", "s1", "A2", (cm("one"), cm("new", doc=2))),
            FileInput("b.yaml", "s2", "?", error="b.yaml:1: bad"),
            FileInput("c.yaml", "s3", "C", (cm("fresh", "c.yaml"),)),
        ],
        {"a.yaml": applied("a.yaml", "A"), "b.yaml": applied("b.yaml", "B")},
        {"a.yaml": [cm("one")], "b.yaml": [cm("two", "b.yaml")]},
        now=1.0,
        owned=2,
        atomic=True,
    )
    assert sorted(o.name for o in plan.desired) == ["one", "two"]
    assert not plan.prune
    assert {f.relpath: f.status for f in plan.files} == {
        "a.yaml": FileStatus.HELD,
        "b.yaml": FileStatus.HELD,
        "c.yaml": FileStatus.HELD,
    }
    assert plan.files[0].last_good_text == "A"
    assert plan.messages[0] == "revision held: b.yaml invalid (--atomic)"


def test_drift_is_what_changes_for_objects_of_files_applied_at_the_same_content() -> None:
    applied = FileStatus.APPLIED
    before = {
        "same.yaml": FileState("same.yaml", "s1", applied, last_good_sha256="s1"),
        "edited.yaml": FileState("edited.yaml", "e1", applied, last_good_sha256="e1"),
        "fixed.yaml": FileState("fixed.yaml", "f2", FileStatus.HELD, last_good_sha256="f1"),
    }
    after = [
        FileState("same.yaml", "s1", applied, last_good_sha256="s1"),
        FileState("edited.yaml", "e2", applied, last_good_sha256="e2"),
        FileState("fixed.yaml", "f2", applied, last_good_sha256="f2"),
        FileState("new.yaml", "n1", applied, last_good_sha256="n1"),
    ]
    settled = sources.settled_files(before, after)
    assert settled == {"same.yaml"}

    def cm(name: str, file: str) -> KubeObject:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
        return KubeObject(body, source=file)

    desired = [cm("back", "same.yaml"), cm("kept", "same.yaml"), cm("new", "edited.yaml")]
    changed = ["configmap/back created", "configmap/new configured", "configmap/old pruned"]
    assert sources.split_drift(changed, desired, settled) == (
        ("configmap/new configured", "configmap/old pruned"),
        ("configmap/back created",),
    )
