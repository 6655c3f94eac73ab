"""The OCI runtime (runc or crun) and conmon, driven one command at a time.

The engine calls `Runtime` to create, start, signal, inspect and delete containers; each
method runs one runtime command (or spawns one conmon) and reports what happened. It decides
nothing: no restart policy, no ordering, no retries. Containers outlive kubeplay: conmon
double-forks, holds the container's stdio, writes the k8s-file log and the exit file.
The class keeps no mutable state, so several threads may call it at once.
Per container it keeps files in the persist dir the engine gives to `create` (pidfiles, the
runtime's log, conmon's exit/oom files) and a symlink <socket dir>/<cid>.persist to that dir.
"""

from __future__ import annotations

import builtins
import contextlib
import itertools
import json
import os
import select
import signal as signals
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, cast

from kubeplay.errors import HostError, RuntimeCommandError
from kubeplay.log import get_logger
from kubeplay.runtime import conmon as conmon_mod
from kubeplay.runtime import exits
from kubeplay.runtime.exits import ContainerExit

log = get_logger(__name__)

# How long conmon may take to report the runtime's `create` before we give up on it.
CREATE_TIMEOUT = 120.0
# How long to wait for a conmon to go away once its container is gone.
CONMON_EXIT_TIMEOUT = 10.0
# Environment a parent may have set that must not reach conmon or the runtime: conmon reads
# _OCI_* pipes, and runc `create`/`start` wait on NOTIFY_SOCKET when it is set.
_DROPPED_ENV_PREFIXES = ("_OCI_", "LISTEN_", "NOTIFY_SOCKET")


class OciStateJson(TypedDict, total=False):
    """`runc state` / `runc list --format json` entries (fields kubeplay reads)."""

    ociVersion: str
    id: str
    pid: int
    status: str
    bundle: str
    rootfs: str
    created: str


@dataclass(frozen=True, slots=True)
class OciState:
    id: str
    pid: int
    status: str  # created|running|stopped|paused
    bundle: str

    @classmethod
    def from_json(cls, raw: OciStateJson) -> OciState:
        return cls(
            id=raw.get("id", ""),
            pid=int(raw.get("pid", 0)),
            status=raw.get("status", ""),
            bundle=raw.get("bundle", ""),
        )


def _child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_ENV_PREFIXES)}


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait for process `pid` (not necessarily our child) to exit; True once it has."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    finally:
        os.close(pidfd)


