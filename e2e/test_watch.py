"""`kubeplay watch`: a directory (or a git repository) kept applied by the supervisor, end to end.

Identity is kind/namespace/name, never the file: a rename restarts nothing; editor saves of
every kind (vim's rename-save, truncate then write, temp file then rename, rsync's dotfile
then rename) keep the pod's uid and a restart count of 0; an invalid document holds its file;
deleting a file prunes its objects; an empty or removed directory prunes nothing; a pod
deleted by hand comes back; a git source follows commits, reverts and force-pushes, and an
unreachable remote changes nothing. Intervals are 1 s here so that nothing waits for long;
every wait is on a condition.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay

pytestmark = pytest.mark.root


def _pod(name: str, *, env: str = "a") -> str:
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    env:
    - name: MODE
      value: "{env}"
"""


def _cm(name: str, value: str = "v") -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: {value!r}\n"


def _source(kp: Kubeplay, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(kp.ok("get", "source", name, "-o", "json"))
    return doc


def _files(kp: Kubeplay, name: str) -> dict[str, str]:
    return {f["path"]: f["status"] for f in _source(kp, name)["status"]["files"]}


def _reconciled_after(kp: Kubeplay, name: str, at: float) -> dict[str, Any]:
    """The source once a reconcile started after `at` (wall clock) has been recorded."""

    def check() -> dict[str, Any] | None:
        doc = _source(kp, name)
        return doc if doc["status"]["lastAttempt"] > at else None

    found: dict[str, Any] = kp.wait_for(f"a reconcile of {name}", check)
    return found


def _running(kp: Kubeplay, name: str) -> tuple[str, int]:
    """(uid, restart count) once pod `name` runs."""

    def check() -> tuple[str, int] | None:
        res = kp("get", "pod", name, "-o", "json")
        if res.returncode != 0:
            return None
        pod = json.loads(res.stdout)
        statuses = pod["status"].get("containerStatuses") or []
        if statuses and all("running" in c.get("state", {}) for c in statuses):
            return pod["metadata"]["uid"], sum(c["restartCount"] for c in statuses)
        return None

    found: tuple[str, int] = kp.wait_for(f"pod {name} running", check, timeout=60)
    return found


def _gone(kp: Kubeplay, name: str) -> None:
    kp.wait_for(f"pod {name} gone", lambda: kp("get", "pod", name).returncode != 0, timeout=60)


def _configmaps(kp: Kubeplay) -> dict[str, str]:
    doc = json.loads(kp.ok("get", "configmaps", "-o", "json"))
    return {i["metadata"]["name"]: (i.get("data") or {}).get("key", "") for i in doc["items"]}


@pytest.fixture
def manifests(kp: Kubeplay) -> Path:
    d = kp.tmp / "manifests"
    d.mkdir()
    return d


def test_directory_add_rename_save_styles_and_delete(kp: Kubeplay, manifests: Path) -> None:
    (manifests / "web.yaml").write_text(_pod("web"))
    out = kp.ok("watch", str(manifests), "--name", "app", "--interval", "1s")
    assert out.strip() == f"source/app watching {manifests}"
    uid, restarts = _running(kp, "web")
    assert restarts == 0
    listed = kp.ok("get", "sources")
    assert listed.splitlines()[0].split()[:5] == ["NAME", "TYPE", "SOURCE", "REVISION", "READY"]
    assert listed.splitlines()[1].split()[:3] == ["app", "dir", str(manifests)]

    # a rename: only the origin moves
    os.rename(manifests / "web.yaml", manifests / "pod.yaml")
    kp.wait_for("rename seen", lambda: _files(kp, "app") == {"pod.yaml": "Applied"})
    text = (manifests / "pod.yaml").read_text()

    def vim_save() -> None:
        os.rename(manifests / "pod.yaml", manifests / "pod.yaml~")
        (manifests / "4913").write_text("")
        os.unlink(manifests / "4913")
        (manifests / "pod.yaml").write_text(text)
        os.unlink(manifests / "pod.yaml~")

    def truncate_then_write() -> None:
        with open(manifests / "pod.yaml", "r+") as f:
            f.truncate(0)  # an empty file for a moment (a reconcile then holds it Settling)
            f.flush()
            os.fsync(f.fileno())
            f.write("# saved by an editor\n" + text)

    def temp_then_rename() -> None:
        (manifests / "pod.yaml.tmp").write_text(text)
        os.rename(manifests / "pod.yaml.tmp", manifests / "pod.yaml")

    def rsync_dotfile_then_rename() -> None:
        (manifests / ".pod.yaml.Xa81z").write_text(text)
        os.rename(manifests / ".pod.yaml.Xa81z", manifests / "pod.yaml")

    for save in (vim_save, truncate_then_write, temp_then_rename, rsync_dotfile_then_rename):
        at = time.time()
        save()
        _reconciled_after(kp, "app", at + 0.3)  # past the debounce and a settle window
        assert _running(kp, "web") == (uid, 0), save.__name__

    # deleting the file prunes its pod
    os.unlink(manifests / "pod.yaml")
    (manifests / "keep.yaml").write_text(_cm("keep"))
    _gone(kp, "web")
    assert _configmaps(kp) == {"keep": "v"}
    kp.ok("unwatch", "app", "--prune")
    assert kp.ok("get", "sources") == ""


def test_invalid_document_holds_its_file_and_a_fix_applies_it(
    kp: Kubeplay, manifests: Path
) -> None:
    path = manifests / "two.yaml"
    path.write_text(_cm("one") + "---\n" + _cm("two"))
    (manifests / "other.yaml").write_text(_cm("other"))
    kp.ok("watch", str(manifests), "--name", "cfg", "--interval", "1s")
    kp.wait_for("applied", lambda: _configmaps(kp) == {"one": "v", "other": "v", "two": "v"})
    path.write_text(_cm("one", "new") + "---\n" + _cm("two").replace("data:", "dta:"))
    (manifests / "other.yaml").write_text(_cm("other", "new"))
    kp.wait_for("the other file applied", lambda: _configmaps(kp)["other"] == "new")
    kp.wait_for("held", lambda: _files(kp, "cfg")["two.yaml"] == "Held")
    assert _configmaps(kp) == {"one": "v", "other": "new", "two": "v"}
    described = kp.ok("describe", "source", "cfg")
    assert f"{path}:" in described and "document 2" in described and "Held" in described
    res = kp("reconcile", "source", "cfg")
    assert res.returncode == 1 and "held: two.yaml" in res.stdout
    path.write_text(_cm("one", "new") + "---\n" + _cm("two"))
    kp.wait_for("fixed", lambda: _configmaps(kp)["one"] == "new")
    assert _files(kp, "cfg") == {"other.yaml": "Applied", "two.yaml": "Applied"}


def test_empty_or_removed_directory_prunes_nothing(kp: Kubeplay, manifests: Path) -> None:
    (manifests / "a.yaml").write_text(_cm("a"))
    kp.ok("watch", str(manifests), "--name", "guard", "--interval", "1s")
    kp.wait_for("applied", lambda: _configmaps(kp) == {"a": "v"})
    os.unlink(manifests / "a.yaml")
    kp.wait_for(
        "the empty guard",
        lambda: (
            "nothing pruned (--allow-empty prunes)" in _source(kp, "guard")["status"]["message"]
        ),
    )
    assert _configmaps(kp) == {"a": "v"}
    shutil.rmtree(manifests)
    kp.wait_for("failed", lambda: _source(kp, "guard")["status"]["status"] == "Failed")
    assert _configmaps(kp) == {"a": "v"}


def test_apply_of_a_watched_object_is_refused(kp: Kubeplay, manifests: Path) -> None:
    """`apply` takes over what another apply or play stored, never a watched source's
    object: the next relist would put it back."""
    (manifests / "a.yaml").write_text(_cm("a"))
    kp.ok("watch", str(manifests), "--name", "keep", "--interval", "1s")
    kp.wait_for("applied", lambda: _configmaps(kp) == {"a": "v"})
    mine = kp.write("mine.yaml", _cm("a", "mine") + "---\n" + _cm("b", "mine"))
    res = kp("apply", "-f", str(mine))
    assert res.returncode == 1, res
    assert res.stdout.splitlines() == ["configmap/b created"]
    assert res.stderr == (
        "error: configmap/a: not applied: managed by watched source keep, which would put it "
        "back (change it there, or unwatch it)\n"
    )
    assert _configmaps(kp) == {"a": "v", "b": "mine"}


def test_drift_is_repaired_after_delete_pod(kp: Kubeplay, manifests: Path) -> None:
    (manifests / "web.yaml").write_text(_pod("web"))
    kp.ok("watch", str(manifests), "--name", "drift", "--interval", "1s")
    uid, _ = _running(kp, "web")
    res = kp("delete", "pod", "web")
    assert res.returncode == 0, res.stderr
    assert "warning: pod/web is managed by source drift: the source will bring it back" in (
        res.stderr
    )
    kp.wait_for("a new pod", lambda: _running(kp, "web")[0] != uid, timeout=60)
    kp.wait_for(
        "a DriftCorrected event",
        lambda: "DriftCorrected" in kp.ok("describe", "source", "drift"),
    )


def test_a_relist_changes_nothing_and_reverts_a_scale(kp: Kubeplay, manifests: Path) -> None:
    """Relists of an unchanged Deployment and Service change nothing (no DriftCorrected); a
    `scale` of the watched Deployment warns and the next relist sets its replicas back."""
    (manifests / "svc.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n"
        "  selector: {app: web}\n  ports:\n  - {port: 80}\n"
    )
    (manifests / "web.yaml").write_text(
        f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: {IMAGE}
        command: ["sh", "-c", "{SLEEPER}"]
"""
    )
    kp.ok("watch", str(manifests), "--name", "dep", "--interval", "1s")

    def replicas() -> tuple[int, int]:
        res = kp("get", "deployment", "web", "-o", "json")
        if res.returncode != 0:  # not applied yet
            return -1, -1
        doc = json.loads(res.stdout)
        return doc["spec"]["replicas"], (doc.get("status") or {}).get("readyReplicas", 0)

    kp.wait_for("one ready replica", lambda: replicas() == (1, 1), timeout=60)
    first = _reconciled_after(kp, "dep", time.time())
    _reconciled_after(kp, "dep", first["status"]["lastAttempt"])
    assert "DriftCorrected" not in kp.ok("describe", "source", "dep")
    res = kp("scale", "deployment/web", "--replicas", "2")
    assert res.returncode == 0, res.stderr
    assert "is managed by source dep: its replicas is set there" in res.stderr
    kp.wait_for("replicas set back", lambda: replicas()[0] == 1, timeout=60)
    assert "DriftCorrected" in kp.ok("describe", "source", "dep")


def test_once_exits_non_zero_while_a_file_is_held(kp: Kubeplay, manifests: Path) -> None:
    (manifests / "a.yaml").write_text(_cm("a"))
    (manifests / "bad.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {k: 1}\n"
    )
    res = kp("watch", str(manifests), "--name", "ci", "--once")
    assert res.returncode == 1, res.stderr
    assert "configmap/a created" in res.stdout and "held: bad.yaml:" in res.stdout
    assert _configmaps(kp) == {"a": "v"}


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


def test_git_commit_and_force_push(kp: Kubeplay) -> None:
    bare = kp.tmp / "remote.git"
    work = kp.tmp / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    _git(work, "remote", "add", "origin", str(bare))
    (work / "cfg.yaml").write_text(_cm("first"))
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "first")
    _git(work, "push", "-q", "origin", "main")
    kp.ok("watch", "--git", f"file://{bare}", "--ref", "main", "--name", "repo", "--interval", "1s")
    kp.wait_for("first commit", lambda: _configmaps(kp) == {"first": "v"})
    (work / "web.yaml").write_text(_pod("web"))
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "web")
    _git(work, "push", "-q", "origin", "main")
    _running(kp, "web")
    assert _source(kp, "repo")["status"]["revision"] == _git(work, "rev-parse", "HEAD")
    _git(work, "reset", "-q", "--hard", "HEAD~1")
    (work / "cfg.yaml").write_text(_cm("first", "rewritten"))
    _git(work, "commit", "-q", "-a", "--amend", "-m", "rewritten")
    _git(work, "push", "-q", "--force", "origin", "main")
    _gone(kp, "web")
    kp.wait_for("force-push applied", lambda: _configmaps(kp) == {"first": "rewritten"})
    described = kp.ok("describe", "source", "repo")
    assert "history rewritten" in described


def test_git_revert_and_an_unreachable_remote(kp: Kubeplay) -> None:
    """A `git revert` pushed is applied like any commit; a remote gone fails the source and
    changes nothing; back, `reconcile source` applies it at once."""
    bare = kp.tmp / "remote.git"
    work = kp.tmp / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    _git(work, "remote", "add", "origin", str(bare))
    (work / "cfg.yaml").write_text(_cm("cfg"))
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "first")
    _git(work, "push", "-q", "origin", "main")
    kp.ok("watch", "--git", f"file://{bare}", "--ref", "main", "--name", "rev", "--interval", "1s")
    kp.wait_for("first commit", lambda: _configmaps(kp) == {"cfg": "v"})
    (work / "cfg.yaml").write_text(_cm("cfg", "two"))
    (work / "extra.yaml").write_text(_cm("extra"))
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "two")
    _git(work, "push", "-q", "origin", "main")
    kp.wait_for("second commit", lambda: _configmaps(kp) == {"cfg": "two", "extra": "v"})
    _git(work, "revert", "--no-edit", "HEAD")
    _git(work, "push", "-q", "origin", "main")
    kp.wait_for("the revert", lambda: _configmaps(kp) == {"cfg": "v"})
    head = _git(work, "rev-parse", "HEAD")
    kp.wait_for("revert recorded", lambda: _source(kp, "rev")["status"]["revision"] == head)
    moved = kp.tmp / "moved.git"
    bare.rename(moved)
    kp.wait_for("fetch failed", lambda: _source(kp, "rev")["status"]["status"] == "Failed")
    assert _source(kp, "rev")["status"]["message"].startswith("git fetch: ")
    assert _configmaps(kp) == {"cfg": "v"}
    moved.rename(bare)
    kp.ok("reconcile", "source", "rev")
    assert _source(kp, "rev")["status"]["status"] == "Ready"
    assert _configmaps(kp) == {"cfg": "v"}


def test_a_source_outlives_a_killed_supervisor(kp: Kubeplay, manifests: Path) -> None:
    """Sources are stored: kill -9 of the supervisor, and the next command that reads state
    starts a new one, which keeps following the directory."""
    import signal

    (manifests / "a.yaml").write_text(_cm("a"))
    kp.ok("watch", str(manifests), "--name", "kept", "--interval", "1s")
    kp.wait_for("applied", lambda: _configmaps(kp) == {"a": "v"})
    pid = kp.wait_for("a supervisor", kp.supervisor_pid)
    os.kill(pid, signal.SIGKILL)
    kp.wait_for("the supervisor gone", lambda: kp.supervisor_pid() is None)
    (manifests / "b.yaml").write_text(_cm("b"))
    res = kp("get", "pods")  # a read revives the supervisor: a source needs it
    assert "started it" in res.stderr
    kp.wait_for("the new file applied", lambda: _configmaps(kp) == {"a": "v", "b": "v"})
    assert kp.supervisor_pid() not in (None, pid)


def test_foreground_prints_one_line_per_reconcile(kp: Kubeplay, manifests: Path) -> None:
    import select

    (manifests / "a.yaml").write_text(_cm("a"))
    proc = kp.popen("watch", str(manifests), "--name", "fg", "--interval", "1s", "--foreground")
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while not any("fg: configmap/a created" in line for line in lines):
            assert time.monotonic() < deadline, f"no reconcile line in {lines}"
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                lines.append(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert lines[0].strip() == f"source/fg watching {manifests}"


@pytest.mark.parametrize(
    "step",
    [
        pytest.param("apply-stored", id="after-the-store-write"),
        pytest.param("apply-synced", id="synced-before-network-refresh"),
    ],
)
def test_a_reconcile_killed_mid_way_converges_to_one_pod(
    kp: Kubeplay, manifests: Path, step: str
) -> None:
    """kill -9 of the process reconciling (here `watch --once`, which reconciles in the
    command) at a step of the apply: the supervisor and the source's next reconcile converge
    to the pod running, made once."""
    import signal

    from kubeplay.crash import ENV

    (manifests / "web.yaml").write_text(_pod("web"))
    kp.env[ENV] = step
    try:
        res = kp("watch", str(manifests), "--name", "crash", "--once", "--interval", "1s")
    finally:
        del kp.env[ENV]
    assert res.returncode == -signal.SIGKILL, res.stderr
    kp.ok("get", "sources")  # a read starts the supervisor: the source needs it

    def one_running() -> bool:
        items = json.loads(kp.ok("get", "pods", "-A", "-o", "json"))["items"]
        names = [i["metadata"]["name"] for i in items]
        statuses = items[0]["status"].get("containerStatuses", []) if items else []
        return names == ["web"] and bool(statuses) and "running" in statuses[0]["state"]

    kp.wait_for("the pod running, once", one_running, timeout=60)
    assert _source(kp, "crash")["status"]["inventory"] == ["pod/web"]


def test_agent_watch_keeps_a_directory_applied(kp: Kubeplay, manifests: Path) -> None:
    """`kubeplay agent --watch DIR`, as `generate systemd --watch DIR` runs it."""
    unit = kp.ok("generate", "systemd", "--watch", str(manifests))
    assert f"agent --watch {manifests}" in unit
    (manifests / "a.yaml").write_text(_cm("a"))
    agent = kp.popen("agent", "--watch", str(manifests))
    try:
        kp.wait_for("applied by the agent", lambda: _configmaps(kp) == {"a": "v"})
        assert kp.ok("get", "sources", "-o", "name").split() == ["source/manifests"]
        kp.ok("unwatch", "manifests", "--prune")
    finally:
        agent.terminate()
        _, err = agent.communicate(timeout=30)
    assert agent.returncode == 0, err
    assert _configmaps(kp) == {}


def test_comment_move_and_duplicate_restart_nothing(kp: Kubeplay, manifests: Path) -> None:
    (manifests / "a.yaml").write_text(_cm("cfg") + "---\n" + _pod("web"))
    kp.ok("watch", str(manifests), "--name", "mv", "--interval", "1s")
    uid, _ = _running(kp, "web")
    # a comment-only edit
    at = time.time()
    (manifests / "a.yaml").write_text("# tuned\n" + _cm("cfg") + "---\n" + _pod("web"))
    _reconciled_after(kp, "mv", at + 0.3)
    # the pod moved to another file (written there first, then removed from a.yaml)
    (manifests / "b.yaml").write_text(_pod("web"))
    (manifests / "a.yaml").write_text(_cm("cfg"))
    kp.wait_for("moved", lambda: _files(kp, "mv") == {"a.yaml": "Applied", "b.yaml": "Applied"})
    # the same pod in a third file: a conflict in both, the pod as it is
    (manifests / "c.yaml").write_text(_pod("web", env="other"))
    kp.wait_for("conflict", lambda: _files(kp, "mv").get("c.yaml") == "Conflict")
    assert _files(kp, "mv")["b.yaml"] == "Conflict"
    os.unlink(manifests / "c.yaml")
    kp.wait_for("resolved", lambda: _files(kp, "mv") == {"a.yaml": "Applied", "b.yaml": "Applied"})
    assert _running(kp, "web") == (uid, 0)
    described = kp.ok("describe", "source", "mv")
    assert "Conflict" in described  # the event stays
