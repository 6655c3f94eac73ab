"""Benchmark kubeplay against podman on the same machine, in one run.

What is measured, for N = 1, 10 and 50 single-container pods (one generated manifest per N, the
same file for both tools; busybox image `localhost/kubeplay-bench:latest`, imported into both
from one rootfs tar; a shell command that exits at once on SIGTERM even as PID 1):

- wall time of `play FILE` and of `down FILE` (`podman kube play|down` against `kubeplay
  play|down`), and the ratio kubeplay/podman. Each command is timed from spawn to exit;
- memory added per running pod: once every pod of the file is Running plus a 1 s settle, the sum
  of the PSS (`Pss:` of /proc/<pid>/smaps_rollup) of every process that belongs to the pods,
  divided by N. "Belongs" is decided the same way for both tools: the processes whose command
  line (or, for kubeplay, environment) names the pods' containers (podman: the full container
  ids of the bench pods, found with `podman ps`; kubeplay: the bench's private state dirs),
  plus all their descendants. That is conmon, catatonit (infra) and the container processes;
  for podman also aardvark-dns when the play started it (the DNS of the kube network); for
  kubeplay also a supervisor or dnsmasq if one runs. MemAvailable before/after is recorded in
  the JSON as a second, noisier opinion (other work on the host moves it);
- with 50 pods running: `kubeplay get pods` and `podman pod ps`, median wall time of 5 runs.

Order: podman then kubeplay for each N (play, memory, [list timing at N=50], down), after one
uncounted N=1 warm-up per tool. Targets: kubeplay play 50 and down 50 at most 0.5x podman's,
`kubeplay get pods` under 150 ms.

Set-up, idempotent, as root on Debian 12: installs podman (and runc, catatonit, busybox-static
when needed) with apt-get; makes podman use runc with the host's ulimits through
/etc/containers/containers.conf (a backup is kept when an existing file is changed); builds the
image tar with scripts/busybox-rootfs.sh and imports it into podman and into a kubeplay state
root private to this run (a temp dir under /tmp, bridge kpbench0, subnet 10.251.0.0/24). When
the kubeplay CLI is not available yet, the podman half still runs and the kubeplay column reads
"kubeplay: not available".

Output: a markdown table on stdout, and JSON in bench/results/<timestamp>.json. Everything the
run created (pods, the imported podman image, temp dirs) is removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
IMAGE_REF = "localhost/kubeplay-bench:latest"
POD_PREFIX = "kpbench-"
POD_NAME_RE = re.compile(r"^kpbench-\d{3}$")
# KUBEPLAY_BENCH_BRIDGE / KUBEPLAY_BENCH_SUBNET: another bridge and subnet (runs beside others)
BRIDGE = os.environ.get("KUBEPLAY_BENCH_BRIDGE", "kpbench0")
SUBNET = os.environ.get("KUBEPLAY_BENCH_SUBNET", "10.251.0.0/24")
CONTAINERS_CONF = Path("/etc/containers/containers.conf")
LOCK_FILE = Path("/run/kubeplay-bench.lock")
POD_COMMAND = ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"]
LIST_RUNS = 5
SETTLE_S = 1.0
RUNNING_TIMEOUT_S = 30.0
CMD_TIMEOUT_S = 180.0
TARGET_RATIO = 0.5
TARGET_GET_PODS_MS = 150.0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and why."""


class Interrupted(BaseException):
    """SIGTERM/SIGHUP arrived: unwind through the clean-up code."""


# ---------------------------------------------------------------------------------------------
# commands


@dataclass(frozen=True, slots=True)
class Timed:
    seconds: float
    stdout: str


def run(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = CMD_TIMEOUT_S,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv),
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-5:]
        raise BenchError(f"{shlex.join(argv)}: exit {proc.returncode}: {' | '.join(tail)}")
    return proc


def timed(argv: Sequence[str], *, env: dict[str, str] | None = None) -> Timed:
    start = time.perf_counter()
    proc = run(argv, env=env)
    return Timed(time.perf_counter() - start, proc.stdout)


# ---------------------------------------------------------------------------------------------
# host set-up


