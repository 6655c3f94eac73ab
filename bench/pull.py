"""Benchmark `kubeplay image pull` against `podman pull` from the same loopback registry.

What is measured, in one run, as root:

- a generated image of ~200 MB in many small files (4 gzip layers of ~50 MB; files of
  2-32 kB of word-like text, so they compress as real files do) is pushed with skopeo to a
  docker-registry (distribution 2.8) started on a free 127.0.0.1 port with its own storage;
- `kubeplay image pull` and `podman pull` of it, timed from spawn to exit, RUNS times each,
  alternating, each into an emptied store of its own (kubeplay: a private KUBEPLAY_ROOT;
  podman: private `--root`/`--runroot`, overlay driver, so the host's podman is untouched);
  the ratio of the medians is the figure (target: kubeplay <= 1.0x podman);
- then a second image sharing all but its top layer: each tool pulls it after the first, and
  the bytes each fetched are shown (kubeplay from its progress lines; the registry's own
  access log counts blob GETs for both).

The registry is plain HTTP: both tools get `--tls-verify=false`, and podman also a private
registries.conf (via CONTAINERS_REGISTRIES_CONF) marking it insecure. Nothing of the host's
configuration changes. Everything the run made (registry process, temp dirs) goes at the end,
also on failure. Output: a markdown table on stdout, JSON in bench/results/pull-<time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAYERS = 4
LAYER_BYTES = 50_000_000
RUNS = 3
TARGET_RATIO = 1.0
WORDS = [
    "".join(random.Random(i).choice("abcdefghijklmnopqrstuvwxyz") for _ in range(2 + i % 9))
    for i in range(4096)
]


def log(msg: str) -> None:
    print(f"[pull-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def make_layer(seed: int, size: int) -> bytes:
    """A tar of text files of 2-32 kB in nested dirs, about `size` bytes of content."""
    rng = random.Random(seed)
    buf = io.BytesIO()
    total = 0
    number = 0
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        while total < size:
            d = f"usr/share/bench{seed}/d{number // 100:04d}"
            if d not in dirs:
                for i in range(1, len(d.split("/")) + 1):
                    sub = "/".join(d.split("/")[:i])
                    if sub not in dirs:
                        info = tarfile.TarInfo(sub)
                        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1700000000
                        tar.addfile(info)
                        dirs.add(sub)
            want = rng.randint(2000, 32000)
            words: list[str] = []
            length = 0
            while length < want:
                word = WORDS[rng.randrange(len(WORDS))]
                words.append(word)
                length += len(word) + 1
            data = " ".join(words).encode()[:want]
            info = tarfile.TarInfo(f"{d}/f{number:06d}.txt")
            info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(data))
            total += len(data)
            number += 1
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_layout(layout: Path, layers: list[tuple[bytes, bytes]], tag: str) -> None:
    """An OCI layout with one image; layers as (uncompressed, gzip) pairs."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def put(data: bytes) -> str:
        digest = sha256(data)
        (blobs / digest[7:]).write_bytes(data)
        return digest

    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [sha256(raw) for raw, _ in layers]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": put(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": put(gz),
                    "size": len(gz),
                }
                for _, gz in layers
            ],
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": put(manifest),
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_registry(base: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    (base / "config.yml").write_text(
        "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n"
        f"storage:\n  filesystem:\n    rootdirectory: {base / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    with (base / "registry.log").open("ab") as out:
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(base / "config.yml")],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 15
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2)
            return proc, f"127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("docker-registry did not start") from None
            time.sleep(0.1)


