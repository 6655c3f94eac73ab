"""`kubeplay check` end to end: the image rule against a real image store and a real registry
on loopback, `--running` through `generate kube` on real pods, exit codes, and that check
writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import IMAGE, REPO, SLEEPER, Kubeplay
from e2e.registry import Registry, push_image

pytestmark = pytest.mark.root


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    reg = Registry.start(tmp_path / "registry")
    try:
        yield reg
    finally:
        reg.stop()


def pod(name: str, image: str, *, namespace: str = "default") -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
        f"spec:\n  containers:\n  - name: main\n    image: {image}\n"
        f'    command: ["sh", "-c", "{SLEEPER}"]\n'
    )


def findings(stdout: str, rule: str) -> list[dict[str, Any]]:
    doc = json.loads(stdout)
    return [f for f in doc["findings"] if f["rule"] == rule]


def test_an_imported_image_is_flagged_and_a_registry_image_is_not(
    kp: Kubeplay, registry: Registry, tmp_path: Path
) -> None:
    kp.env["REGISTRY_AUTH_FILE"] = str(tmp_path / "auth.json")
    push_image(registry, tmp_path, "team/app:1", rootfs_tar=kp.rootfs)
    pulled = f"{registry.host}/team/app:1"
    kp.ok("image", "pull", "--tls-verify=false", pulled)
    # imported under a registry's name: still only in kubeplay's store
    lookalike = f"{registry.host}/team/tool:1"
    kp.ok("image", "import", str(kp.rootfs), lookalike)
    app = kp.write(
        "app.yaml",
        "---\n".join([pod("imported", IMAGE), pod("pulled", pulled), pod("lookalike", lookalike)]),
    )

    res = kp("check", "-o", "json", "--no-resource-checks", str(app))
    assert res.returncode == 1, res
    local = findings(res.stdout, "image-local-only")
    assert [(f["name"], f["level"], f["path"]) for f in local] == [
        ("imported", "error", "spec.containers[0].image"),
        ("lookalike", "error", "spec.containers[0].image"),
    ]
    assert f"kubeplay image save -o image.tar {lookalike}" in local[1]["message"]

    text = kp("check", "--no-resource-checks", str(app)).stdout
    assert (
        f"{app}:9: document 1 (Pod default/imported): spec.containers[0].image: error "
        "[image-local-only]: image localhost/kubeplay/busybox:latest has a localhost/ name" in text
    )


def test_check_running_checks_what_runs(kp: Kubeplay) -> None:
    kp.play(kp.write("run.yaml", pod("tuned", IMAGE)))
    res = kp("check", "--running", "-o", "json")
    assert res.returncode == 1, res
    doc = json.loads(res.stdout)
    assert doc["summary"]["objects"] == 1
    (local,) = findings(res.stdout, "image-local-only")
    assert (local["file"], local["kind"], local["name"]) == ("<running>", "Pod", "tuned")

    named = kp("check", "--running", "pod/tuned", "--no-resource-checks", "--fail-on", "error")
    assert named.returncode == 1, named
    assert "<running>:" in named.stdout and "[image-local-only]" in named.stdout
    missing = kp("check", "--running", "pod/nope")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr, missing


def test_exit_codes_and_check_writes_nothing(kp: Kubeplay, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh-root"
    env = {**kp.env, "KUBEPLAY_ROOT": str(fresh), "KUBEPLAY_RUNROOT": str(tmp_path / "fresh-run")}

    def check(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kubeplay", "check", *args],
            cwd=REPO,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    only_warnings = kp.write("pinned.yaml", pod("pinned", "registry.example/app:latest"))
    res = check("--no-resource-checks", str(only_warnings))
    assert res.returncode == 0, res
    assert "warning [image-latest-tag]" in res.stdout
    assert check("--no-resource-checks", "--fail-on", "warning", str(only_warnings)).returncode == 1

    bad = kp.write("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n")
    res = check(str(bad))
    assert res.returncode == 2 and f"{bad}:" in res.stderr and "Traceback" not in res.stderr, res

    bomb = "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9) if p else 'lol'}]\n"
        for p, n in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
    )
    res = check("-", stdin=bomb + "apiVersion: v1\nkind: Pod\n")
    assert res.returncode == 2, res
    assert "too many aliased nodes" in res.stderr and "Traceback" not in res.stderr

    res = check("--kube-version", "1.99", str(only_warnings))
    assert res.returncode == 2 and "kubeplay has no schema for it (it has 1.25," in res.stderr

    res = check("--running")
    assert res.returncode == 0 and "in 0 objects" in res.stdout, res
    res = check("--running", "pod/web")
    assert res.returncode == 1 and "nothing was played on this host" in res.stderr, res

    assert not fresh.exists() and not (tmp_path / "fresh-run").exists()