def apt_install(packages: Sequence[str]) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    argv = ["apt-get", "install", "-y", *packages]
    log(f"apt-get install {' '.join(packages)}")
    if run(argv, env=env, timeout=900, check=False).returncode != 0:
        run(["apt-get", "update"], env=env, timeout=900)
        run(argv, env=env, timeout=900)


def dpkg_installed(package: str) -> bool:
    proc = run(["dpkg-query", "-W", "-f=${Status}", package], check=False)
    return proc.returncode == 0 and proc.stdout.strip().endswith(" installed")


def ensure_packages() -> None:
    wanted = []
    if shutil.which("podman") is None:
        # podman pulls golang-github-containers-common (seccomp.json, policy.json); conmon too.
        wanted.append("podman")
    if shutil.which("runc") is None:
        wanted.append("runc")
    if not Path("/usr/bin/catatonit").exists():
        wanted.append("catatonit")  # podman builds its local pause image from it
    if wanted:
        apt_install(wanted)


def _toml_header(line: str) -> str | None:
    m = re.match(r"^\s*\[\s*([A-Za-z0-9_.\-\"]+)\s*\]\s*(#.*)?$", line)
    return m.group(1) if m else None


def set_toml_key(text: str, section: str, key: str, value: str) -> str:
    """Set `key = value` in [section] of a TOML text, commenting out earlier assignments.

    Line based so every other setting and comment stays as it was; a multi-line array being
    replaced is commented out up to its closing bracket.
    """
    lines = text.splitlines()
    out: list[str] = []
    current: str | None = None
    inserted = False
    depth = 0
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for line in lines:
        if depth > 0:
            out.append("# kubeplay-bench: " + line)
            depth += line.count("[") - line.count("]")
            continue
        header = _toml_header(line)
        if header is not None:
            current = header
            out.append(line)
            if header == section and not inserted:
                out.append(f"{key} = {value}")
                inserted = True
            continue
        if current == section and key_re.match(line):
            out.append("# kubeplay-bench: " + line)
            rhs = line.split("=", 1)[1].split("#", 1)[0]
            depth = rhs.count("[") - rhs.count("]")
            continue
        out.append(line)
    if not inserted:
        out += ["", f"[{section}]", f"{key} = {value}"]
    return "\n".join(out).lstrip("\n") + "\n"


def containers_conf_ok(text: str) -> bool:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    engine = data.get("engine", {})
    containers = data.get("containers", {})
    return bool(engine.get("runtime") == "runc" and containers.get("default_ulimits") == [])


def ensure_containers_conf(path: Path = CONTAINERS_CONF) -> str:
    """podman 4.3.1 here needs runc (crun refuses the hybrid cgroup layout) and the host's
    ulimits (no CAP_SYS_RESOURCE to raise RLIMIT_NOFILE). Returns what was done."""
    old = path.read_text() if path.exists() else None
    if old is not None and containers_conf_ok(old):
        return "unchanged"
    text = old if old is not None else ""
    text = set_toml_key(text, "engine", "runtime", '"runc"')
    text = set_toml_key(text, "containers", "default_ulimits", "[]")
    if not containers_conf_ok(text):
        raise BenchError(f"{path}: could not set runtime/default_ulimits safely; set them by hand")
    path.parent.mkdir(parents=True, exist_ok=True)
    if old is None:
        path.write_text(text)
        return "created"
    backup = path.with_name(f"{path.name}.kubeplay-bench-{time.strftime('%Y%m%d%H%M%S')}.bak")
    shutil.copy2(path, backup)
    path.write_text(text)
    return f"updated (backup {backup})"


def build_rootfs_tar(out: Path) -> None:
    """The test image, made by the repo's own recipe from the host's static busybox."""
    if not dpkg_installed("busybox-static"):
        apt_install(["busybox-static"])
    run(["sh", str(REPO / "scripts" / "busybox-rootfs.sh"), str(out)])


