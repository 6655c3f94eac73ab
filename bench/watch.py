"""Benchmark watched sources: from a saved change to a Pod file to the new pod Running, and
the supervisor's cost while it watches 50 files that do not change.

1. A directory of 50 manifest files (one Pod, 49 ConfigMaps) is watched (`kubeplay watch`,
   default interval 20 s, default debounce 150 ms). `--changes` times (default 20) the Pod
   file is saved the way editors do (a temp file renamed over it) with a new env value, which
   replaces the pod; the time from the rename to the new pod's container started (the
   store's `started_at`, read from state.db) is one sample. Targets: p50 <= 0.5 s,
   p95 <= 1 s.
2. Then nothing changes for `--window` s (default 30, so it holds a relist or more): the
   supervisor's CPU (utime+stime from /proc/<pid>/stat) as % of one core. Target: < 0.5 %.

kubeplay runs with its own roots under /tmp (bridge watchb0, subnet 10.246.200.0/24); all of it
is removed at the end (`unwatch --prune`, `system reset`), also on failure. Root only. Output:
a markdown table on stdout, JSON in bench/results/watch-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGE = "localhost/kubeplay/busybox:latest"
ROOTFS = REPO / ".cache" / "busybox-rootfs.tar"
SLEEPER = "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"
TARGET_P50 = 0.5
TARGET_P95 = 1.0
TARGET_CPU_PERCENT = 0.5


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Kubeplay:
    def __init__(self, base: Path) -> None:
        self.root = base / "root"
        self.runroot = Path(tempfile.mkdtemp(prefix="kpwb"))
        self.env = {
            **os.environ,
            "KUBEPLAY_CONFIG": "/nonexistent/kubeplay.toml",
            "KUBEPLAY_ROOT": str(self.root),
            "KUBEPLAY_RUNROOT": str(self.runroot),
            "KUBEPLAY_BRIDGE": "watchb0",
            "KUBEPLAY_SUBNET": "10.246.200.0/24",
            "KUBEPLAY_DNS_UPSTREAM": "none",
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
            return int((self.runroot / "supervisor.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def started(self, name: str) -> tuple[str, float] | None:
        """(uid, started_at) of pod `name`'s container once it runs."""
        db = sqlite3.connect(f"file:{self.root / 'state.db'}?mode=ro", uri=True, timeout=30)
        try:
            row = db.execute(
                "SELECT p.uid, c.started_at FROM pods p JOIN containers c ON c.pod_uid = p.uid "
                "WHERE p.name = ? AND p.lifecycle = 'active' AND c.started_at IS NOT NULL "
                "AND c.pid IS NOT NULL",
                (name,),
            ).fetchone()
        finally:
            db.close()
        return (str(row[0]), float(row[1])) if row else None


def pod(env: str) -> str:
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    env:
    - name: ROUND
      value: "{env}"
"""


def configmap(i: int) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-{i}\ndata:\n  n: '{i}'\n"


def wait_new(kp: Kubeplay, old_uid: str, timeout: float = 60) -> tuple[str, float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = kp.started("web")
        if got is not None and got[0] != old_uid:
            return got
        time.sleep(0.005)
    raise RuntimeError("timed out waiting for the new pod")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--window", type=float, default=30.0)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/watch.py must run as root", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="kubeplay-watch-bench-"))
    kp = Kubeplay(base)
    manifests = base / "manifests"
    manifests.mkdir()
    record: dict[str, object] = {"files": args.files, "changes": args.changes}
    try:
        kp("image", "import", str(ROOTFS), IMAGE, "--change", 'CMD ["/bin/sh"]')
        (manifests / "pod.yaml").write_text(pod("0"))
        for i in range(1, args.files):
            (manifests / f"cfg-{i:02d}.yaml").write_text(configmap(i))
        kp("watch", str(manifests), "--name", "bench")
        uid, _ = wait_new(kp, "")
        log(f"watching {args.files} files, pod web running")
        samples: list[float] = []
        for round_ in range(1, args.changes + 1):
            tmp = manifests / ".pod.yaml.tmp"
            tmp.write_text(pod(str(round_)))
            saved = time.time()
            os.rename(tmp, manifests / "pod.yaml")
            uid, started = wait_new(kp, uid)
            samples.append(started - saved)
            log(f"change {round_}: {samples[-1]:.3f} s")
        record["latencies"] = samples
        pid = kp.supervisor_pid()
        if pid is None:
            raise RuntimeError("no supervisor")
        time.sleep(3.0)  # the last change's settle and events
        before, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(args.window)
        used, elapsed = cpu_seconds(pid) - before, time.monotonic() - t0
        cpu = 100.0 * used / elapsed
        record["idle_cpu_percent"] = cpu
        p50, p95 = statistics.median(samples), percentile(samples, 95)
        rows = [
            (
                "save -> new pod Running, p50",
                f"{p50:.3f} s",
                f"<= {TARGET_P50} s",
                p50 <= TARGET_P50,
            ),
            (
                "save -> new pod Running, p95",
                f"{p95:.3f} s",
                f"<= {TARGET_P95} s",
                p95 <= TARGET_P95,
            ),
            (
                f"supervisor CPU, {args.files} files, no change, {args.window:.0f} s",
                f"{cpu:.2f} %",
                f"< {TARGET_CPU_PERCENT} %",
                cpu < TARGET_CPU_PERCENT,
            ),
        ]
        print("| what | measured | target | met |\n|---|---|---|---|")
        for what, value, target, met in rows:
            print(f"| {what} | {value} | {target} | {'yes' if met else 'no'} |")
        results = REPO / "bench" / "results"
        results.mkdir(exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        (results / f"watch-{stamp}.json").write_text(json.dumps(record, indent=2))
        return 0
    finally:
        kp("unwatch", "bench", "--prune", check=False)
        kp("system", "reset", "--force", check=False)
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(kp.runroot, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