def _signal_init(cid: str, pid: int, sig: int, all_procs: bool) -> bool:
    """Signal the container's init `pid` through a pidfd if /proc shows it in the container's
    cgroup (and, for `all_procs`, as PID 1 of its own PID namespace); False when that is not
    certain (the caller asks the runtime). A process that exits meanwhile counts as done."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        # Read after the pidfd pins the process: a pid reused before is someone else's cgroup;
        # one reused after makes the send below fail (ESRCH), never reach another process.
        try:
            cgroups = Path(f"/proc/{pid}/cgroup").read_text()
            status = Path(f"/proc/{pid}/status").read_text() if all_procs else ""
        except OSError:
            return False
        if f"/{cid}" not in cgroups:
            return False
        if all_procs:
            nspid = next(
                (ln.split()[1:] for ln in status.splitlines() if ln.startswith("NSpid:")), []
            )
            if len(nspid) < 2 or nspid[-1] != "1":
                return False
        with contextlib.suppress(ProcessLookupError):  # exited meanwhile: as a stopped one
            signals.pidfd_send_signal(pidfd, sig)
        return True
    finally:
        os.close(pidfd)


def _is_conmon_of(pid: int, cid: str) -> bool:
    """Whether `pid` is still the conmon of `cid` (guards against a recycled pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    want = cid.encode()
    return any(a == b"-c" and b == want for a, b in itertools.pairwise(args))


def _unlink(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class Runtime:
    """runc/crun with a private `--root`, conmon per container, exit files in `exits_dir`."""

    def __init__(
        self, *, binary: Path, root: Path, conmon: str, exits_dir: Path, socket_dir: Path
    ) -> None:
        self.binary = binary
        self.root = root
        self.conmon = conmon
        self.exits_dir = exits_dir
        self.socket_dir = socket_dir
        self.name = "crun" if "crun" in binary.name else "runc"
        for directory in (root, exits_dir, socket_dir):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    # -- files --------------------------------------------------------------------------

    def _persist_link(self, cid: str) -> Path:
        return exits.persist_link(self.socket_dir, cid)

    def _exit_file(self, cid: str) -> Path:
        return self.exits_dir / cid

    @staticmethod
    def _own_files(persist_dir: Path) -> tuple[Path, Path, Path]:
        """(container pidfile, conmon pidfile, runtime log) kept in the persist dir."""
        return persist_dir / "pidfile", persist_dir / "conmon.pid", persist_dir / "oci-log"

    # -- commands -----------------------------------------------------------------------

    def _argv(self, *args: str) -> list[str]:
        return [str(self.binary), "--root", str(self.root), *args]

    def _run(self, *args: str, what: str) -> subprocess.CompletedProcess[str]:
        argv = self._argv(*args)
        try:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=_child_env(),
                check=False,
            )
        except FileNotFoundError as err:
            raise HostError(f"{self.name}: {self.binary} not found") from err
        if proc.returncode != 0:
            raise RuntimeCommandError(argv, proc.returncode, proc.stderr, what=what)
        return proc

    def _exists(self, cid: str) -> bool:
        # runc and crun both keep one directory per container under --root.
        return (self.root / cid).is_dir()

    # -- create -------------------------------------------------------------------------

    def create(
        self,
        cid: str,
        *,
        bundle: Path,
        name: str,
        log_path: Path,
        persist_dir: Path,
        tty: bool = False,
        stdin: bool = False,
    ) -> int:
        """Spawn conmon, which runs `<runtime> create`; return the container's init pid.

        On failure raise RuntimeCommandError with the runtime's message, leaving no conmon
        and no runtime state behind.
        """
        started = time.monotonic()
        pidfile, conmon_pidfile, runtime_log = self._own_files(persist_dir)
        argv = conmon_mod.conmon_argv(
            conmon=self.conmon,
            runtime=self.binary,
            runtime_root=self.root,
            cid=cid,
            name=name,
            bundle=bundle,
            pidfile=pidfile,
            conmon_pidfile=conmon_pidfile,
            log_path=log_path,
            exit_dir=self.exits_dir,
            persist_dir=persist_dir,
            socket_dir=self.socket_dir,
            tty=tty,
            stdin=stdin,
            runtime_log=runtime_log,
        )
        if not (bundle / "config.json").is_file():
            # conmon would die silently (its stderr is /dev/null by then): say why here.
            raise RuntimeCommandError(
                argv, -1, f"bundle {bundle}: no config.json", what=f"{self.name} create"
            )
        persist_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        _unlink(
            self._exit_file(cid), persist_dir / "exit", persist_dir / "oom",
            pidfile, conmon_pidfile, runtime_log, self._persist_link(cid),
        )  # fmt: skip
        self._persist_link(cid).symlink_to(persist_dir)
        try:
            raw, msg, conmon_err, code = self._spawn_conmon(
                argv, deadline=started + CREATE_TIMEOUT, cwd=persist_dir
            )
        except BaseException:
            self._undo_create(cid, persist_dir)
            raise
        if msg is not None and msg.ok:
            ms = round((time.monotonic() - started) * 1000, 1)
            log.debug("container_created", cid=cid, pid=msg.data, ms=ms)
            return msg.data
        reason = (
            conmon_mod.last_runtime_error(_read_text(runtime_log))
            or (msg.message if msg is not None else "")
            or conmon_err.decode("utf-8", "replace")
            or (
                "conmon timed out waiting for the runtime"
                if raw is None
                else "conmon exited without reporting a container pid"
            )
        )
        # runc says "runc create failed: <why>"; the error's own label says the first part.
        prefix = f"{self.name} create failed: "
        reason = "\n".join(ln.removeprefix(prefix) for ln in reason.strip().splitlines())
        self._undo_create(cid, persist_dir)
        log.debug("container_create_failed", cid=cid, error=last_line(reason))
        raise RuntimeCommandError(argv, code, reason, what=f"{self.name} create")

    def _spawn_conmon(
        self, argv: builtins.list[str], *, deadline: float, cwd: Path | None = None
    ) -> tuple[bytes | None, conmon_mod.SyncMessage | None, bytes, int]:
        """Run conmon with a sync pipe: (raw sync bytes or None on timeout, parsed message,
        conmon's early stderr, conmon's exit status or -1). conmon runs in `cwd` (the
        persist dir): it writes an `oom` file into its working directory too."""
        sync_r, sync_w = os.pipe()
        try:
            env = _child_env()
            env[conmon_mod.SYNC_PIPE_ENV] = str(sync_w)
            try:
                proc = subprocess.Popen(
                    argv,
                    env=env,
                    cwd=cwd,
                    pass_fds=(sync_w,),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            except FileNotFoundError as err:
                raise HostError(
                    f"conmon {self.conmon!r} not found: install the Debian package 'conmon'"
                ) from err
            # Only conmon may hold the write end, so EOF means conmon is gone.
            os.close(sync_w)
            sync_w = -1
            assert proc.stderr is not None
            with proc, proc.stderr:
                raw = self._read_sync(sync_r, deadline=deadline)
                msg = conmon_mod.parse_sync_message(raw or b"")
                # conmon's first process exits as soon as it has forked the monitor.
                proc.wait()
                ok = msg is not None and msg.ok
                conmon_err = b"" if ok else _drain(proc.stderr.fileno())
                return raw, msg, conmon_err, proc.returncode or -1
        finally:
            os.close(sync_r)
            if sync_w >= 0:
                os.close(sync_w)

    @staticmethod
    def _read_sync(fd: int, *, deadline: float) -> bytes | None:
        """Read conmon's sync pipe up to the first newline or EOF; None on timeout."""
        buf = b""
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if not poller.poll(max(left, 0.0) * 1000):
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
        return buf

    def _undo_create(self, cid: str, persist_dir: Path) -> None:
        """After a failed create: no conmon, no runtime state, no record files."""
        pidfile, conmon_pidfile, runtime_log = self._own_files(persist_dir)
        conmon_pid = _read_pid(conmon_pidfile)
        # conmon exits by itself once it has reported the failure; kill it only if it hangs.
        if (
            conmon_pid is not None
            and _is_conmon_of(conmon_pid, cid)
            and not _wait_gone(conmon_pid, 2.0)
        ):
            with contextlib.suppress(ProcessLookupError):
                os.kill(conmon_pid, signals.SIGKILL)
            _wait_gone(conmon_pid, CONMON_EXIT_TIMEOUT)
        if self._exists(cid):
            with contextlib.suppress(RuntimeCommandError):
                self._run("delete", "--force", cid, what=f"{self.name} delete")
        _unlink(pidfile, conmon_pidfile, runtime_log, self._persist_link(cid), self._exit_file(cid))

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, cid: str) -> None:
        self._run("start", cid, what=f"{self.name} start")
        log.debug("container_started", cid=cid)

    def kill(self, cid: str, signal: str | int, *, all_procs: bool = False, pid: int = 0) -> None:
        """Send `signal` (a name like "SIGTERM"/"TERM" or a number); fine if already stopped.

        With the container's init `pid` (a number signal), the signal goes straight to it
        when that is certain to reach this container and nothing else, without a runtime
        process (`down` of 50 pods sends 150 signals): through a pidfd, once /proc shows the
        process in the container's cgroup; with `all_procs`, only if it is the init of its
        own PID namespace (the kernel then kills every process in it). Else the runtime's.
        """
        if pid > 0 and isinstance(signal, int) and _signal_init(cid, pid, signal, all_procs):
            log.debug("container_signalled", cid=cid, signal=str(signal), all_procs=all_procs)
            return
        args = ["kill", *(["--all"] if all_procs else []), cid, str(signal)]
        try:
            self._run(*args, what=f"{self.name} kill")
        except RuntimeCommandError:
            current = self.state(cid)
            if current is None or current.status == "stopped":
                return
            raise
        log.debug("container_signalled", cid=cid, signal=str(signal), all_procs=all_procs)

    def delete(self, cid: str, *, force: bool = False) -> None:
        """Remove the container from the runtime and its exit file; unknown ids are fine.

        Waits for the container's conmon to finish (it writes the exit file after a forced
        delete killed the container), so nothing of the container is left afterwards.
        """
        persist = self._persist_link(cid)
        conmon_pidfile = self._own_files(persist)[1]
        conmon_pid = _read_pid(conmon_pidfile)
        if conmon_pid is not None and not _is_conmon_of(conmon_pid, cid):
            conmon_pid = None  # gone already (its pid may be someone else's by now)
        try:
            self._run("delete", *(["--force"] if force else []), cid, what=f"{self.name} delete")
        except RuntimeCommandError:
            if self._exists(cid):
                raise
        if conmon_pid is not None and not _wait_gone(conmon_pid, CONMON_EXIT_TIMEOUT):
            log.warning("conmon_still_running", cid=cid, conmon_pid=conmon_pid)
        pidfile, _, runtime_log = self._own_files(persist)
        _unlink(pidfile, conmon_pidfile, runtime_log, persist, self._exit_file(cid))
        log.debug("container_deleted", cid=cid)

    # -- inspection ---------------------------------------------------------------------

    def state(self, cid: str) -> OciState | None:
        """The runtime's view of `cid`, or None if it does not know it."""
        try:
            proc = self._run("state", cid, what=f"{self.name} state")
        except RuntimeCommandError:
            if self._exists(cid):
                raise
            return None
        return OciState.from_json(cast(OciStateJson, json.loads(proc.stdout)))

    def list(self) -> builtins.list[OciState]:
        proc = self._run("list", "--format", "json", what=f"{self.name} list")
        raw = json.loads(proc.stdout or "null") or []
        return [OciState.from_json(cast(OciStateJson, item)) for item in raw]

    def monitor_alive(self, cid: str) -> bool:
        """Whether the conmon of `cid` still runs (it will write the exit file). No subprocess."""
        conmon_pid = _read_pid(self._own_files(self._persist_link(cid))[1])
        return conmon_pid is not None and _is_conmon_of(conmon_pid, cid)

    def wait_process(self, pid: int, timeout: float) -> bool:
        """Wait up to `timeout` s for process `pid` (not our child) to end; True once it has.
        For a container whose conmon is gone: no exit file will ever tell."""
        return pid <= 0 or _wait_gone(pid, timeout)

    def read_exit(self, cid: str) -> ContainerExit | None:
        """The exit conmon recorded for `cid`, or None while it runs. No subprocess."""
        return exits.read_exit(self.exits_dir, self.socket_dir, cid)

    def wait_exit(self, cid: str, timeout: float) -> ContainerExit | None:
        """Wait up to `timeout` s for `cid` to exit (inotify on the exit dir); None on timeout."""
        return exits.wait_for_file(
            self.exits_dir, cid, timeout=timeout, oom_file=self._persist_link(cid) / "oom"
        )

    # -- exec ---------------------------------------------------------------------------

    def _exec_argv(
        self,
        cid: str,
        argv: Sequence[str],
        *,
        tty: bool = False,
        env: Sequence[str] = (),
        cwd: str | None = None,
        user: str | None = None,
        pidfile: Path | None = None,
    ) -> builtins.list[str]:
        args = ["exec"]
        if tty:
            args.append("--tty")
        for item in env:
            args += ["--env", item]
        if cwd is not None:
            args += ["--cwd", cwd]
        if user is not None:
            args += ["--user", user]
        if pidfile is not None:
            args += ["--pid-file", str(pidfile)]
        return self._argv(*args, cid, *argv)

    def exec(
        self,
        cid: str,
        argv: Sequence[str],
        *,
        tty: bool = False,
        interactive: bool = False,
        env: Sequence[str] = (),
        cwd: str | None = None,
        user: str | None = None,
    ) -> int:
        """Run `argv` in the container in the foreground on our stdio; its exit code.

        A failure of the runtime itself (no such container, no such binary) shows on our
        stderr and comes back as the runtime's own non-zero exit code.
        """
        full = self._exec_argv(cid, argv, tty=tty, env=env, cwd=cwd, user=user)
        proc = subprocess.run(
            full, stdin=None if interactive else subprocess.DEVNULL, env=_child_env(), check=False
        )
        return proc.returncode

    def exec_capture(
        self, cid: str, argv: Sequence[str], *, timeout: float
    ) -> tuple[int, bytes, bytes]:
        """Run `argv` in the container; (exit code, stdout, stderr).

        On timeout the process is SIGKILLed and TimeoutError is raised.
        """
        with tempfile.TemporaryDirectory(prefix="kubeplay-exec-") as tmp:
            pidfile = Path(tmp) / "pid"
            full = self._exec_argv(cid, argv, pidfile=pidfile)
            with subprocess.Popen(
                full,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_child_env(),
            ) as proc:
                try:
                    out, err = proc.communicate(timeout=timeout)
                except subprocess.TimeoutExpired:
                    pid = _read_pid(pidfile)
                    if pid is not None:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signals.SIGKILL)
                    try:
                        proc.communicate(timeout=5.0)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.communicate()
                    raise TimeoutError(
                        f"exec in {cid}: {' '.join(argv)}: timed out after {timeout:g}s"
                    ) from None
                return proc.returncode, out, err

    async def exec_output(
        self, cid: str, argv: Sequence[str], *, timeout: float, limit: int = 10 * 1024
    ) -> tuple[int, bytes]:
        """Run `argv` in the container from asyncio; (exit code, combined stdout and stderr,
        at most `limit` bytes of it: the rest is read and dropped).

        On timeout the process is SIGKILLed and TimeoutError is raised.
        """
        import asyncio

        with tempfile.TemporaryDirectory(prefix="kubeplay-exec-") as tmp:
            pidfile = Path(tmp) / "pid"
            full = self._exec_argv(cid, argv, pidfile=pidfile)
            proc = await asyncio.create_subprocess_exec(
                *full,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=_child_env(),
            )
            assert proc.stdout is not None
            out = bytearray()
            try:
                async with asyncio.timeout(timeout):
                    while chunk := await proc.stdout.read(65536):
                        out += chunk[: max(0, limit - len(out))]
                    code = await proc.wait()
            except TimeoutError:
                pid = _read_pid(pidfile)
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signals.SIGKILL)
                try:
                    async with asyncio.timeout(5.0):
                        await proc.communicate()
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
                raise TimeoutError(
                    f"exec in {cid}: {' '.join(argv)}: timed out after {timeout:g}s"
                ) from None
            except BaseException:  # cancelled: leave no runtime exec behind
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                pid = _read_pid(pidfile)
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signals.SIGKILL)
                raise
            return code, bytes(out)


def _drain(fd: int) -> bytes:
    """What is in pipe `fd` now, without blocking (conmon's early stderr)."""
    os.set_blocking(fd, False)
    data = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 65536):
            data += chunk
    return data


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def last_line(text: str) -> str:
    return next((ln.strip() for ln in reversed(text.strip().splitlines()) if ln.strip()), "")