def write_manifest(path: Path, count: int) -> list[str]:
    names = [f"{POD_PREFIX}{i:03d}" for i in range(1, count + 1)]
    docs = []
    for name in names:
        docs.append(
            "apiVersion: v1\n"
            "kind: Pod\n"
            "metadata:\n"
            f"  name: {name}\n"
            "  labels:\n"
            "    app: kubeplay-bench\n"
            "spec:\n"
            "  terminationGracePeriodSeconds: 10\n"
            "  containers:\n"
            "  - name: main\n"
            f"    image: {IMAGE_REF}\n"
            "    imagePullPolicy: Never\n"
            f"    command: {json.dumps(POD_COMMAND)}\n"
        )
    path.write_text("---\n".join(docs))
    return names


# ---------------------------------------------------------------------------------------------
# processes and memory


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    ppid: int
    comm: str
    cmdline: str


def list_procs() -> dict[int, Proc]:
    procs: dict[int, Proc] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue  # exited meanwhile
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        procs[pid] = Proc(pid, ppid, comm, cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return procs


def environ_has(pid: int, needle: str) -> bool:
    try:
        return needle.encode() in Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False


def with_descendants(procs: dict[int, Proc], roots: set[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p.pid)
    seen = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo += children.get(pid, [])
    return seen


def pss_kib(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None  # exited (e.g. a `sleep 1`) or a kernel thread
    m = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else None


def mem_available_kib() -> int:
    m = re.search(r"^MemAvailable:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    if m is None:
        raise BenchError("/proc/meminfo: no MemAvailable")
    return int(m.group(1))


@dataclass(slots=True)
class Memory:
    pods: int
    processes: int = 0
    pss_kib_total: int = 0
    pss_kib_per_pod: float = 0.0
    by_comm: dict[str, dict[str, int]] = field(default_factory=dict)
    mem_available_delta_kib_per_pod: float = 0.0


def measure_memory(roots: set[int], procs: dict[int, Proc], *, pods: int, avail0: int) -> Memory:
    mem = Memory(pods=pods)
    for pid in sorted(with_descendants(procs, roots)):
        if pid == os.getpid():
            continue
        kib = pss_kib(pid)
        if kib is None:
            continue
        mem.processes += 1
        mem.pss_kib_total += kib
        row = mem.by_comm.setdefault(procs[pid].comm, {"count": 0, "pss_kib": 0})
        row["count"] += 1
        row["pss_kib"] += kib
    mem.pss_kib_per_pod = mem.pss_kib_total / pods
    mem.mem_available_delta_kib_per_pod = (avail0 - mem_available_kib()) / pods
    return mem


# ---------------------------------------------------------------------------------------------
# the two tools


class Tool:
    name = ""

    def play(self, manifest: Path) -> Timed:
        raise NotImplementedError

    def down(self, manifest: Path) -> Timed:
        raise NotImplementedError

    def list_pods(self) -> Timed:
        raise NotImplementedError

    def running(self, names: Sequence[str]) -> int:
        """How many of the named pods are Running."""
        raise NotImplementedError

    def pod_processes(
        self, procs: dict[int, Proc], names: Sequence[str], *, before: frozenset[int]
    ) -> set[int]:
        """The root processes of the named pods (descendants are added by the caller).

        `before`: the pids that existed before the pods were played."""
        raise NotImplementedError

    def leftover(self) -> list[str]:
        """Bench pods this tool still has."""
        raise NotImplementedError


class Podman(Tool):
    name = "podman"

    def play(self, manifest: Path) -> Timed:
        return timed(["podman", "kube", "play", str(manifest)])

    def down(self, manifest: Path) -> Timed:
        return timed(["podman", "kube", "down", str(manifest)])

    def list_pods(self) -> Timed:
        return timed(["podman", "pod", "ps"])

    def _pods(self) -> list[dict[str, Any]]:
        out = run(["podman", "pod", "ps", "--format", "json"]).stdout
        pods: list[dict[str, Any]] = json.loads(out or "[]") or []
        return [p for p in pods if POD_NAME_RE.match(str(p.get("Name", "")))]

    def running(self, names: Sequence[str]) -> int:
        wanted = set(names)
        return sum(1 for p in self._pods() if p["Name"] in wanted and p["Status"] == "Running")

    def pod_processes(
        self, procs: dict[int, Proc], names: Sequence[str], *, before: frozenset[int]
    ) -> set[int]:
        out = run(
            ["podman", "ps", "-a", "--pod", "--no-trunc", "--format", "{{.ID}} {{.PodName}}"]
        ).stdout
        wanted = set(names)
        ids = [
            f[0]
            for f in (line.split() for line in out.splitlines())
            if len(f) == 2 and f[1] in wanted
        ]
        # conmon's argv carries `-c <full id>`; catatonit and the shell are its descendants.
        # kube play joins podman-default-kube-network, whose DNS (aardvark-dns, one for the
        # network) starts with the first pod and stops with the last: counted when it is new.
        return {
            p.pid
            for p in procs.values()
            if any(cid in p.cmdline for cid in ids)
            or (p.comm == "aardvark-dns" and p.pid not in before)
        }

    def leftover(self) -> list[str]:
        return [str(p["Name"]) for p in self._pods()]

    def remove_leftovers(self) -> None:
        names = self.leftover()
        if names:
            log(f"podman: removing leftover pods {' '.join(names)}")
            run(["podman", "pod", "rm", "-f", "-t", "0", *names], check=False)


class Kubeplay(Tool):
    name = "kubeplay"

    def __init__(self, argv: list[str], base: Path) -> None:
        self.argv = argv
        self.base = base
        self.env = dict(
            os.environ,
            KUBEPLAY_ROOT=str(base / "root"),
            KUBEPLAY_RUNROOT=str(base / "run"),
            KUBEPLAY_CONFIG=str(base / "kubeplay.toml"),  # absent: the host's config is ignored
            KUBEPLAY_BRIDGE=BRIDGE,
            KUBEPLAY_SUBNET=SUBNET,
            KUBEPLAY_RUNTIME="runc",  # what podman uses here, so runtimes are equal
        )

    def kp(self, *args: str) -> list[str]:
        return [*self.argv, *args]

    def play(self, manifest: Path) -> Timed:
        return timed(self.kp("play", str(manifest)), env=self.env)

    def down(self, manifest: Path) -> Timed:
        return timed(self.kp("down", str(manifest)), env=self.env)

    def list_pods(self) -> Timed:
        return timed(self.kp("get", "pods"), env=self.env)

    def _table(self) -> list[list[str]]:
        out = run(self.kp("get", "pods"), env=self.env).stdout
        return [line.split() for line in out.splitlines() if line.split()]

    def running(self, names: Sequence[str]) -> int:
        wanted = set(names)
        # A row names the pod (maybe as namespace/name or after a NAMESPACE column) and its
        # STATUS; only the pod names and the word Running are relied on.
        return sum(
            1
            for row in self._table()
            if any(c.rsplit("/", 1)[-1] in wanted for c in row[:2]) and "Running" in row
        )

    def pod_processes(
        self, procs: dict[int, Proc], names: Sequence[str], *, before: frozenset[int]
    ) -> set[int]:
        # conmon's argv names files under the private roots; a supervisor inherits the env.
        marker = str(self.base)
        return {
            p.pid
            for p in procs.values()
            if p.pid != os.getpid() and (marker in p.cmdline or environ_has(p.pid, marker))
        }

    def leftover(self) -> list[str]:
        try:
            rows = self._table()
        except BenchError:
            return []
        return sorted(
            {
                c.rsplit("/", 1)[-1]
                for row in rows
                for c in row[:2]
                if POD_NAME_RE.match(c.rsplit("/", 1)[-1])
            }
        )


def kubeplay_argv(option: str | None) -> list[str]:
    if option:
        return shlex.split(option)
    venv_cli = REPO / ".venv" / "bin" / "kubeplay"
    if venv_cli.exists():
        return [str(venv_cli)]
    return [sys.executable, "-m", "kubeplay"]


def kubeplay_missing(kp: Kubeplay) -> str | None:
    """None when the CLI answers --help and knows play/down/get/image; else why not."""
    try:
        proc = run(kp.kp("--help"), env=kp.env, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return str(err)
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:]
        return f"{shlex.join(kp.argv)} --help: exit {proc.returncode}: {' '.join(tail)}"
    missing = [w for w in ("play", "down", "get", "image") if w not in proc.stdout]
    if missing:
        return f"CLI lacks {', '.join(missing)}"
    return None


# ---------------------------------------------------------------------------------------------
# the benchmark


@dataclass(slots=True)
class Round:
    pods: int
    play_s: float
    down_s: float
    memory: Memory
    running: int
    list_ms: float | None = None
    list_ms_runs: list[float] = field(default_factory=list)


def wait_running(tool: Tool, names: Sequence[str]) -> int:
    deadline = time.monotonic() + RUNNING_TIMEOUT_S
    while True:
        count = tool.running(names)
        if count == len(names) or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


def one_round(
    tool: Tool, manifest: Path, names: Sequence[str], *, time_list: bool, up: list[Path]
) -> Round:
    avail0 = mem_available_kib()
    before = frozenset(list_procs())
    log(f"{tool.name}: play {len(names)}")
    up.append(manifest)
    play = tool.play(manifest)
    running = wait_running(tool, names)
    if running != len(names):
        log(f"{tool.name}: only {running}/{len(names)} pods Running after {RUNNING_TIMEOUT_S}s")
    time.sleep(SETTLE_S)
    procs = list_procs()
    memory = measure_memory(
        tool.pod_processes(procs, names, before=before), procs, pods=len(names), avail0=avail0
    )
    if memory.processes < len(names):
        raise BenchError(f"{tool.name}: found {memory.processes} processes for {len(names)} pods")
    runs: list[float] = []
    if time_list:
        runs = [tool.list_pods().seconds * 1000 for _ in range(LIST_RUNS)]
    log(f"{tool.name}: down {len(names)}")
    down = tool.down(manifest)
    up.remove(manifest)
    left = tool.leftover()
    if left:
        raise BenchError(f"{tool.name} down {manifest.name}: pods left: {' '.join(left)}")
    return Round(
        pods=len(names),
        play_s=play.seconds,
        down_s=down.seconds,
        memory=memory,
        running=running,
        list_ms=statistics.median(runs) if runs else None,
        list_ms_runs=runs,
    )


# ---------------------------------------------------------------------------------------------
# clean-up


def mounts_under(path: Path) -> list[str]:
    found = []
    prefix = str(path).rstrip("/") + "/"
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mnt = line.split()[4].encode().decode("unicode_escape")
        if mnt == str(path) or mnt.startswith(prefix):
            found.append(mnt)
    return found


def remove_tree(path: Path) -> None:
    """rm -rf that never descends into a mount (a bind-mounted host binary must survive)."""
    if not path.exists():
        return
    for mnt in sorted(mounts_under(path), key=len, reverse=True):
        run(["umount", "-l", mnt], check=False)
    left = mounts_under(path)
    if left:
        log(f"not removing {path}: still mounted: {' '.join(left)}")
        return
    shutil.rmtree(path, ignore_errors=True)


def kill_leftover_processes(kp: Kubeplay) -> None:
    """Processes of this run's kubeplay roots that survived `down` (ours, by pid)."""
    procs = list_procs()
    pids = with_descendants(procs, kp.pod_processes(procs, [], before=frozenset()))
    pids.discard(os.getpid())
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        for pid in alive:
            log(f"cleanup: {sig.name} leftover {pid} {procs[pid].cmdline[:80]}")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        if alive and sig is signal.SIGTERM:
            time.sleep(2)


def nft_tables_of_bridge() -> list[str]:
    """kubeplay's nft tables for the bench bridge ("ip kubeplay_kpbench0"), none elsewhere."""
    if shutil.which("nft") is None:
        return []
    out = run(["nft", "list", "tables"], check=False).stdout
    return [
        line.removeprefix("table ").strip()
        for line in out.splitlines()
        if line.startswith("table ") and line.split()[-1] == f"kubeplay_{BRIDGE}"
    ]


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


# The lock file once taken: held until the process exits, so that the clean-up after the
# `with bench_lock()` block still runs under it.
_held_lock: list[Any] = []


def take_bench_lock() -> None:
    """Take the bench lock for the rest of this process; BenchError if another benchmark
    holds it. `bench_lock()` as a `with` block, or this at the start of a script's main."""
    if not _held_lock:
        fh = LOCK_FILE.open("w")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise BenchError(f"another benchmark holds {LOCK_FILE}") from None
        _held_lock.append(fh)


@contextlib.contextmanager
def bench_lock() -> Iterator[None]:
    take_bench_lock()
    yield


def lock_held() -> bool:
    """Whether this run holds the bench lock: the podman pods named kpbench-NNN are then its
    own, else another run's (clean-up must leave them alone)."""
    return bool(_held_lock)


def on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


# ---------------------------------------------------------------------------------------------
# report


def fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def render(result: dict[str, Any]) -> str:
    pm: dict[int, Round] = result["_podman"]
    kp: dict[int, Round] = result["_kubeplay"]
    status = result["kubeplay"]["status"]
    absent = {"ok": "-", "skipped": "skipped", "not available": "kubeplay: not available"}.get(
        status, "kubeplay: failed"
    )

    def cell(r: Round | None, attr: str, scale: float) -> str:
        value = _value(r, attr)
        return fmt_s(None if value is None else value / scale)

    def pcell(n: int, attr: str, scale: float = 1.0) -> str:
        return cell(pm.get(n), attr, scale)

    def kcell(n: int, attr: str, scale: float = 1.0) -> str:
        return cell(kp[n], attr, scale) if n in kp else absent

    def ratio(n: int, attr: str) -> str:
        return fmt_ratio(_value(kp.get(n), attr), _value(pm.get(n), attr))

    lines = [
        "| pods | podman play s | kubeplay play s | play ratio | podman down s | "
        "kubeplay down s | down ratio | podman MiB/pod | kubeplay MiB/pod |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in result["counts"]:
        mem = "memory.pss_kib_per_pod"
        lines.append(
            f"| {n} | {pcell(n, 'play_s')} | {kcell(n, 'play_s')} | {ratio(n, 'play_s')} | "
            f"{pcell(n, 'down_s')} | {kcell(n, 'down_s')} | {ratio(n, 'down_s')} | "
            f"{pcell(n, mem, 1024)} | {kcell(n, mem, 1024)} |"
        )
    lines += [
        "",
        f"| listing, 50 pods running (median of {LIST_RUNS}) | ms |",
        "|---|---:|",
        f"| podman pod ps | {pcell(50, 'list_ms')} |",
        f"| kubeplay get pods | {kcell(50, 'list_ms')} |",
        "",
        "| target | value | pass |",
        "|---|---:|---|",
    ]
    for t in result["targets"]:
        verdict = {True: "yes", False: "NO", None: "-"}[t["pass"]]
        lines.append(f"| {t['name']} | {fmt_s(t['value'])} | {verdict} |")
    lines += [
        "",
        "Memory: sum of PSS (/proc/<pid>/smaps_rollup) of the pods' processes (conmon, "
        "catatonit, container processes; aardvark-dns, dnsmasq, a kubeplay supervisor when "
        "they run for the pods) / pods.",
    ]
    if status != "ok":
        lines.append(f"kubeplay {status}: {result['kubeplay']['reason']}")
    return "\n".join(lines)


def _value(r: Round | None, attr: str) -> float | None:
    """Round attribute by dotted path ("memory.pss_kib_per_pod"); None when absent."""
    value: Any = r
    for part in attr.split("."):
        value = getattr(value, part, None) if value is not None else None
    return None if value is None else float(value)


def targets(pm: dict[int, Round], kp: dict[int, Round]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def ratio(attr: str) -> float | None:
        if 50 not in pm or 50 not in kp:
            return None
        return float(getattr(kp[50], attr)) / float(getattr(pm[50], attr))

    for attr, name in (
        ("play_s", "play 50: kubeplay/podman <= 0.5"),
        ("down_s", "down 50: kubeplay/podman <= 0.5"),
    ):
        r = ratio(attr)
        out.append({"name": name, "value": r, "pass": None if r is None else r <= TARGET_RATIO})
    ms = kp[50].list_ms if 50 in kp else None
    out.append(
        {
            "name": "kubeplay get pods, 50 pods < 150 ms",
            "value": ms,
            "pass": None if ms is None else ms < TARGET_GET_PODS_MS,
        }
    )
    return out


def host_info() -> dict[str, Any]:
    def version(argv: list[str]) -> str:
        try:
            proc = run(argv, check=False, timeout=30)
        except OSError:
            return "absent"
        return (proc.stdout.strip().splitlines() or ["?"])[0]

    return {
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "mem_total_kib": int(
            re.findall(r"^MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(), re.M)[0]
        ),
        "podman": version(["podman", "--version"]),
        "podman_network": version(["podman", "info", "--format", "{{.Host.NetworkBackend}}"]),
        "runc": version(["runc", "--version"]),
        "conmon": version(["conmon", "--version"]),
        "python": platform.python_version(),
    }


# ---------------------------------------------------------------------------------------------
# main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument(
        "--kubeplay",
        default=os.environ.get("KUBEPLAY_BENCH_CLI"),
        help="kubeplay command line (default: <repo>/.venv/bin/kubeplay, else "
        "`python -m kubeplay`; env KUBEPLAY_BENCH_CLI)",
    )
    ap.add_argument("--counts", default="1,10,50", help="pod counts, comma separated")
    ap.add_argument("--skip-podman", action="store_true")
    ap.add_argument("--skip-kubeplay", action="store_true")
    ap.add_argument(
        "--require-kubeplay",
        action="store_true",
        help="fail (exit 1) when the kubeplay CLI is not available",
    )
    ap.add_argument("--results-dir", type=Path, default=REPO / "bench" / "results")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench/run.py must run as root", file=sys.stderr)
        return 2
    counts = [int(c) for c in args.counts.split(",")]
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    started = time.monotonic()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = Path(tempfile.mkdtemp(prefix="kubeplay-bench-", dir="/tmp"))
    podman = Podman()
    kubeplay = Kubeplay(kubeplay_argv(args.kubeplay), base)
    pm: dict[int, Round] = {}
    kp: dict[int, Round] = {}
    up: dict[str, list[Path]] = {"podman": [], "kubeplay": []}
    kp_status = {"status": "skipped" if args.skip_kubeplay else "ok", "reason": ""}
    setup: dict[str, str] = {}
    errors: list[str] = []
    podman_image = False
    try:
        with bench_lock():
            if not args.skip_podman:
                ensure_packages()
                setup["containers.conf"] = ensure_containers_conf()
                podman.remove_leftovers()
            tar = base / "rootfs.tar"
            build_rootfs_tar(tar)
            manifests: dict[int, tuple[Path, list[str]]] = {}
            for n in sorted({1, *counts}):
                path = base / f"pods-{n}.yaml"
                manifests[n] = (path, write_manifest(path, n))
            tools: list[Tool] = []
            if not args.skip_podman:
                run(["podman", "import", str(tar), IMAGE_REF])
                podman_image = True
                tools.append(podman)
            if not args.skip_kubeplay:
                reason = kubeplay_missing(kubeplay)
                if reason is None:
                    imp = run(
                        kubeplay.kp("image", "import", str(tar), IMAGE_REF),
                        env=kubeplay.env,
                        check=False,
                    )
                    if imp.returncode != 0:
                        last = (imp.stderr.strip() or imp.stdout.strip()).splitlines()[-1:]
                        reason = f"image import: exit {imp.returncode}: {' '.join(last)}"
                if reason is None:
                    tools.append(kubeplay)
                else:
                    kp_status = {"status": "not available", "reason": reason}
                    log(f"kubeplay: not available ({reason})")
                    if args.require_kubeplay:
                        errors.append(f"kubeplay not available: {reason}")
                        raise BenchError(errors[-1])
            results = {"podman": pm, "kubeplay": kp}
            for tool in tools:  # warm-up, not counted
                log(f"{tool.name}: warm-up")
                try:
                    one_round(tool, *manifests[1], time_list=False, up=up[tool.name])
                except (BenchError, subprocess.TimeoutExpired) as err:
                    if tool is kubeplay:
                        errors.append(f"kubeplay warm-up: {err}")
                        kp_status = {"status": "failed", "reason": str(err)}
                        log(errors[-1])
                    else:
                        raise
            for n in counts:
                for tool in tools:
                    if tool is kubeplay and kp_status["status"] != "ok":
                        continue
                    try:
                        results[tool.name][n] = one_round(
                            tool, *manifests[n], time_list=n == 50, up=up[tool.name]
                        )
                    except (BenchError, subprocess.TimeoutExpired) as err:
                        if tool is podman:
                            raise
                        errors.append(f"kubeplay {n} pods: {err}")
                        kp_status = {"status": "failed", "reason": str(err)}
                        log(errors[-1])
    except (BenchError, subprocess.TimeoutExpired) as err:
        if str(err) not in errors:
            errors.append(str(err))
        log(f"error: {err}")
    except (KeyboardInterrupt, Interrupted) as err:
        errors.append(f"interrupted ({err or 'SIGINT'})")
        log(errors[-1])
    finally:
        cleanup_errors = cleanup(podman, kubeplay, up, base=base, podman_image=podman_image)
        errors += cleanup_errors

    result: dict[str, Any] = {
        "timestamp": stamp,
        "duration_s": round(time.monotonic() - started, 1),
        "host": host_info(),
        "setup": setup,
        "kubeplay": {**kp_status, "command": kubeplay.argv},
        "counts": counts,
        "method": {
            "time": "wall time of each CLI command, spawn to exit",
            "memory": "sum of PSS from /proc/<pid>/smaps_rollup of the pods' processes and "
            "their descendants, divided by pods, 1 s after all pods are Running",
            "listing": f"median of {LIST_RUNS} runs with 50 pods running",
        },
        "podman": {str(n): asdict(r) for n, r in pm.items()},
        "kubeplay_rounds": {str(n): asdict(r) for n, r in kp.items()},
        "ratios": {
            str(n): {
                "play": kp[n].play_s / pm[n].play_s,
                "down": kp[n].down_s / pm[n].down_s,
                "memory": kp[n].memory.pss_kib_per_pod / pm[n].memory.pss_kib_per_pod
                if pm[n].memory.pss_kib_per_pod
                else None,
            }
            for n in counts
            if n in kp and n in pm
        },
        "targets": targets(pm, kp),
        "errors": errors,
    }
    print(render({**result, "_podman": pm, "_kubeplay": kp}))
    if errors:
        print("\nerrors:\n" + "\n".join(f"- {e}" for e in errors))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {out} ({result['duration_s']} s)")
    return 1 if errors else 0


def cleanup(
    podman: Podman,
    kubeplay: Kubeplay,
    up: dict[str, list[Path]],
    *,
    base: Path,
    podman_image: bool,
) -> list[str]:
    """Undo everything this run made; returns what could not be undone. A run that never
    took the lock made nothing but its temp dir: the pods, bridge and tables named like its
    own are another run's (cleaning them up broke that run's `podman kube down`)."""
    errors: list[str] = []
    if not lock_held():
        remove_tree(base)
        return errors
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish cleaning even on a second ^C
    try:
        for manifest in up["kubeplay"]:
            log(f"cleanup: kubeplay down {manifest.name}")
            try:
                run(kubeplay.kp("down", str(manifest)), env=kubeplay.env, check=False)
            except (OSError, subprocess.TimeoutExpired) as err:
                errors.append(f"cleanup: kubeplay down: {err}")
        kill_leftover_processes(kubeplay)
        for manifest in up["podman"]:
            log(f"cleanup: podman kube down {manifest.name}")
            run(["podman", "kube", "down", str(manifest)], check=False)
        if shutil.which("podman"):
            podman.remove_leftovers()
            if podman.leftover():
                errors.append(f"cleanup: podman pods left: {podman.leftover()}")
        if podman_image:
            run(["podman", "rmi", IMAGE_REF], check=False)
        if link_exists(BRIDGE):
            log(f"cleanup: deleting link {BRIDGE} (left after down)")
            run(["ip", "link", "del", BRIDGE], check=False)
        for table in nft_tables_of_bridge():
            log(f"cleanup: deleting nft table {table} (left after down)")
            run(["nft", "delete", "table", *table.split()], check=False)
        remove_tree(base)
        if base.exists():
            errors.append(f"cleanup: {base} could not be removed")
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return errors


if __name__ == "__main__":
    sys.exit(main())
