"""Runtime against real runc + conmon on a busybox rootfs (root only).

Covers the lifecycle the engine relies on: create/start, exit codes from conmon's exit files,
the k8s-file log, signals, exec, clean failure of create, idempotent delete, conmon outliving
the process that spawned it, and concurrent creates from several threads.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from kubeplay.errors import HostError, RuntimeCommandError
from kubeplay.runtime import Runtime, detect, detect_runtime
from tests.integration.runtime import bundles
from tests.integration.runtime.conftest import Ctr, Harness

pytestmark = pytest.mark.root

CRI_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) (stdout|stderr) (F|P) (.*)$"
)
REPO = Path(__file__).resolve().parents[3]


def log_lines(path: Path) -> list[tuple[str, str, str]]:
    """(stream, tag, text) of each CRI-format line; fails on any other line."""
    out = []
    for line in path.read_text().splitlines():
        m = CRI_LINE.match(line)
        assert m, f"not a CRI log line: {line!r}"
        out.append((m.group(2), m.group(3), m.group(4)))
    return out


def host_processes(needle: bytes) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if f.read().rstrip(b"\0") == needle:
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def test_exit_code_and_k8s_file_log(harness: Harness) -> None:
    rt = harness.rt
    ctr = harness.new(["sh", "-c", "echo hello from kubeplay; echo oops >&2; exit 3"])
    pid = harness.create(ctr)
    assert pid > 1
    state = rt.state(ctr.cid)
    assert state is not None
    assert (state.id, state.pid, state.status) == (ctr.cid, pid, "created")
    assert state.bundle == str(ctr.bundle)
    assert rt.read_exit(ctr.cid) is None

    before = time.time()
    rt.start(ctr.cid)
    exited = rt.wait_exit(ctr.cid, timeout=10)
    assert exited is not None
    assert exited.exit_code == 3
    assert not exited.oom_killed
    assert before - 1 < exited.finished_at < time.time() + 1
    assert rt.read_exit(ctr.cid) == exited
    assert rt.state(ctr.cid).status == "stopped"  # type: ignore[union-attr]
    lines = log_lines(ctr.log_path)
    assert ("stdout", "F", "hello from kubeplay") in lines
    assert ("stderr", "F", "oops") in lines

    rt.delete(ctr.cid)
    assert rt.state(ctr.cid) is None
    assert rt.read_exit(ctr.cid) is None
    assert harness.leftovers() == []


def test_sigterm_gives_143(harness: Harness) -> None:
    rt = harness.rt
    # Not a pid-namespace init, so SIGTERM's default action applies (an init ignores it).
    ctr = harness.run(["sleep", "1000"], pid_namespace=False)
    assert rt.state(ctr.cid).status == "running"  # type: ignore[union-attr]
    assert rt.wait_exit(ctr.cid, timeout=0.1) is None

    rt.kill(ctr.cid, "SIGTERM")
    exited = rt.wait_exit(ctr.cid, timeout=10)
    assert exited is not None and exited.exit_code == 143
    assert rt.state(ctr.cid).status == "stopped"  # type: ignore[union-attr]
    rt.kill(ctr.cid, "TERM")  # already stopped: fine
    rt.delete(ctr.cid)
    assert harness.leftovers() == []


@pytest.mark.parametrize("sig", ["SIGKILL", "KILL", 9])
def test_sigkill_all_gives_137(harness: Harness, sig: str | int) -> None:
    rt = harness.rt
    ctr = harness.run(["sh", "-c", "sleep 1000 & sleep 1000"])
    rt.kill(ctr.cid, sig, all_procs=True)
    exited = rt.wait_exit(ctr.cid, timeout=10)
    assert exited is not None and exited.exit_code == 137
    rt.delete(ctr.cid)
    assert harness.leftovers() == []


def test_kill_unknown_container_is_fine(harness: Harness) -> None:
    harness.rt.kill("kpt-does-not-exist", "SIGTERM")


def test_exec(harness: Harness) -> None:
    rt = harness.rt
    ctr = harness.run(["sleep", "1000"])
    assert rt.exec(ctr.cid, ["true"]) == 0
    assert rt.exec(ctr.cid, ["sh", "-c", "exit 7"]) == 7
    check = '[ "$FOO" = bar ] && [ "$(pwd)" = /tmp ] && [ "$(id -u)" = 65534 ]'
    assert rt.exec(ctr.cid, ["sh", "-c", check], env=["FOO=bar"], cwd="/tmp", user="65534") == 0
    assert rt.exec(ctr.cid, ["/no/such/binary"]) != 0


def test_exec_capture(harness: Harness) -> None:
    rt = harness.rt
    ctr = harness.run(["sleep", "1000"])
    code, out, err = rt.exec_capture(
        ctr.cid, ["sh", "-c", "echo out; echo err >&2; exit 4"], timeout=10
    )
    assert (code, out, err) == (4, b"out\n", b"err\n")


def test_exec_capture_timeout_kills_the_command(harness: Harness) -> None:
    rt = harness.rt
    ctr = harness.run(["sleep", "1000"])
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"timed out after 0\.5s"):
        rt.exec_capture(ctr.cid, ["sleep", "987"], timeout=0.5)
    assert time.monotonic() - started < 5
    assert host_processes(b"sleep\x00987") == []
    assert rt.state(ctr.cid).status == "running"  # type: ignore[union-attr]


def assert_nothing_left(harness: Harness, cid: str) -> None:
    assert harness.rt.state(cid) is None
    assert bundles.conmon_pids(cid) == []
    assert bundles.cgroup_dirs(cid) == []
    assert not (harness.rt.exits_dir / cid).exists()
    assert not (harness.rt.root / cid).exists()
    assert harness.rt.list() == []


def test_create_failure_missing_binary(harness: Harness) -> None:
    ctr = harness.new(["/bin/not-in-rootfs"])
    with pytest.raises(RuntimeCommandError) as info:
        harness.create(ctr)
    err = info.value
    assert "/bin/not-in-rootfs" in str(err)
    assert "no such file or directory" in str(err)
    assert str(err).startswith(f"{harness.rt.name} create failed")
    assert err.argv[0] == "conmon"
    assert_nothing_left(harness, ctr.cid)


def test_create_failure_bad_config(harness: Harness) -> None:
    ctr = harness.new(["true"])
    (ctr.bundle / "config.json").write_text('{"ociVersion": "1.0.2", "process": 42}')
    with pytest.raises(RuntimeCommandError, match=r"create failed.*json"):
        harness.create(ctr)
    assert_nothing_left(harness, ctr.cid)


def test_create_failure_no_bundle(harness: Harness) -> None:
    ctr = harness.new(["true"])
    (ctr.bundle / "config.json").unlink()
    with pytest.raises(RuntimeCommandError, match=r"no config\.json"):
        harness.create(ctr)
    assert_nothing_left(harness, ctr.cid)


def test_create_without_conmon_is_a_host_error(harness: Harness) -> None:
    rt = harness.rt
    broken = Runtime(
        binary=rt.binary,
        root=rt.root,
        conmon="/nonexistent/conmon",
        exits_dir=rt.exits_dir,
        socket_dir=rt.socket_dir,
    )
    ctr = harness.new(["true"])
    with pytest.raises(HostError, match="conmon"):
        broken.create(
            ctr.cid, bundle=ctr.bundle, name="c", log_path=ctr.log_path, persist_dir=ctr.persist_dir
        )
    assert_nothing_left(harness, ctr.cid)
    assert list(rt.socket_dir.iterdir()) == []


def test_detect_runtime_on_this_host() -> None:
    found = detect_runtime()
    layout = detect.cgroup_layout(detect.read_mounts())
    if layout is detect.CgroupLayout.HYBRID:
        assert found.name == "runc"
    assert os.access(found, os.X_OK)


def test_delete_is_idempotent(harness: Harness) -> None:
    rt = harness.rt
    rt.delete("kpt-never-created")
    rt.delete("kpt-never-created", force=True)
    ctr = harness.run(["sleep", "1000"])
    with pytest.raises(RuntimeCommandError, match="delete failed"):
        rt.delete(ctr.cid)  # running, not forced: the runtime refuses
    rt.delete(ctr.cid, force=True)
    assert_nothing_left(harness, ctr.cid)
    rt.delete(ctr.cid)
    rt.delete(ctr.cid, force=True)


def test_list(harness: Harness) -> None:
    rt = harness.rt
    assert rt.list() == []
    a = harness.run(["sleep", "1000"])
    b = harness.new(["true"])
    harness.create(b)
    listed = {s.id: s.status for s in rt.list()}
    assert listed == {a.cid: "running", b.cid: "created"}


def test_tty_container_logs_its_terminal(harness: Harness) -> None:
    rt = harness.rt
    ctr = harness.new(["sh", "-c", "[ -t 1 ] && echo on a tty"], terminal=True)
    harness.create(ctr, tty=True)
    rt.start(ctr.cid)
    exited = rt.wait_exit(ctr.cid, timeout=10)
    assert exited is not None and exited.exit_code == 0
    texts = [text.rstrip("\r") for _, _, text in log_lines(ctr.log_path)]
    assert "on a tty" in texts


def test_conmon_outlives_its_spawner(harness: Harness) -> None:
    rt = harness.rt
    ctr = harness.new(["sleep", "1000"])
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from kubeplay.runtime import Runtime
        rt = Runtime(binary=Path({str(rt.binary)!r}), root=Path({str(rt.root)!r}),
                     conmon="conmon", exits_dir=Path({str(rt.exits_dir)!r}),
                     socket_dir=Path({str(rt.socket_dir)!r}))
        rt.create({ctr.cid!r}, bundle=Path({str(ctr.bundle)!r}), name="c",
                  log_path=Path({str(ctr.log_path)!r}),
                  persist_dir=Path({str(ctr.persist_dir)!r}))
        rt.start({ctr.cid!r})
        """
    )
    spawner = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert spawner.returncode == 0, spawner.stderr
    assert rt.state(ctr.cid).status == "running"  # type: ignore[union-attr]
    (conmon_pid,) = bundles.conmon_pids(ctr.cid)
    assert os.getppid() != conmon_pid
    rt.kill(ctr.cid, "SIGKILL")
    exited = rt.wait_exit(ctr.cid, timeout=10)
    assert exited is not None and exited.exit_code == 137
    rt.delete(ctr.cid)
    assert harness.leftovers() == []