def blob_gets(base: Path) -> int:
    text = (base / "registry.log").read_text(errors="replace")
    return len(re.findall(r'"GET /v2/[^"]*/blobs/sha256:', text))


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} -> {proc.returncode}: {proc.stderr[-2000:]}")
    return elapsed, proc.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--layer-mb", type=int, default=LAYER_BYTES // 1_000_000)
    parser.add_argument("--results-dir", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/pull.py must run as root", file=sys.stderr)
        return 1
    for tool in ("docker-registry", "skopeo", "podman"):
        if shutil.which(tool) is None:
            print(f"missing {tool} (apt-get install {tool})", file=sys.stderr)
            return 1
    work = Path(tempfile.mkdtemp(prefix="kubeplay-pull-bench-"))
    registry: subprocess.Popen[bytes] | None = None
    try:
        (work / "registry").mkdir()
        registry, host = start_registry(work / "registry")
        log(f"registry at {host}; generating {LAYERS} layers of {args.layer_mb} MB")
        layers = []
        for seed in range(LAYERS + 1):
            raw = make_layer(seed, args.layer_mb * 1_000_000)
            layers.append((raw, gzip.compress(raw, compresslevel=6, mtime=0)))
        image_a, image_b = f"{host}/bench:a", f"{host}/bench:b"
        for tag, chosen in (("a", layers[:LAYERS]), ("b", [*layers[: LAYERS - 1], layers[-1]])):
            write_layout(work / f"layout-{tag}", chosen, tag)
            subprocess.run(
                [
                    "skopeo",
                    "copy",
                    "--quiet",
                    "--dest-tls-verify=false",
                    f"oci:{work / f'layout-{tag}'}:{tag}",
                    f"docker://{host}/bench:{tag}",
                ],
                check=True,
            )
        uncompressed = sum(len(raw) for raw, _ in layers[:LAYERS])
        compressed = sum(len(gz) for _, gz in layers[:LAYERS])
        log(f"pushed: {uncompressed / 1e6:.0f} MB in files, {compressed / 1e6:.0f} MB gzip")
        conf = work / "registries.conf"
        conf.write_text(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n')
        kp_env = {
            **os.environ,
            "KUBEPLAY_ROOT": str(work / "kp-root"),
            "KUBEPLAY_RUNROOT": str(work / "kp-run"),
            "KUBEPLAY_CONFIG": "/nonexistent/kubeplay.toml",
            "CONTAINERS_REGISTRIES_CONF": str(conf),
            "PYTHONPATH": str(REPO),
        }
        pm_env = {**os.environ, "CONTAINERS_REGISTRIES_CONF": str(conf)}
        podman = ["podman", "--root", str(work / "pm-root"), "--runroot", str(work / "pm-run")]
        podman += ["--storage-driver", "overlay"]
        kubeplay = [sys.executable, "-m", "kubeplay"]

        def clean() -> None:
            subprocess.run([*podman, "rmi", "-a", "-f"], capture_output=True, check=False)
            for sub in ("kp-root", "kp-run", "pm-root", "pm-run"):
                shutil.rmtree(work / sub, ignore_errors=True)

        kp_times: list[float] = []
        pm_times: list[float] = []
        for run in range(args.runs):
            clean()
            t, _ = timed([*podman, "pull", "-q", "--tls-verify=false", image_a], pm_env)
            pm_times.append(t)
            t, _ = timed([*kubeplay, "image", "pull", "--tls-verify=false", image_a], kp_env)
            kp_times.append(t)
            log(f"run {run + 1}: podman {pm_times[-1]:.2f} s, kubeplay {kp_times[-1]:.2f} s")
        # The second image, after the first (both stores still hold image a).
        before = blob_gets(work / "registry")
        pm_b, _ = timed([*podman, "pull", "-q", "--tls-verify=false", image_b], pm_env)
        pm_gets = blob_gets(work / "registry") - before
        before = blob_gets(work / "registry")
        kp_b, kp_err = timed([*kubeplay, "image", "pull", "--tls-verify=false", image_b], kp_env)
        kp_gets = blob_gets(work / "registry") - before
        fetched = re.search(r"Pulled .*\(([^)]*) fetched\)", kp_err)
        clean()
        ratio = statistics.median(kp_times) / statistics.median(pm_times)
        top_mb = len(layers[-1][1]) / 1e6
        rows = [
            (
                "pull, 4 layers, empty store (median s)",
                statistics.median(pm_times),
                statistics.median(kp_times),
            ),
            ("pull of a 2nd image sharing 3 of 4 layers (s)", pm_b, kp_b),
        ]
        print(
            f"Image: {uncompressed / 1e6:.0f} MB of files in {LAYERS} layers "
            f"({compressed / 1e6:.0f} MB gzip); runs: {args.runs}\n"
        )
        print("| what | podman | kubeplay | kubeplay/podman |\n|---|---|---|---|")
        for what, p, k in rows:
            print(f"| {what} | {p:.2f} | {k:.2f} | {k / p:.2f}x |")
        print(
            f"\nSecond image: registry blob GETs podman {pm_gets}, kubeplay {kp_gets} "
            f"(its top layer is {top_mb:.1f} MB gzip; kubeplay fetched "
            f"{fetched.group(1) if fetched else '?'})."
        )
        verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
        print(f"Target kubeplay <= {TARGET_RATIO}x podman: {verdict} ({ratio:.2f}x)")
        args.results_dir.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        (args.results_dir / f"pull-{stamp}.json").write_text(
            json.dumps(
                {
                    "uncompressed_bytes": uncompressed,
                    "compressed_bytes": compressed,
                    "podman_s": pm_times,
                    "kubeplay_s": kp_times,
                    "ratio": ratio,
                    "second_image": {
                        "podman_s": pm_b,
                        "kubeplay_s": kp_b,
                        "podman_blob_gets": pm_gets,
                        "kubeplay_blob_gets": kp_gets,
                        "top_layer_gzip_bytes": len(layers[-1][1]),
                    },
                },
                indent=2,
            )
        )
        return 0 if ratio <= TARGET_RATIO else 1
    finally:
        if registry is not None and registry.poll() is None:
            registry.terminate()
            registry.wait(10)
        subprocess.run(
            [
                "podman",
                "--root",
                str(work / "pm-root"),
                "--runroot",
                str(work / "pm-run"),
                "rmi",
                "-a",
                "-f",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
