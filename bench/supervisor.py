"""Benchmark the supervisor: its cost with 50 running pods, and how fast it restarts.

1. 50 single-container pods (busybox httpd), each with a readiness probe every second
   (httpGet / on port 80, periodSeconds 1; `--probe exec` runs `true` through `runc exec`
   instead, a process per probe), are played; once all are Running and a settle passed, the
   supervisor's
   CPU (utime+stime from /proc/<pid>/stat over a window, default 30 s, as % of one core) and
   resident memory (VmRSS, and VmHWM, its peak) are read. Targets: under 2 % of one core and
   under 60 MB. The CPU is the supervisor's own (exec probes' runc processes are not in it).
2. One more pod whose container exits 1 after `--run` seconds (restartPolicy Always): for each
   restart, the time from the container's exit (conmon's exit file, as the store records it in
   lastState) to the new instance's start (the store's started_at). The kubelet restarts the
   first time at once and then after the back-off (base, 2x base, ...): the overhead is the
   latency minus that delay. Target: a restart after the base back-off under base + 200 ms.

kubeplay runs with its own roots under /tmp (bridge kpsupb0, subnet 10.250.0.0/24) and a
back-off base of `--backoff-base` s; everything is removed at the end (`kubeplay system reset`
of those roots, which also stops the supervisor), also on failure. Root only; it takes
/run/kubeplay-bench.lock (bench/run.py's), so that no other bench runs meanwhile. Output: a
markdown table on stdout, JSON in bench/results/supervisor-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from run import BenchError, take_bench_lock  # bench/run.py: the lock all benches share

REPO = Path(__file__).resolve().parent.parent
IMAGE = "localhost/kubeplay/busybox:latest"
ROOTFS = REPO / ".cache" / "busybox-rootfs.tar"
# busybox httpd serving the image's /var/www (index.html): the readiness probe's target.
SERVER = "trap 'exit 0' TERM; httpd -f -p 80 -h /var/www & wait $!"
TARGET_CPU_PERCENT = 2.0
TARGET_RSS_MB = 60.0
TARGET_RESTART_OVERHEAD_S = 0.2


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Kubeplay:
    def __init__(self, base: Path, *, backoff_base: float) -> None:
        self.root = base / "root"
        self.runroot = Path(tempfile.mkdtemp(prefix="kpsb"))
        self.env = {
            **os.environ,
            "KUBEPLAY_CONFIG": "/nonexistent/kubeplay.toml",
            "KUBEPLAY_ROOT": str(self.root),
            "KUBEPLAY_RUNROOT": str(self.runroot),
            "KUBEPLAY_BRIDGE": os.environ.get("KUBEPLAY_BENCH_BRIDGE", "kpsupb0"),
            "KUBEPLAY_SUBNET": os.environ.get("KUBEPLAY_BENCH_SUBNET", "10.250.0.0/24"),
            "KUBEPLAY_DNS_UPSTREAM": "none",
            "KUBEPLAY_BACKOFF_BASE": str(backoff_base),
            "KUBEPLAY_BACKOFF_CAP": str(backoff_base * 8),
        }

    def __call__(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "kubeplay", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"kubeplay {' '.join(args)}: {proc.returncode}: {proc.stderr}")
        return proc.stdout

    def supervisor_pid(self) -> int | None:
        try:
            return int((self.runroot / "supervisor.pid").read_text())
        except (OSError, ValueError):
            return None

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.root / 'state.db'}?mode=ro", uri=True, timeout=30)


def manifest(count: int, *, probe: str) -> str:
    docs = []
    handler = (
        """exec:
        command: ["true"]"""
        if probe == "exec"
        else """httpGet:
        path: /
        port: 80"""
    )
    for i in range(count):
        readiness = f"""
    readinessProbe:
      {handler}
      periodSeconds: 1"""
        docs.append(
            f"""apiVersion: v1