def test_concurrent_creates(harness: Harness) -> None:
    rt = harness.rt
    ctrs = [harness.new(["sh", "-c", f"exit {i}"]) for i in range(6)]
    pids: dict[str, int] = {}
    errors: list[BaseException] = []

    def one(ctr: Ctr) -> None:
        try:
            pids[ctr.cid] = harness.create(ctr)
            rt.start(ctr.cid)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=one, args=(c,)) for c in ctrs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(pids.values())) == len(ctrs)
    for i, ctr in enumerate(ctrs):
        exited = rt.wait_exit(ctr.cid, timeout=10)
        assert exited is not None and exited.exit_code == i
        rt.delete(ctr.cid)
    assert harness.leftovers() == []


def _no_runtime_process(*args: object, **kwargs: object) -> object:
    raise AssertionError(f"the runtime was run: {args}")


def test_kill_with_the_init_pid_signals_it_without_the_runtime(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = harness.rt
    ctr = harness.new(["sh", "-c", "sleep 1001 & sleep 1000"])
    pid = harness.create(ctr)
    rt.start(ctr.cid)
    with monkeypatch.context() as m:
        m.setattr(rt, "_run", _no_runtime_process)
        # The init of its own PID namespace: SIGKILL to it takes every process in it.
        rt.kill(ctr.cid, signal.SIGKILL, all_procs=True, pid=pid)
    exited = rt.wait_exit(ctr.cid, timeout=10)
    assert exited is not None and exited.exit_code == 137
    rt.delete(ctr.cid)
    assert host_processes(b"sleep\x001001") == []
    assert harness.leftovers() == []


def test_kill_with_a_pid_outside_the_container_signals_the_container_through_the_runtime(
    harness: Harness,
) -> None:
    rt = harness.rt
    ctr = harness.run(["sleep", "1000"], pid_namespace=False)
    bystander = subprocess.Popen(["sleep", "1000"])
    try:
        rt.kill(ctr.cid, signal.SIGTERM, pid=bystander.pid)  # a pid that is not the container's
        exited = rt.wait_exit(ctr.cid, timeout=10)
        assert exited is not None and exited.exit_code == 143
        assert bystander.poll() is None  # never signalled
    finally:
        bystander.kill()
        bystander.wait()
    rt.delete(ctr.cid)
    assert harness.leftovers() == []


def test_kill_all_of_a_container_sharing_a_pid_namespace_uses_the_runtime(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = harness.rt
    ctr = harness.new(["sh", "-c", "sleep 1002 & sleep 1000"], pid_namespace=False)
    pid = harness.create(ctr)
    rt.start(ctr.cid)
    calls: list[tuple[str, ...]] = []
    run = rt._run

    def counting(*args: str, what: str) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        return run(*args, what=what)

    monkeypatch.setattr(rt, "_run", counting)
    # Not PID 1 of a namespace of its own: killing it would leave the background sleep.
    rt.kill(ctr.cid, signal.SIGKILL, all_procs=True, pid=pid)
    assert calls and calls[0][:2] == ("kill", "--all")
    exited = rt.wait_exit(ctr.cid, timeout=10)
    assert exited is not None and exited.exit_code == 137
    rt.delete(ctr.cid)
    assert host_processes(b"sleep\x001002") == []
    assert harness.leftovers() == []
