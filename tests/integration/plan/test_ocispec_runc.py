"""The specs plan.ocispec builds, run for real by runc (root only).

An infra container (catatonit from the host, bind-mounted into an empty rootfs) is started
detached; an app container with a busybox rootfs joins its network, UTS, IPC and PID
namespaces, runs `id` under the containers-common seccomp profile, and exits (`runc run`
removes it). Everything (runc state, cgroups) lives under names unique to the test and is
removed afterwards.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeplay.plan import ocispec, seccomp, users
from kubeplay.plan.pods import ContainerKind, ContainerPlan, PodPlan

pytestmark = pytest.mark.root

RUNC = shutil.which("runc") or "/usr/sbin/runc"
CATATONIT = shutil.which("catatonit") or "/usr/bin/catatonit"
SECCOMP_JSON = Path("/usr/share/containers/seccomp.json")
CGROUP_PARENT = f"kubeplay-test-plan-{uuid.uuid4().hex[:8]}"
PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
GROUP = "root:x:0:\nwheel:x:10:root,app\napp:x:1000:\n"


def _runc(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNC, "--root", str(root), *args], capture_output=True, text=True, check=check, timeout=60
    )


def _write_bundle(bundle: Path, spec: dict[str, object]) -> None:
    (bundle / "config.json").write_text(json.dumps(spec, indent=2))


def _busybox_rootfs(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    for applet in ("sh", "id", "hostname", "cat", "echo"):
        (root / "bin" / applet).symlink_to("busybox")
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    return root


def _remove_cgroups() -> None:
    for controller in Path("/sys/fs/cgroup").iterdir():
        parent = controller / CGROUP_PARENT
        if parent.is_dir():
            for child in sorted(parent.rglob("*"), reverse=True):
                if child.is_dir():
                    child.rmdir()
            parent.rmdir()


@pytest.fixture
def state_root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "runc"
    root.mkdir()
    yield root
    for entry in json.loads(_runc(root, "list", "--format", "json").stdout or "[]") or []:
        _runc(root, "delete", "--force", entry["id"], check=False)
    _remove_cgroups()


@pytest.mark.parametrize(
    ("run_as_user", "expected_id"),
    [
        pytest.param(None, "uid=0(root) gid=0(root) groups=0(root),10(wheel)", id="root"),
        pytest.param(1000, "uid=1000(app) gid=1000(app) groups=10(wheel),1000(app)", id="non-root"),
    ],
)
def test_runc_runs_infra_and_container(
    tmp_path: Path, state_root: Path, run_as_user: int | None, expected_id: str
) -> None:
    if not (Path(RUNC).exists() and Path(CATATONIT).exists() and SECCOMP_JSON.exists()):
        pytest.fail("this host lacks runc, catatonit or containers-common's seccomp.json")
    suffix = uuid.uuid4().hex[:8]
    ctr = ContainerPlan(
        name="app",
        kind=ContainerKind.APP,
        image="busybox",
        image_ref="docker.io/library/busybox:latest",
        image_id="sha256:0",
        pull_policy="Never",
        argv=("sh", "-c", "id; hostname; echo ok > /dev/null; cat /etc/hosts; exit 0"),
        env=(("PATH", "/bin"),),
        working_dir="/",
        user="",
        run_as_user=run_as_user,
    )
    pod = PodPlan(
        uid=suffix, namespace="default", name="web", hostname="web-host", containers=(ctr,)
    )

    infra_bundle = tmp_path / "infra"
    (infra_bundle / "rootfs").mkdir(parents=True)
    infra_id = f"kp-infra-{suffix}"
    _write_bundle(
        infra_bundle,
        ocispec.build_infra_spec(
            pod,
            rootfs=infra_bundle / "rootfs",
            catatonit=CATATONIT,
            netns=None,
            cgroups_path=f"/{CGROUP_PARENT}/{infra_id}",
        ),
    )
    with open(tmp_path / "infra.log", "w") as log:
        started = subprocess.run(
            [RUNC, "--root", str(state_root), "run", "-d", "--bundle", str(infra_bundle), infra_id],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            timeout=60,
        )
    assert started.returncode == 0, (tmp_path / "infra.log").read_text()
    infra_pid = json.loads(_runc(state_root, "state", infra_id).stdout)["pid"]

    bundle = tmp_path / "app"
    rootfs = _busybox_rootfs(bundle / "rootfs")
    hosts = tmp_path / "etc-hosts"
    hosts.write_text("127.0.0.1 localhost\n10.88.0.5 web-host\n")
    user = users.resolve_user(
        ctr.user, run_as_user=ctr.run_as_user, run_as_group=None, passwd=PASSWD, group=GROUP
    )
    profile = json.loads(SECCOMP_JSON.read_text())
    ctr_id = f"kp-app-{suffix}"
    _write_bundle(
        bundle,
        ocispec.build_container_spec(
            pod,
            ctr,
            rootfs=rootfs,
            user=user,
            namespaces={
                kind: f"/proc/{infra_pid}/ns/{name}"
                for kind, name in (
                    ("network", "net"),
                    ("uts", "uts"),
                    ("ipc", "ipc"),
                    ("pid", "pid"),
                )
            },
            cgroups_path=f"/{CGROUP_PARENT}/{ctr_id}",
            host_files={"/etc/hosts": str(hosts)},
            seccomp=seccomp.convert_profile(profile, capabilities=ocispec.DEFAULT_CAPABILITIES),
        ),
    )
    result = _runc(state_root, "run", "--bundle", str(bundle), ctr_id, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        expected_id,
        "web-host",
        "127.0.0.1 localhost",
        "10.88.0.5 web-host",
    ]
    _runc(state_root, "kill", infra_id, "KILL")
    _runc(state_root, "delete", "--force", infra_id)