kind: Pod
metadata:
  name: kpsb-{i:03d}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: {IMAGE}
    command: ["sh", "-c", {json.dumps(SERVER)}]{readiness}
"""
        )
    return "---\n".join(docs)


def crasher(run: float) -> str:
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: kpsb-crash
spec:
  restartPolicy: Always
  containers:
  - name: main
    image: {IMAGE}
    command: ["sh", "-c", "sleep {run}; exit 1"]
"""


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick  # utime, stime (fields 14, 15)


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def wait_running(kp: Kubeplay, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = json.loads(kp("get", "pods", "-o", "json"))["items"]
        if sum(p["status"]["phase"] == "Running" for p in items) >= count:
            return
        time.sleep(0.5)
    raise RuntimeError(f"not {count} pods Running after {timeout} s")


def wait_ready(kp: Kubeplay, count: int, timeout: float = 120) -> None:
    """Every pod Ready: the supervisor probes them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = json.loads(kp("get", "pods", "-o", "json"))["items"]
        ready = sum(
            any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])
            for p in items
        )
        if ready >= count:
            return
        time.sleep(0.5)
    raise RuntimeError(f"not {count} pods Ready after {timeout} s")


def restarts(kp: Kubeplay, *, wanted: int, timeout: float) -> list[dict[str, float]]:
    """Per restart: exit time, start of the next instance, restart count."""
    seen: dict[int, dict[str, float]] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < wanted and time.monotonic() < deadline:
        with kp.db() as db:
            row = db.execute(
                "SELECT c.restart_count, c.started_at, c.last_termination_json FROM containers c "
                "JOIN pods p ON p.uid = c.pod_uid WHERE p.name = 'kpsb-crash' AND c.name = 'main'"
            ).fetchone()
        if row and row[0] and row[1] and row[2] and row[0] not in seen:
            last = json.loads(row[2])
            seen[row[0]] = {
                "restart": row[0],
                "exited_at": last["finished_at"],
                "started_at": row[1],
                "latency_s": row[1] - last["finished_at"],
            }
        time.sleep(0.02)
    return [seen[k] for k in sorted(seen)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--window", type=float, default=30.0, help="CPU window, seconds")
    parser.add_argument("--backoff-base", type=float, default=1.0)
    parser.add_argument("--run", type=float, default=1.0, help="crasher's run time, seconds")
    parser.add_argument("--restarts", type=int, default=4)
    parser.add_argument("--rootfs", type=Path, default=ROOTFS, help="busybox rootfs tar")
    parser.add_argument("--probe", choices=("http", "exec"), default="http")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/supervisor.py must run as root", file=sys.stderr)
        return 1
    try:
        take_bench_lock()  # held until this process exits, clean-up included
    except BenchError as err:
        print(f"bench/supervisor.py: {err}", file=sys.stderr)
        return 1
    base = Path(tempfile.mkdtemp(prefix="kubeplay-supbench-"))
    kp = Kubeplay(base, backoff_base=args.backoff_base)
    result: dict[str, Any] = {
        "pods": args.pods,
        "backoff_base_s": args.backoff_base,
        "probe": args.probe,
    }
    ok = True
    try:
        if not args.rootfs.is_file():
            args.rootfs.parent.mkdir(parents=True, exist_ok=True)
            script = REPO / "scripts" / "busybox-rootfs.sh"
            subprocess.run([str(script), str(args.rootfs)], check=True)
        kp("image", "import", str(args.rootfs), IMAGE, "--change", 'CMD ["/bin/sh"]')
        files = base / "pods.yaml"
        files.write_text(manifest(args.pods, probe=args.probe))
        log(f"play {args.pods} pods with a readiness probe ({args.probe}) every second")
        started = time.monotonic()
        warnings = subprocess.run(
            [sys.executable, "-m", "kubeplay", "play", str(files)],
            cwd=REPO, env=kp.env, capture_output=True, text=True, check=True,
        ).stderr  # fmt: skip
        result["play_s"] = round(time.monotonic() - started, 2)
        result["play_warnings"] = warnings.strip()
        wait_running(kp, args.pods)
        wait_ready(kp, args.pods)
        deadline = time.monotonic() + 10
        while (pid := kp.supervisor_pid()) is None and time.monotonic() < deadline:
            time.sleep(0.1)  # it was started in the background: give it a moment
        if pid is None:
            raise RuntimeError("no supervisor runs after play")
        time.sleep(2.0)
        log(f"supervisor {pid}: CPU over {args.window:g} s")
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(args.window)
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        user, system = ((b - a) / (t1 - t0) * 100 for a, b in zip(cpu0, cpu1, strict=True))
        result["supervisor_cpu_percent"] = round(user + system, 2)
        result["supervisor_cpu_user_percent"] = round(user, 2)
        result["supervisor_cpu_system_percent"] = round(system, 2)
        result["supervisor_rss_mb"] = round(status_kb(pid, "VmRSS") / 1024, 1)
        result["supervisor_peak_rss_mb"] = round(status_kb(pid, "VmHWM") / 1024, 1)

        crash = base / "crash.yaml"
        crash.write_text(crasher(args.run))
        log(f"crasher: {args.restarts} restarts")
        kp("play", str(crash))
        got = restarts(kp, wanted=args.restarts, timeout=120 + args.backoff_base * 40)
        for n, item in enumerate(got):
            # the kubelet's sequence: the first restart at once, then base, 2x base, ...
            delay = 0.0 if n == 0 else args.backoff_base * 2 ** (n - 1)
            item["backoff_s"] = delay
            item["overhead_s"] = item["latency_s"] - delay
        result["restarts"] = got
    except Exception as err:  # report what was measured, clean up, fail
        ok = False
        result["error"] = repr(err)
        log(f"failed: {err!r}")
    finally:
        log("clean-up: system reset of the bench roots")
        subprocess.run(
            [sys.executable, "-m", "kubeplay", "system", "reset", "--force"],
            cwd=REPO, env=kp.env, capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(kp.runroot, ignore_errors=True)
    report(result)
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"supervisor-{stamp}.json").write_text(json.dumps(result, indent=2))
    return 0 if ok else 1


def report(result: dict[str, Any]) -> None:
    def mark(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    print(f"## supervisor with {result['pods']} pods (back-off base {result['backoff_base_s']} s)")
    print()
    print("| what | value | target |")
    print("|---|---|---|")
    if "supervisor_cpu_percent" in result:
        cpu, rss = result["supervisor_cpu_percent"], result["supervisor_rss_mb"]
        probes = f" ({result['probe']} readiness probes every 1 s)"
        split = (
            f" (user {result['supervisor_cpu_user_percent']} %, "
            f"system {result['supervisor_cpu_system_percent']} %)"
        )
        print(f"| supervisor CPU{probes} | {cpu} % of one core{split} | < {TARGET_CPU_PERCENT} % "
              f"{mark(cpu < TARGET_CPU_PERCENT)} |")  # fmt: skip
        print(f"| supervisor RSS | {rss} MB (peak {result['supervisor_peak_rss_mb']} MB) | "
              f"< {TARGET_RSS_MB} MB {mark(rss < TARGET_RSS_MB)} |")  # fmt: skip
    for item in result.get("restarts", []):
        within = item["latency_s"] < item["backoff_s"] + TARGET_RESTART_OVERHEAD_S
        print(
            f"| restart {item['restart']}: exit to start | {item['latency_s'] * 1000:.0f} ms "
            f"(back-off {item['backoff_s']:g} s, overhead {item['overhead_s'] * 1000:.0f} ms) | "
            f"< back-off + 200 ms {mark(within)} |"
        )
    if "error" in result:
        print(f"| error | {result['error']} | |")


if __name__ == "__main__":
    sys.exit(main())
