"""Secrets kept from other local users: with a pod that has a Secret in its env and in a
volume, a scan run as an unprivileged user (`nobody`, through setpriv) of every path under the
test's roots finds nothing it can read or write; and, path by path as root, what holds Secret
data is for root only (state.db, each config.json) or at its defaultMode on a 0755 tmpfs.

The test's roots live in a fresh directory that every user may enter, as /var/lib and /run
are: so only kubeplay's own modes can keep `nobody` out.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay

pytestmark = pytest.mark.root

# Run as nobody: one line per path it may read or write ("r PATH", "w PATH").
SCAN = r"""
while IFS= read -r p; do
  [ -r "$p" ] && echo "r $p"
  [ -w "$p" ] && echo "w $p"
done
exit 0
"""


def _open_roots(kp: Kubeplay) -> Path:
    """Move the test's roots into a 0755 directory under /tmp (the fixture's are beneath
    pytest's 0700 directory, which would keep `nobody` out whatever kubeplay does)."""
    base = Path(tempfile.mkdtemp(prefix="kpperm"))
    base.chmod(0o755)
    old_runroot = kp.runroot
    kp.root = base / "root"
    kp.runroot = base / "run"
    kp.env["KUBEPLAY_ROOT"] = str(kp.root)
    kp.env["KUBEPLAY_RUNROOT"] = str(kp.runroot)
    close = kp.close

    def close_all() -> None:
        close()
        if not kp.mounts():
            shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(old_runroot, ignore_errors=True)

    kp.close = close_all  # type: ignore[method-assign]
    kp.ok("image", "import", str(kp.rootfs), IMAGE, "--change", 'CMD ["/bin/sh"]')
    return base


def _paths(*roots: Path) -> list[Path]:
    """Every path under `roots` (themselves included), not following links or entering
    container root filesystems (image content, not kubeplay's)."""
    found: list[Path] = []
    for root in roots:
        found.append(root)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d != "rootfs"]
            for name in dirnames + filenames:
                path = Path(dirpath) / name
                if not path.is_symlink():
                    found.append(path)
    return found


def _holders(paths: list[Path], value: bytes) -> list[Path]:
    """The files that hold `value`, as it is or base64-encoded (a Secret's `data`)."""
    forms = (value, base64.b64encode(value))
    out = []
    for path in paths:
        try:
            if path.is_file() and any(form in path.read_bytes() for form in forms):
                out.append(path)
        except OSError:
            continue
    return out


def test_nothing_of_kubeplay_is_readable_or_writable_by_another_user(kp: Kubeplay) -> None:
    base = _open_roots(kp)
    value = "s3cr3t-" + secrets.token_hex(8)
    path = kp.write(
        "secret.yaml",
        f"""
        apiVersion: v1
        kind: Secret
        metadata: {{name: creds}}
        stringData: {{password: {value}}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: holder}}
        spec:
          securityContext: {{runAsUser: 1000, fsGroup: 2000}}
          containers:
          - name: main
            image: {IMAGE}
            command: [sh, -c, "{SLEEPER}"]
            env:
            - name: PASSWORD
              valueFrom: {{secretKeyRef: {{name: creds, key: password}}}}
            volumeMounts: [{{name: creds, mountPath: /etc/creds}}]
          volumes:
          - name: creds
            secret: {{secretName: creds, defaultMode: 0440}}
        """,
    )
    kp.play(path)
    # The pod itself still gets its Secret, as its own non-root user.
    assert kp.exec("holder", "cat", "/etc/creds/password") == value
    assert kp.exec("holder", "sh", "-c", "echo $PASSWORD") == value + "\n"
    kp.ok("logs", "holder")  # a log file exists
    # What a container must write stays writable by its (non-root) user.
    kp.exec("holder", "sh", "-c", "echo bye > /dev/termination-log")

    paths = _paths(kp.root, kp.runroot)
    scan = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c", SCAN],
        input="".join(f"{p}\n" for p in paths),
        capture_output=True,
        text=True,
        check=True,
    )
    assert scan.stdout == "", "nobody may use:\n" + scan.stdout
    assert os.access(base, os.R_OK | os.X_OK)  # the scan did reach the roots' directory

    for root in (kp.root, kp.runroot):
        assert stat.S_IMODE(root.stat().st_mode) == 0o700, root
    db = kp.root / "state.db"
    for side in (db, db.with_name("state.db-wal"), db.with_name("state.db-shm")):
        if side.exists():
            assert stat.S_IMODE(side.stat().st_mode) == 0o600, side
    configs = [p for p in paths if p.name == "config.json" and "pods" in p.parts]
    assert len(configs) == 2  # the infra container's and main's
    for config in configs:
        assert stat.S_IMODE(config.stat().st_mode) == 0o600, config

    logs = [p for p in paths if p.suffix == ".log" and "logs" in p.parts]
    assert logs
    for log in logs:
        assert not log.stat().st_mode & 0o077, f"{log}: {oct(log.stat().st_mode)}"

    # The Secret volume: a tmpfs no container user can add to, its file at defaultMode,
    # group-owned by the fsGroup.
    volume = next(p for p in paths if p.name == "creds" and "volumes" in p.parts)
    assert volume.stat().st_mode & 0o777 == 0o755  # (setgid for the fsGroup, as the kubelet)
    secret_file = (volume / "password").resolve()
    info = secret_file.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o440, 2000)

    # Wherever the value is (the store, main's config.json, the volume), others may not read.
    holders = _holders(paths, value.encode())
    assert db in holders or db.with_name("state.db-wal") in holders, holders
    for holder in holders:
        assert not holder.stat().st_mode & 0o004, f"{holder} is readable by every user"
