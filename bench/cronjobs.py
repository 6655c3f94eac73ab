"""Benchmark an idle supervisor that keeps CronJobs (and Deployments): its CPU while it only
waits for timers.

`--count` CronJobs (default 10) whose schedule is far away (`0 0 1 1 *`) are played, and
`--deployments` one-replica Deployments (default 0; issue #12 asks 10 + 10) of a shell that
sleeps; the supervisor stays up for them (a CronJob always needs it) and should wake only for
its resyncs and the next schedule time. After a settle, its CPU (utime+stime from
/proc/<pid>/stat over a window, default 30 s, as % of one core) and VmRSS are read. Target:
under 0.5 % of one core (issue #12). With Deployments their pods run on the bench's bridge.

kubeplay runs with its own roots under /tmp (bridge kpcjb0, subnet 10.249.0.0/24, or
KUBEPLAY_BENCH_BRIDGE / KUBEPLAY_BENCH_SUBNET);
everything is removed at the end (`kubeplay system reset`), also on failure. Root only; it
takes /run/kubeplay-bench.lock (bench/run.py's), so that no other bench runs meanwhile.
Output: a markdown table on stdout, JSON in bench/results/cronjobs-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import BenchError, take_bench_lock  # bench/run.py: the lock all benches share

REPO = Path(__file__).resolve().parent.parent
TARGET_CPU_PERCENT = 0.5
IMAGE = "localhost/kubeplay-bench-idle:latest"
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description="Idle supervisor CPU with CronJobs.")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--deployments", type=int, default=0)
    args = parser.parse_args()
    try:
        take_bench_lock()  # held until this process exits, clean-up included
    except (BenchError, PermissionError) as err:
        raise SystemExit(f"bench/cronjobs.py: {err}") from None
    base = Path(tempfile.mkdtemp(prefix="kpcj"))
    runroot = Path(tempfile.mkdtemp(prefix="kpcjr"))
    env = {
        **os.environ,
        "KUBEPLAY_CONFIG": "/nonexistent/kubeplay.toml",
        "KUBEPLAY_ROOT": str(base / "root"),
        "KUBEPLAY_RUNROOT": str(runroot),
        "KUBEPLAY_BRIDGE": os.environ.get("KUBEPLAY_BENCH_BRIDGE", "kpcjb0"),
        "KUBEPLAY_SUBNET": os.environ.get("KUBEPLAY_BENCH_SUBNET", "10.249.0.0/24"),
        "KUBEPLAY_DNS_UPSTREAM": "none",
    }

    def kubeplay(*argv: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "kubeplay", *argv],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"kubeplay {' '.join(argv)}: {proc.stderr.strip()}")
        return proc.stdout

    docs = [
        f"""apiVersion: batch/v1
kind: CronJob
metadata: {{name: idle-{i}}}
spec:
  schedule: "0 0 1 1 *"
  timeZone: Etc/UTC
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{{name: c, image: busybox, command: [sh, -c, "true"]}}]
"""
        for i in range(args.count)
    ]
    docs += [
        f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: idle-{i}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: idle-{i}}}}}
  template:
    metadata: {{labels: {{app: idle-{i}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{{name: c, image: {IMAGE}, command: [sh, -c, "sleep 3600"]}}]
"""
        for i in range(args.deployments)
    ]
    manifest = base / "cronjobs.yaml"
    manifest.write_text("---\n".join(docs))
    try:
        if args.deployments:
            tar = base / "rootfs.tar"
            subprocess.run([str(REPO / "scripts" / "busybox-rootfs.sh"), str(tar)], check=True)
            kubeplay("image", "import", str(tar), IMAGE, "--change", 'CMD ["/bin/sh"]')
        kubeplay("play", str(manifest))
        pid_file = runroot / "supervisor.pid"
        deadline = time.monotonic() + 30
        while not pid_file.exists():
            if time.monotonic() > deadline:
                raise SystemExit("no supervisor started")
            time.sleep(0.1)
        pid = int(pid_file.read_text())
        time.sleep(args.settle)
        before, start = _cpu_seconds(pid), time.monotonic()
        time.sleep(args.window)
        used, took = _cpu_seconds(pid) - before, time.monotonic() - start
        percent = 100.0 * used / took
        rss = _rss_mb(pid)
    finally:
        subprocess.run(
            [sys.executable, "-m", "kubeplay", "system", "reset", "--force"],
            cwd=REPO,
            env=env,
            capture_output=True,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(runroot, ignore_errors=True)
    ok = percent < TARGET_CPU_PERCENT
    print("| measure | value | target |")
    print("|---|---|---|")
    print(
        f"| idle supervisor, {args.count} CronJobs, {args.deployments} Deployments, "
        f"CPU over {args.window:.0f} s | "
        f"{percent:.3f} % of a core | < {TARGET_CPU_PERCENT} % {'ok' if ok else 'MISSED'} |"
    )
    print(f"| its resident memory | {rss:.1f} MB | |")
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    (results / f"cronjobs-{stamp}.json").write_text(
        json.dumps(
            {
                "count": args.count,
                "deployments": args.deployments,
                "cpu_percent": percent,
                "rss_mb": rss,
            },
            indent=2,
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
