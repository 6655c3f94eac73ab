"""Watched sources with a real store and no runtime (ConfigMaps only), and the source
controller and the supervisor's debounce with a fake clock.

Editor save patterns are replayed on a real directory between reconciles (vim's rename-save,
truncate then write, temp file then rename, rsync's dotfile then rename): none may delete or
change an object whose content did not change. Git sources use a repository the test makes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeplay.engine import supervisor as supervisor_mod
from kubeplay.engine.controllers.sources import Debouncer, Outcome, SourceController, source_key
from kubeplay.engine.host import open_host
from kubeplay.services import sources
from kubeplay.settings import Settings
from kubeplay.state.objects import ObjectRecord
from kubeplay.testing import FakeClock

T0 = 1_000_000.0
SETTLE = 0.15


def cm(name: str, value: str = "v", *, extra: str = "") -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{extra}"
        f"data:\n  key: {value!r}\n"
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(root=tmp_path / "root", runroot=tmp_path / "run", watch_debounce=SETTLE)


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    d = tmp_path / "manifests"
    d.mkdir()
    return d


class Source:
    """A registered directory source reconciled at fake times."""

    def __init__(self, settings: Settings, directory: Path, **options: object) -> None:
        self.settings = settings
        self.dir = directory
        self.now = T0
        self.parser = sources.Parser(settings)
        rec = sources.register(settings, directory=str(directory), name="app", **options)  # type: ignore[arg-type]
        self.name = rec.name

    def reconcile(self, *, after: float = 1.0) -> sources.ReconcileReport:
        self.now += after
        return sources.reconcile(self.settings, self.name, parser=self.parser, now=self.now)

    def objects(self) -> dict[str, ObjectRecord]:
        host = open_host(self.settings)
        try:
            return {r.name: r for r in host.store.list_records(["ConfigMap"])}
        finally:
            host.close()

    def files(self) -> dict[str, str]:
        view = sources.get_source(self.settings, self.name)
        return {f.relpath: str(f.status) for f in view.files}


@pytest.fixture
def src(settings: Settings, manifests: Path) -> Iterator[Source]:
    (manifests / "a.yaml").write_text(cm("one") + "---\n" + cm("two"))
    (manifests / "b.yaml").write_text(cm("three"))
    source = Source(settings, manifests)
    report = source.reconcile()
    assert report.lines == (
        "configmap/one created",
        "configmap/two created",
        "configmap/three created",
    )
    yield source


def test_a_second_reconcile_changes_nothing(src: Source) -> None:
    uids = {n: r.uid for n, r in src.objects().items()}
    report = src.reconcile()
    assert report.lines == () and report.unchanged == 3
    assert {n: r.uid for n, r in src.objects().items()} == uids
    assert src.files() == {"a.yaml": "Applied", "b.yaml": "Applied"}


def test_a_stored_only_kind_warns_when_applied_not_on_each_relist(src: Source) -> None:
    account = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: robot\n"
    (src.dir / "sa.yaml").write_text(account)
    report = src.reconcile()
    assert report.lines == ("serviceaccount/robot created",)
    stored_only = "(ServiceAccount robot): kind: ServiceAccount is stored only"
    assert [m for m in report.messages if stored_only in m] != [], report.messages
    relist = src.reconcile()
    assert (relist.lines, relist.messages) == ((), ())
    (src.dir / "sa.yaml").write_text(account + "  labels: {team: a}\n")
    changed = src.reconcile()
    assert changed.lines == ("serviceaccount/robot configured",)
    assert [m for m in changed.messages if stored_only in m] != [], changed.messages


def test_a_changed_file_updates_only_its_changed_object(src: Source) -> None:
    (src.dir / "a.yaml").write_text(cm("one", "new") + "---\n" + cm("two"))
    report = src.reconcile()
    assert report.lines == ("configmap/one configured",)
    assert src.objects()["one"].body["data"] == {"key": "new"}


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda t: "# a comment\n" + t, id="comment-only-edit"),
        pytest.param(
            lambda t: t.replace(
                "apiVersion: v1\nkind: ConfigMap\n", "kind: ConfigMap\napiVersion: v1\n"
            ),
            id="reordered-keys",
        ),
    ],
)
def test_edits_that_mean_nothing_change_nothing(src: Source, edit: object) -> None:
    path = src.dir / "b.yaml"
    path.write_text(edit(path.read_text()))  # type: ignore[operator]
    assert src.reconcile().lines == ()


def test_truncate_then_write_never_deletes(src: Source) -> None:
    """VS Code, `>` and `cp`: the file is empty (or cut after document 1, still valid YAML)
    for a moment: nothing is pruned while it settles, and the finished write changes
    nothing."""
    path = src.dir / "a.yaml"
    text = path.read_text()
    path.write_text("")
    report = src.reconcile(after=0.05)
    assert report.lines == () and report.settling == ("a.yaml",)
    path.write_text(cm("one"))  # cut after document 1: valid, and one object short
    assert src.reconcile(after=0.05).lines == ()
    path.write_text(text)
    report = src.reconcile(after=0.05)
    assert report.lines == () and report.settling == ()
    assert set(src.objects()) == {"one", "two", "three"}


def test_vim_rename_save_never_deletes(src: Source) -> None:
    """vim: a.yaml moved to a.yaml~ (ignored), a new a.yaml written, the backup removed; a
    reconcile may fall between any two steps."""
    path = src.dir / "a.yaml"
    text = path.read_text()
    os.rename(path, src.dir / "a.yaml~")
    report = src.reconcile(after=0.01)
    assert report.lines == () and report.settling == ("a.yaml",)
    (src.dir / "4913").write_text("")  # vim's probe file
    path.write_text(text)
    os.unlink(src.dir / "4913")
    os.unlink(src.dir / "a.yaml~")
    report = src.reconcile(after=0.01)
    assert report.lines == () and not report.settling
    assert src.files() == {"a.yaml": "Applied", "b.yaml": "Applied"}


@pytest.mark.parametrize(
    "temp",
    [
        pytest.param(".a.yaml.XXXXXX", id="rsync-dotfile-then-rename"),
        pytest.param("a.yaml.tmp", id="sed-i-temp-then-rename"),
        pytest.param("a.yaml___jb_tmp___", id="jetbrains-temp-then-rename"),
    ],
)
def test_temp_file_then_rename_changes_only_what_changed(src: Source, temp: str) -> None:
    text = (src.dir / "a.yaml").read_text()
    (src.dir / temp).write_text(text.replace("name: two", "name: two\n  labels: {x: y}"))
    assert src.reconcile(after=0.01).lines == ()  # the temp file is not a manifest
    os.rename(src.dir / temp, src.dir / "a.yaml")
    assert src.reconcile(after=0.01).lines == ("configmap/two configured",)


def test_rename_and_move_restart_nothing(src: Source) -> None:
    uids = {n: r.uid for n, r in src.objects().items()}
    os.rename(src.dir / "b.yaml", src.dir / "c.yaml")
    assert src.reconcile().lines == ()
    (src.dir / "a.yaml").write_text(cm("one"))
    (src.dir / "c.yaml").write_text(cm("three") + "---\n" + cm("two"))
    assert src.reconcile().lines == ()
    objects = src.objects()
    assert {n: r.uid for n, r in objects.items()} == uids
    assert objects["two"].origin == f"{src.dir}/c.yaml#2"


def test_invalid_document_holds_its_file_and_a_fix_applies_it(src: Source) -> None:
    path = src.dir / "a.yaml"
    path.write_text(cm("one", "changed") + "---\n" + cm("two").replace("data:", "dta:"))
    report = src.reconcile()
    assert report.lines == ()
    ((held, error),) = report.held
    assert held == "a.yaml"
    assert f"{path}:" in error and "document 2" in error and "dta" in error
    assert src.objects()["one"].body["data"] == {"key": "v"}
    (src.dir / "b.yaml").write_text(cm("three", "other"))
    assert src.reconcile().lines == ("configmap/three configured",)  # the others proceed
    path.write_text(cm("one", "changed") + "---\n" + cm("two"))
    assert src.reconcile().lines == ("configmap/one configured",)
    assert src.files() == {"a.yaml": "Applied", "b.yaml": "Applied"}


def test_deleting_a_file_prunes_its_objects_once_it_stays_deleted(src: Source) -> None:
    os.unlink(src.dir / "a.yaml")
    assert src.reconcile(after=0.01).lines == ()
    report = src.reconcile(after=SETTLE)
    assert report.lines == ("configmap/one pruned", "configmap/two pruned")
    assert set(src.objects()) == {"three"}
    assert src.files() == {"b.yaml": "Applied"}


def test_a_duplicate_identity_is_a_conflict_that_changes_nothing(src: Source) -> None:
    (src.dir / "c.yaml").write_text(cm("three", "other"))
    report = src.reconcile()
    assert report.lines == ()
    assert [p for p, _ in report.conflicts] == ["b.yaml", "c.yaml"]
    assert src.objects()["three"].body["data"] == {"key": "v"}
    os.unlink(src.dir / "c.yaml")
    assert src.reconcile().lines == ()
    assert src.files() == {"a.yaml": "Applied", "b.yaml": "Applied"}


def test_an_empty_directory_prunes_nothing_and_says_why(src: Source) -> None:
    for name in ("a.yaml", "b.yaml"):
        os.unlink(src.dir / name)
    src.reconcile(after=0.01)
    report = src.reconcile(after=SETTLE)
    assert report.lines == ()
    assert any("nothing pruned (--allow-empty prunes)" in m for m in report.messages)
    assert set(src.objects()) == {"one", "two", "three"}


def test_allow_empty_prunes_an_empty_directory(settings: Settings, manifests: Path) -> None:
    (manifests / "a.yaml").write_text(cm("one"))
    source = Source(settings, manifests, allow_empty=True)
    source.reconcile()
    os.unlink(manifests / "a.yaml")
    source.reconcile(after=0.01)
    assert source.reconcile(after=SETTLE).lines == ("configmap/one pruned",)


def test_a_removed_directory_prunes_nothing(src: Source) -> None:
    shutil.rmtree(src.dir)
    report = src.reconcile()
    assert report.failed.endswith("No such file or directory")
    assert set(src.objects()) == {"one", "two", "three"}
    assert sources.get_source(src.settings, src.name).record.status == "Failed"


def test_no_prune_keeps_what_left_the_source(settings: Settings, manifests: Path) -> None:
    (manifests / "a.yaml").write_text(cm("one"))
    (manifests / "b.yaml").write_text(cm("two"))
    source = Source(settings, manifests, prune=False)
    source.reconcile()
    os.unlink(manifests / "a.yaml")
    source.reconcile(after=0.01)
    assert source.reconcile(after=SETTLE).lines == ()
    assert set(source.objects()) == {"one", "two"}


def test_objects_of_play_are_never_touched(src: Source) -> None:
    from kubeplay.plan import apply as plan_apply
    from kubeplay.services import apply as apply_svc

    mine = src.dir.parent / "mine.yaml"
    mine.write_text(cm("played", "p"))
    objects, _ = apply_svc.load(src.settings, [str(mine)], recursive=False)
    apply_svc.run(
        src.settings, objects, source=plan_apply.PLAY_SOURCE, mode=plan_apply.ApplyMode.PLAY
    )
    (src.dir / "c.yaml").write_text(cm("played", "q"))
    report = src.reconcile()
    assert report.lines == ()
    assert report.messages == ("configmap/played: not applied: managed by source play",)
    os.unlink(src.dir / "c.yaml")
    src.reconcile(after=0.01)
    src.reconcile(after=SETTLE)
    assert src.objects()["played"].body["data"] == {"key": "p"}


def test_a_fifo_and_a_huge_file_are_held_and_the_others_proceed(src: Source) -> None:
    os.mkfifo(src.dir / "pipe.yaml")
    with open(src.dir / "huge.yaml", "wb") as f:
        f.truncate(sources.MAX_FILE_BYTES + 1)
    (src.dir / "loop.yaml").symlink_to(src.dir / "loop.yaml")
    (src.dir / "c.yaml").write_text(cm("four"))
    report = src.reconcile()
    assert report.lines == ("configmap/four created",)
    held = dict(report.held)
    assert "FIFO" in held["pipe.yaml"]
    assert "larger than" in held["huge.yaml"]
    assert "link" in held["loop.yaml"]


def test_recursive_counts_subdirectories(settings: Settings, manifests: Path) -> None:
    (manifests / "sub").mkdir()
    (manifests / "sub" / "a.yaml").write_text(cm("deep"))
    (manifests / "top.yaml").write_text(cm("top"))
    flat = Source(settings, manifests)
    assert flat.reconcile().lines == ("configmap/top created",)
    sources.unwatch(settings, flat.name)
    deep = Source(settings, manifests, recursive=True)
    assert deep.reconcile().lines == ("configmap/deep created",)
    assert deep.files() == {"sub/a.yaml": "Applied", "top.yaml": "Applied"}


def test_unwatch_prune_deletes_the_sources_objects(src: Source) -> None:
    lines = sources.unwatch(src.settings, src.name, prune=True)
    assert sorted(lines) == [
        "configmap/one pruned",
        "configmap/three pruned",
        "configmap/two pruned",
    ]
    assert src.objects() == {}
    assert sources.list_sources(src.settings) == []


def test_a_second_source_with_the_same_name_is_refused(src: Source) -> None:
    from kubeplay.errors import AlreadyExistsError

    with pytest.raises(AlreadyExistsError):
        sources.register(src.settings, directory=str(src.dir), name=src.name)
    # `watch --once` again (CI): the same source
    again = sources.register(src.settings, directory=str(src.dir), name=src.name, reuse=True)
    assert again == sources.get_source(src.settings, src.name).record
    other = src.dir.parent / "other"
    other.mkdir()
    with pytest.raises(AlreadyExistsError):
        sources.register(src.settings, directory=str(other), name=src.name, reuse=True)


# --- git --------------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(repo.parent),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    (work / "deploy").mkdir()
    (work / "deploy" / "a.yaml").write_text(cm("one"))
    (work / "README.md").write_text("not a manifest\n")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "one")
    return work


def test_git_commit_revert_and_force_push(settings: Settings, repo: Path) -> None:
    rec = sources.register(settings, git=f"file://{repo}", ref="main", subpath="deploy")
    parser = sources.Parser(settings)

    def reconcile() -> sources.ReconcileReport:
        return sources.reconcile(settings, rec.name, parser=parser)

    first = reconcile()
    assert first.lines == ("configmap/one created",)
    assert first.revision == _git(repo, "rev-parse", "HEAD")
    (repo / "deploy" / "b.yaml").write_text(cm("two"))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "two")
    assert reconcile().lines == ("configmap/two created",)
    _git(repo, "revert", "--no-edit", "HEAD")
    assert reconcile().lines == ("configmap/two pruned",)  # commits never settle
    (repo / "deploy" / "a.yaml").write_text(cm("one", "amended"))
    _git(repo, "commit", "-q", "-a", "--amend", "-m", "rewritten")
    report = reconcile()
    assert report.lines == ("configmap/one configured",)
    assert any(m.startswith("history rewritten: was ") for m in report.messages)


def test_an_unreachable_remote_changes_nothing(settings: Settings, repo: Path) -> None:
    rec = sources.register(settings, git=str(repo), name="gone", subpath="deploy")
    assert sources.reconcile(settings, rec.name).lines == ("configmap/one created",)
    shutil.rmtree(repo)
    report = sources.reconcile(settings, rec.name)
    assert report.failed.startswith("git fetch: ")
    assert report.requeue_after is not None and report.requeue_after > 0
    assert sources.get_source(settings, rec.name).record.status == "Failed"


def test_a_vanished_branch_changes_nothing(settings: Settings, repo: Path) -> None:
    _git(repo, "branch", "feature")
    rec = sources.register(settings, git=str(repo), ref="feature", subpath="deploy")
    assert sources.reconcile(settings, rec.name).lines == ("configmap/one created",)
    _git(repo, "branch", "-D", "feature")
    report = sources.reconcile(settings, rec.name)
    assert report.failed == f"{repo}: ref feature not found"
    host = open_host(settings)
    try:
        assert [r.name for r in host.store.list_records(["ConfigMap"])] == ["one"]
    finally:
        host.close()


# --- the controller and the supervisor's debounce ------------------------------------------------


def test_debouncer_waits_for_a_quiet_window() -> None:
    d = Debouncer(0.15)
    d.touch("app", 10.0)
    d.touch("app", 10.1)  # still being written
    assert d.due(10.2) == []
    assert d.next_at() == pytest.approx(10.25)
    assert d.due(10.25) == ["app"]
    assert d.due(11.0) == [] and d.next_at() is None


class Calls:
    def __init__(self, outcome: Outcome | None = None) -> None:
        self.names: list[tuple[str, float]] = []
        self.outcome = outcome or Outcome()

    def __call__(self, name: str, *, now: float) -> Outcome:
        self.names.append((name, now))
        return self.outcome


def test_the_controller_reconciles_on_events_and_every_interval(
    settings: Settings, manifests: Path
) -> None:
    sources.register(settings, directory=str(manifests), name="app", interval=20.0)
    calls = Calls()
    host = open_host(settings)
    try:
        ctl = SourceController(host, reconcile=calls)
        key = source_key("app")
        assert ctl.keys() == [key]
        first = ctl.sync(key, now=T0)
        assert calls.names == [("app", T0)]
        assert first.needs_supervisor and first.requeue_after == 20.0
        quiet = ctl.sync(key, now=T0 + 5)  # a full pass: not due
        assert calls.names == [("app", T0)] and quiet.requeue_after == 15.0
        ctl.mark(["app"])
        ctl.sync(key, now=T0 + 6)
        assert calls.names[-1] == ("app", T0 + 6)
        ctl.sync(key, now=T0 + 26)  # the interval: a relist that repairs drift
        assert len(calls.names) == 3
        sources.unwatch(settings, "app")
        gone = ctl.sync(key, now=T0 + 27)
        assert not gone.needs_supervisor and len(calls.names) == 3
    finally:
        host.close()


def test_a_source_unwatched_while_its_reconcile_waited_no_longer_needs_the_supervisor(
    settings: Settings, manifests: Path
) -> None:
    """The sync read the source, then its reconcile waited for the source's lock while
    `unwatch --prune` pruned and deleted it: the sync lets the supervisor go at once, not
    after a whole interval."""
    sources.register(settings, directory=str(manifests), name="app", interval=20.0)
    reconcile = sources.reconciler(settings)

    def unwatched_meanwhile(name: str, *, now: float) -> Outcome:
        sources.unwatch(settings, name, prune=True)
        return reconcile(name, now=now)

    host = open_host(settings)
    try:
        ctl = SourceController(host, reconcile=unwatched_meanwhile)
        result = ctl.sync(source_key("app"), now=T0)
        assert not result.needs_supervisor and result.requeue_after is None
    finally:
        host.close()


def test_a_settling_file_is_looked_at_again_soon(settings: Settings, manifests: Path) -> None:
    sources.register(settings, directory=str(manifests), name="app")
    calls = Calls(Outcome(requeue_after=0.1, pods_changed=True))
    changed: list[bool] = []
    host = open_host(settings)
    try:
        ctl = SourceController(host, reconcile=calls, on_pods_changed=lambda: changed.append(True))
        result = ctl.sync(source_key("app"), now=T0)
        assert result.requeue_after == 0.1 and changed == [True]
        ctl.sync(source_key("app"), now=T0 + 0.1)
        assert len(calls.names) == 2
    finally:
        host.close()


def test_the_supervisor_debounces_file_events_into_one_reconcile(
    settings: Settings, manifests: Path
) -> None:
    sources.register(settings, directory=str(manifests), name="app")
    clock = FakeClock(T0)
    sup = supervisor_mod.Supervisor(
        settings, clock=clock, reconcile_source=Calls(), watch_dirs=False
    )
    try:
        assert sup.sources is not None
        sup.loop._full = False
        sup.source_event("app")
        clock.advance(0.1)
        sup.source_event("app")  # the file is still being written
        clock.advance(0.1)
        sup.flush_source_events()
        assert sup.loop.queue.queued == ()
        clock.advance(0.05)
        sup.flush_source_events()
        assert sup.loop.queue.queued == (source_key("app"),)
        assert sup._any_needed()  # a source keeps the supervisor up
    finally:
        sup.host.close()


def test_a_nudge_naming_a_source_reconciles_it(settings: Settings, manifests: Path) -> None:
    from kubeplay.runtime.watch import DirWatch

    sources.register(settings, directory=str(manifests), name="app")
    calls = Calls()
    sup = supervisor_mod.Supervisor(settings, reconcile_source=calls, watch_dirs=False)
    try:
        assert sup.sources is not None
        sup.loop._full = False
        key = source_key("app")
        sup.sources.sync(key, now=T0)
        wake = supervisor_mod.wake_dir(settings)
        for d in (settings.exits_dir, wake):
            d.mkdir(parents=True, exist_ok=True)
        watch = DirWatch([settings.exits_dir, wake])
        try:
            supervisor_mod.nudge(settings, [key])
            sup._on_watch(watch, settings.exits_dir)
        finally:
            watch.close()
        assert sup.loop.queue.queued == (key,)
        sup.sources.sync(key, now=T0 + 1)
        assert [n for n, _ in calls.names] == ["app", "app"]
    finally:
        sup.host.close()


def test_agent_watch_registers_a_directory_once(settings: Settings, manifests: Path) -> None:
    from kubeplay.errors import UsageError

    first = sources.ensure_registered(settings, str(manifests))
    assert (first.name, first.location) == ("manifests", str(manifests))
    assert sources.ensure_registered(settings, str(manifests)) == first  # a restart
    other = manifests.parent / "other" / "manifests"
    other.mkdir(parents=True)
    with pytest.raises(UsageError, match=r"watches .* already"):
        sources.ensure_registered(settings, str(other))


def test_deleting_a_watched_object_warns_that_it_comes_back(src: Source) -> None:
    warnings = sources.managed_warnings(src.settings, "cm", "default", ["one", "nothere"])
    assert warnings == [
        "configmap/one is managed by source app: the source will bring it back "
        "(change the source, or unwatch it)"
    ]
    assert sources.managed_warnings(src.settings, "nokind", "default", ["one"]) == []


def test_the_dir_watcher_reports_changes_and_follows_a_recreated_directory(
    manifests: Path,
) -> None:
    import threading

    from kubeplay.engine.controllers.sources import DirWatcher

    seen = threading.Event()
    names: list[str] = []

    def on_event(name: str) -> None:
        names.append(name)
        seen.set()

    watcher = DirWatcher(on_event)
    try:
        watcher.update([("app", str(manifests), False)])
        (manifests / "a.yaml").write_text(cm("one"))
        assert seen.wait(30), "no event for a new file"
        assert set(names) == {"app"}
        assert watcher.watching("app")
        shutil.rmtree(manifests)
        gone = threading.Event()
        for _ in range(3000):  # until watchdog has seen the directory go (at most 30 s)
            if not watcher.watching("app"):
                break
            gone.wait(0.01)
        assert not watcher.watching("app")
        manifests.mkdir()  # it may get the same inode number
        watcher.update([("app", str(manifests), False)])  # a full pass: watch it anew
        seen.clear()
        (manifests / "b.yaml").write_text(cm("two"))
        assert seen.wait(30), "no event in the recreated directory"
        watcher.update([])
        seen.clear()
        (manifests / "c.yaml").write_text(cm("three"))
        watcher.update([("other", str(manifests), False)])
        names.clear()
        (manifests / "d.yaml").write_text(cm("four"))
        assert seen.wait(30)
        assert "app" not in names
    finally:
        watcher.close()


def test_a_configmap_style_data_symlink_swap_applies_the_new_content(
    settings: Settings, manifests: Path
) -> None:
    """Kubernetes' atomic writer: files are links into `..data`, itself a link to a
    timestamped directory that is swapped whole."""
    first = manifests / "..2024_01"
    first.mkdir()
    (first / "a.yaml").write_text(cm("one"))
    (manifests / "..data").symlink_to("..2024_01")
    (manifests / "a.yaml").symlink_to("..data/a.yaml")
    source = Source(settings, manifests)
    assert source.reconcile().lines == ("configmap/one created",)
    second = manifests / "..2024_02"
    second.mkdir()
    (second / "a.yaml").write_text(cm("one", "new"))
    (manifests / "..data_tmp").symlink_to("..2024_02")
    os.rename(manifests / "..data_tmp", manifests / "..data")
    shutil.rmtree(first)
    assert source.reconcile().lines == ("configmap/one configured",)
    assert source.files() == {"a.yaml": "Applied"}


def test_no_self_heal_leaves_drift_and_applies_new_revisions(
    settings: Settings, manifests: Path
) -> None:
    (manifests / "a.yaml").write_text(cm("one") + "---\n" + cm("two"))
    source = Source(settings, manifests, self_heal=False)
    source.reconcile()
    host = open_host(settings)
    try:
        host.store.delete_records([source.objects()["two"].uid])  # deleted by hand
    finally:
        host.close()
    assert source.reconcile().lines == ()
    assert set(source.objects()) == {"one"}
    (manifests / "a.yaml").write_text(cm("one", "new") + "---\n" + cm("two"))
    assert source.reconcile().lines == ("configmap/one configured", "configmap/two created")


def test_an_object_deleted_by_hand_comes_back_as_drift_corrected(src: Source) -> None:
    host = open_host(src.settings)
    try:
        host.store.delete_records([src.objects()["two"].uid])  # deleted by hand
    finally:
        host.close()
    (src.dir / "b.yaml").write_text(cm("three", "new"))  # and a change, in the same reconcile
    report = src.reconcile()
    assert sorted(report.lines) == ["configmap/three configured", "configmap/two created"]
    view = sources.get_source(src.settings, "app")
    events = {reason: msg for _, _, reason, msg, _ in view.events}  # the latest of each reason
    assert events["DriftCorrected"] == "configmap/two created"
    assert events["Applied"].endswith(": configmap/three configured")


def test_a_field_the_file_sets_changed_by_hand_is_reverted_by_the_relist(src: Source) -> None:
    import copy
    from dataclasses import replace as with_

    one = src.objects()["one"]
    body = copy.deepcopy(one.body)
    body["data"] = {"key": "by hand"}
    body.setdefault("metadata", {}).setdefault("labels", {})["added"] = "by hand"
    host = open_host(src.settings)
    try:
        host.store.put_records([with_(one, body=body)])
    finally:
        host.close()
    assert src.reconcile().lines == ("configmap/one configured",)
    back = src.objects()["one"].body
    assert back["data"] == {"key": "v"}
    assert back["metadata"]["labels"] == {"added": "by hand"}  # the file does not set it: kept
    view = sources.get_source(src.settings, "app")
    assert view.events[-1][2:4] == ("DriftCorrected", "configmap/one configured")
    assert src.reconcile().lines == ()


@pytest.mark.parametrize("force", [False, True], ids=["refused", "forced"])
def test_an_immutable_change_is_refused_unless_forced(
    settings: Settings, manifests: Path, force: bool
) -> None:
    path = manifests / "a.yaml"
    path.write_text(cm("frozen", extra="immutable: true\n"))
    source = Source(settings, manifests, force=force)
    source.reconcile()
    uid = source.objects()["frozen"].uid
    path.write_text(cm("frozen", "new", extra="immutable: true\n"))
    report = source.reconcile()
    if force:
        assert report.lines == ("configmap/frozen replaced (data.key changed; forced)",)
        assert source.objects()["frozen"].uid != uid
    else:
        assert report.lines == ()
        assert "field is immutable when `immutable` is set" in " ".join(report.messages)
        assert sources.get_source(settings, source.name).record.status == "Held"


@pytest.mark.parametrize(
    ("event_type", "reconciles"),
    [
        pytest.param("closed", True, id="close-write"),
        pytest.param("moved", True, id="rename"),
        pytest.param("events_lost", True, id="queue-overflow-relists"),
        pytest.param("opened", False, id="a-read-our-own-too"),
        pytest.param("closed_no_write", False, id="a-read-closed"),
    ],
)
def test_which_watchdog_events_reconcile(event_type: str, reconciles: bool) -> None:
    from types import SimpleNamespace

    from kubeplay.engine.controllers.sources import _Handler

    names: list[str] = []
    handler = _Handler("app", "/srv/app", names.append)
    handler.dispatch(SimpleNamespace(event_type=event_type, src_path="/srv/app/a.yaml"))
    assert names == (["app"] if reconciles else [])
    assert not handler.dead
    handler.dispatch(SimpleNamespace(event_type="deleted", src_path="/srv/app"))
    assert handler.dead


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
"""


def test_a_custom_resource_is_validated_against_a_crd_of_another_file(
    settings: Settings, manifests: Path
) -> None:
    (manifests / "crd.yaml").write_text(CRD)
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: %s}\n"
    (manifests / "widget.yaml").write_text(widget % "1")
    source = Source(settings, manifests)
    report = source.reconcile()
    assert report.held == ()
    assert "widget.example.com/w created" in report.lines
    (manifests / "widget.yaml").write_text(widget % "0")  # below the CRD's minimum
    report = source.reconcile()
    ((path, error),) = report.held
    assert path == "widget.yaml" and "spec.size" in error
    assert source.reconcile().lines == ()  # held at its last good content: nothing pruned
