"""Benchmark `kubeplay check` of a 50-document application.

    .venv/bin/python bench/check.py [--runs 7] [--kubeplay CMD]      (no root needed)

Target (issue 15): `kubeplay check` of a 50-document application at most 0.5 s wall on this
machine, most of it start-up. The application is 10 services of 5 documents each (Deployment,
Service, ConfigMap, Secret, PersistentVolumeClaim), with findings of most rule groups. Timed
from spawn to exit, `--runs` times after one uncounted warm-up; the start-up share is
`kubeplay version` timed the same way, and the in-process share (load, schema, rules) is
measured by calling the service directly. State goes to an empty temporary root (nothing is
written to it: check writes nothing), removed at the end. No network.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 0.5
SERVICES = 10  # x 5 documents


def manifest(services: int) -> str:
    docs = []
    for i in range(services):
        name = f"svc{i:02d}"
        docs += [
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{MODE: prod}}\n",
            f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\n"
            "stringData: {password: s3cret}\n",
            f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: {name}}}\n"
            "spec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
            f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      nodeSelector: {{pool: web}}
      containers:
      - name: app
        image: registry.example/shop/{name}:1.{i}
        envFrom: [{{configMapRef: {{name: {name}}}}}, {{secretRef: {{name: {name}}}}}]
        ports: [{{containerPort: 8080}}]
        resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}
        readinessProbe: {{httpGet: {{path: /, port: 8080}}}}
        volumeMounts: [{{name: data, mountPath: /data}}]
      volumes:
      - name: data
        persistentVolumeClaim: {{claimName: {name}}}
""",
            f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\n"
            f"spec: {{selector: {{app: {name}}}, ports: [{{port: 80, targetPort: 8080}}]}}\n",
        ]
    return "---\n".join(docs)


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    return time.perf_counter() - start, proc


def cpu_timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, user + system CPU) seconds of one run: CPU time does not grow when other
    processes load the machine, wall time does."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, _ = timed(argv, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--kubeplay", default=None, help="kubeplay command line")
    args = ap.parse_args(argv)
    venv = REPO / ".venv" / "bin" / "kubeplay"
    cli = (
        shlex.split(args.kubeplay)
        if args.kubeplay
        else ([str(venv)] if venv.exists() else [sys.executable, "-m", "kubeplay"])
    )
    tmp = Path(tempfile.mkdtemp(prefix="kubeplay-bench-check-"))
    try:
        app = tmp / "app.yaml"
        app.write_text(manifest(SERVICES))
        env = {
            **os.environ,
            "KUBEPLAY_CONFIG": "/nonexistent/kubeplay.toml",
            "KUBEPLAY_ROOT": str(tmp / "root"),
            "KUBEPLAY_RUNROOT": str(tmp / "run"),
        }
        check = [*cli, "check", str(app)]
        _, proc = timed(check, env)  # warm-up, not counted
        if proc.returncode not in (0, 1) or "in 50 objects" not in proc.stdout:
            print(f"check failed ({proc.returncode}): {proc.stderr}", file=sys.stderr)
            return 1
        summary = proc.stdout.strip().splitlines()[-1]
        runs = [cpu_timed(check, env) for _ in range(args.runs)]
        timed([*cli, "version"], env)
        starts = [cpu_timed([*cli, "version"], env) for _ in range(args.runs)]
        inproc = in_process(app, env)
        if (tmp / "root").exists() or (tmp / "run").exists():
            print("check wrote to its root or runroot", file=sys.stderr)
            return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    wall, cpu = (statistics.median(r[i] for r in runs) for i in (0, 1))
    start_wall, start_cpu = (statistics.median(r[i] for r in starts) for i in (0, 1))
    print(f"| kubeplay check, 50-document application (median of {args.runs}) | wall s | cpu s |")
    print("|---|---:|---:|")
    print(f"| check, spawn to exit | {wall:.3f} | {cpu:.3f} |")
    print(f"| start-up (`kubeplay version`) | {start_wall:.3f} | {start_cpu:.3f} |")
    print(f"| in process: load + schema + rules (warm imports) | {inproc:.3f} | |")
    print()
    print("| target | value | pass |\n|---|---:|---|")
    print(f"| check <= {TARGET_S} s wall | {wall:.3f} | {'yes' if wall <= TARGET_S else 'NO'} |")
    print(f"\n{summary}\nruns (wall): {[round(r[0], 3) for r in runs]}")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    return 0


def in_process(app: Path, env: dict[str, str]) -> float:
    """The service's own time once imports are warm (median of 3), in this process."""
    sys.path.insert(0, str(REPO))
    from kubeplay import settings as settings_mod
    from kubeplay.services import check as check_mod

    settings = settings_mod.load(env)
    check_mod.check(settings, [str(app)])  # warm the imports and the schema cache
    times = []
    for _ in range(3):
        start = time.perf_counter()
        check_mod.check(settings, [str(app)])
        times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    sys.exit(main())
