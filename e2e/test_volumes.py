"""Volumes end to end, checked from inside the containers: emptyDir shared by a pod's
containers, medium Memory as a sized tmpfs, hostPath types, persistentVolumeClaim named volumes
across down/play, downwardAPI and projected files, readOnly, subPath, subPathExpr, fsGroup."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay

pytestmark = pytest.mark.root


def _mount_line(kp: Kubeplay, pod: str, path: str, container: str | None = None) -> list[str]:
    """The /proc/mounts fields of `path` inside the container."""
    mounts = kp.exec(pod, "cat", "/proc/mounts", container=container)
    lines = [ln.split() for ln in mounts.splitlines() if ln.split()[1] == path]
    assert lines, f"{path} is not a mount point in {pod}:\n{mounts}"
    return lines[-1]


def test_empty_dir_is_shared_by_the_containers_and_removed_with_the_pod(kp: Kubeplay) -> None:
    path = kp.write(
        "shared.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: shared
        spec:
          volumes:
          - name: scratch
            emptyDir: {{}}
          - name: mem
            emptyDir:
              medium: Memory
              sizeLimit: 8Mi
          containers:
          - name: writer
            image: {IMAGE}
            command: ["sh", "-c", "echo from-writer > /data/note; {SLEEPER}"]
            volumeMounts:
            - name: scratch
              mountPath: /data
            - name: mem
              mountPath: /mem
          - name: reader
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            volumeMounts:
            - name: scratch
              mountPath: /in
              readOnly: true
            - name: mem
              mountPath: /mem
        """,
    )
    kp.play(path)
    got = kp.wait_for(
        "the writer's file in the reader",
        lambda: kp("exec", "shared", "-c", "reader", "--", "cat", "/in/note").stdout,
    )
    assert got == "from-writer\n"
    assert kp.exec("shared", "stat", "-c", "%a", "/data", container="writer") == "777\n"
    # readOnly: the reader's mount is ro and a write fails
    assert "ro" in _mount_line(kp, "shared", "/in", "reader")[3].split(",")
    res = kp("exec", "shared", "-c", "reader", "--", "sh", "-c", "echo x > /in/other")
    assert res.returncode != 0
    # medium Memory: a tmpfs of sizeLimit, shared too
    fields = _mount_line(kp, "shared", "/mem", "reader")
    assert fields[2] == "tmpfs"
    assert "size=8192k" in fields[3].split(","), fields
    kp.exec("shared", "sh", "-c", "echo in-memory > /mem/m", container="writer")
    assert kp.exec("shared", "cat", "/mem/m", container="reader") == "in-memory\n"
    uid = kp.pod("shared")["metadata"]["uid"]
    pod_dir = kp.root / "pods" / uid
    assert (pod_dir / "volumes" / "scratch" / "note").read_text() == "from-writer\n"
    kp.ok("down", str(path))
    assert not pod_dir.exists()
    assert kp.leaks() == []


def test_host_path_types_are_checked_and_created_as_the_kubelet_does(kp: Kubeplay) -> None:
    host = kp.tmp / "host"
    host.mkdir()
    (host / "file").write_text("host file\n")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(host / "sock"))
    try:
        path = kp.write(
            "hostpath.yaml",
            f"""
            apiVersion: v1
            kind: Pod
            metadata:
              name: hp
            spec:
              volumes:
              - {{name: dir, hostPath: {{path: {host}, type: Directory}}}}
              - {{name: file, hostPath: {{path: {host}/file, type: File}}}}
              - {{name: sock, hostPath: {{path: {host}/sock, type: Socket}}}}
              - {{name: devnull, hostPath: {{path: /dev/null, type: CharDevice}}}}
              - {{name: newdir, hostPath: {{path: {host}/made/sub, type: DirectoryOrCreate}}}}
              - {{name: newfile, hostPath: {{path: {host}/new.txt, type: FileOrCreate}}}}
              - {{name: untyped, hostPath: {{path: {host}/untyped}}}}
              containers:
              - name: main
                image: {IMAGE}
                command: ["sh", "-c", "{SLEEPER}"]
                volumeMounts:
                - {{name: dir, mountPath: /host}}
                - {{name: file, mountPath: /etc/host-file, readOnly: true}}
                - {{name: sock, mountPath: /run/host.sock}}
                - {{name: devnull, mountPath: /dev/host-null}}
                - {{name: newdir, mountPath: /newdir}}
                - {{name: newfile, mountPath: /newfile}}
                - {{name: untyped, mountPath: /untyped}}
            """,
        )
        kp.play(path)
        assert kp.exec("hp", "cat", "/etc/host-file") == "host file\n"
        assert kp.exec("hp", "stat", "-c", "%F", "/run/host.sock") == "socket\n"
        assert kp.exec("hp", "stat", "-c", "%F", "/dev/host-null") == "character special file\n"
        kp.exec("hp", "sh", "-c", "echo back > /host/from-container")
        assert (host / "from-container").read_text() == "back\n"
        # DirectoryOrCreate: 0755 directories; FileOrCreate: an empty 0644 file; unset type:
        # a missing path is made a directory (as containerd does)
        assert oct((host / "made" / "sub").stat().st_mode & 0o7777) == "0o755"
        assert (host / "new.txt").read_bytes() == b""
        assert oct((host / "new.txt").stat().st_mode & 0o7777) == "0o644"
        assert (host / "untyped").is_dir()
        assert kp.exec("hp", "stat", "-c", "%F", "/newfile") == "regular empty file\n"
        kp.ok("down", str(path))
        assert (host / "from-container").exists(), "hostPath content outlives the pod"
    finally:
        server.close()


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        pytest.param(
            "{path: HOST/missing, type: Directory}",
            "hostPath type check failed: HOST/missing is not a directory",
            id="hostpath-directory-missing",
        ),
        pytest.param(
            "{path: HOST/file, type: Directory}",
            "hostPath type check failed: HOST/file is not a directory",
            id="hostpath-directory-is-a-file",
        ),
        pytest.param(
            "{path: HOST, type: File}",
            "hostPath type check failed: HOST is not a file",
            id="hostpath-file-is-a-directory",
        ),
        pytest.param(
            "{path: HOST/nodir/f, type: FileOrCreate}",
            "hostPath type check failed: HOST/nodir/f is not a file",
            id="hostpath-file-or-create-without-parent",
        ),
        pytest.param(
            "{path: HOST/file, type: Socket}",
            "hostPath type check failed: HOST/file is not a socket file",
            id="hostpath-socket",
        ),
        pytest.param(
            "{path: HOST/file, type: CharDevice}",
            "hostPath type check failed: HOST/file is not a character device",
            id="hostpath-char-device",
        ),
        pytest.param(
            "{path: /dev/null, type: BlockDevice}",
            "hostPath type check failed: /dev/null is not a block device",
            id="hostpath-block-device",
        ),
    ],
)
def test_failed_host_path_check_fails_the_play_and_creates_nothing(
    kp: Kubeplay, volume: str, message: str
) -> None:
    host = kp.tmp / "host"
    host.mkdir()
    (host / "file").write_text("x")
    path = kp.write(
        "bad.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: good
        spec:
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: bad
        spec:
          volumes:
          - name: v
            hostPath: {volume.replace("HOST", str(host))}
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            volumeMounts:
            - {{name: v, mountPath: /v}}
        """,
    )
    res = kp("play", str(path))
    assert res.returncode == 1, res
    expected = message.replace("HOST", str(host))
    assert f"pod default/bad: volume v: MountVolume.SetUp failed: {expected}" in res.stderr
    assert "Traceback" not in res.stderr
    kp.assert_nothing_runs()
    assert sorted(p.name for p in host.iterdir()) == ["file"]


def test_persistent_volume_claim_survives_down_and_is_removed_by_down_volumes(
    kp: Kubeplay,
) -> None:
    path = kp.write(
        "pvc.yaml",
        f"""
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata:
          name: data
        spec:
          accessModes: [ReadWriteOnce]
          resources:
            requests:
              storage: 1Gi
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: db
        spec:
          volumes:
          - name: store
            persistentVolumeClaim:
              claimName: data
          - name: cache
            persistentVolumeClaim:
              claimName: undeclared
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            volumeMounts:
            - {{name: store, mountPath: /var/lib/db}}
            - {{name: cache, mountPath: /cache}}
        """,
    )
    out = kp.play(path)
    assert "volume/data created" in out
    assert "volume/undeclared created" in out
    kp.exec("db", "sh", "-c", "echo persisted > /var/lib/db/row")
    assert kp.ok("volume", "ls", "-q").split() == ["data", "undeclared"]
    info = json.loads(kp.ok("volume", "inspect", "data"))[0]
    assert info["UsedBy"] == ["default/db"]
    assert info["Claim"]["kind"] == "PersistentVolumeClaim"
    # in use: rm refuses
    res = kp("volume", "rm", "data")
    assert res.returncode == 1
    assert "volume data: in use by pod default/db" in res.stderr
    kp.ok("down", str(path))
    assert kp.ok("volume", "ls", "-q").split() == ["data", "undeclared"]
    kp.play(path)
    assert kp.exec("db", "cat", "/var/lib/db/row") == "persisted\n"
    out = kp.ok("down", "--volumes", str(path))
    assert "volume/data deleted" in out
    assert "volume/undeclared deleted" in out
    assert kp.ok("volume", "ls", "-q") == ""
    assert not (kp.root / "volumes" / "data").exists()


def test_volume_rm_force_removes_the_pods_using_it(kp: Kubeplay) -> None:
    path = kp.write(
        "pvc.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: user
        spec:
          volumes:
          - {{name: v, persistentVolumeClaim: {{claimName: shared}}}}
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            volumeMounts:
            - {{name: v, mountPath: /v}}
        """,
    )
    kp.play(path)
    assert kp.ok("volume", "rm", "--force", "shared") == "shared\n"
    assert kp.pod_names() == []
    assert kp.ok("volume", "ls", "-q") == ""
    res = kp("volume", "inspect", "shared")
    assert res.returncode == 1
    assert "volume shared: no such volume" in res.stderr


def test_sub_path_sub_path_expr_and_a_symlink_escape(kp: Kubeplay) -> None:
    path = kp.write(
        "subpath.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: sub
        spec:
          volumes:
          - {{name: work, emptyDir: {{}}}}
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            env:
            - {{name: POD_DIR, value: by-pod}}
            volumeMounts:
            - {{name: work, mountPath: /work}}
            - {{name: work, mountPath: /sub, subPath: a/b}}
            - {{name: work, mountPath: /expr, subPathExpr: "logs/$(POD_DIR)"}}
        """,
    )
    kp.play(path)
    kp.exec("sub", "sh", "-c", "echo in-sub > /sub/f; echo in-expr > /expr/g")
    assert kp.exec("sub", "cat", "/work/a/b/f") == "in-sub\n"
    assert kp.exec("sub", "cat", "/work/logs/by-pod/g") == "in-expr\n"
    # A container plants a symlink out of the volume; a pod mounting it as subPath is refused.
    kp.exec("sub", "ln", "-s", "/etc", "/work/escape")
    kp.exec("sub", "ln", "-s", "../../../../../../../etc", "/work/dotdot")
    uid = kp.pod("sub")["metadata"]["uid"]
    volume = kp.root / "pods" / uid / "volumes" / "work"
    for link in ("escape", "dotdot"):
        evil = kp.write(
            f"evil-{link}.yaml",
            f"""
            apiVersion: v1
            kind: Pod
            metadata:
              name: evil
            spec:
              volumes:
              - {{name: v, hostPath: {{path: {volume}, type: Directory}}}}
              containers:
              - name: main
                image: {IMAGE}
                command: ["sh", "-c", "{SLEEPER}"]
                volumeMounts:
                - {{name: v, mountPath: /stolen, subPath: {link}/shadow}}
            """,
        )
        res = kp("play", str(evil))
        assert res.returncode == 1, res
        assert "resolves outside of its volume" in res.stderr, res.stderr
        assert not Path("/etc/shadow-").is_dir()
    assert kp.pod_names() == ["pod/sub"]
    assert not any(m.endswith("/stolen") for m in kp.mounts())


def test_downward_api_and_projected_files(kp: Kubeplay) -> None:
    path = kp.write(
        "downward.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: facts
          labels: {{app: web, tier: front}}
          annotations: {{note: "say \\"hi\\""}}
        spec:
          volumes:
          - name: info
            downwardAPI:
              defaultMode: 0400
              items:
              - {{path: name, fieldRef: {{fieldPath: metadata.name}}}}
              - {{path: labels, fieldRef: {{fieldPath: metadata.labels}}}}
              - {{path: meta/annotations, fieldRef: {{fieldPath: metadata.annotations}}}}
              - path: mem
                mode: 0444
                resourceFieldRef: {{containerName: main, resource: limits.memory, divisor: 1Mi}}
          - name: all
            projected:
              sources:
              - downwardAPI:
                  items:
                  - {{path: ns, fieldRef: {{fieldPath: metadata.namespace}}}}
                  - {{path: app, fieldRef: {{fieldPath: "metadata.labels['app']"}}}}
              - serviceAccountToken: {{path: token}}
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            resources:
              limits: {{memory: 64Mi}}
            volumeMounts:
            - {{name: info, mountPath: /etc/podinfo}}
            - {{name: all, mountPath: /projected}}
        """,
    )
    out = kp("play", str(path))
    assert out.returncode == 0, out
    assert "projected.sources[1].serviceAccountToken: no service account tokens" in out.stderr
    assert kp.exec("facts", "cat", "/etc/podinfo/name") == "facts"
    assert kp.exec("facts", "cat", "/etc/podinfo/labels") == 'app="web"\ntier="front"'
    assert kp.exec("facts", "cat", "/etc/podinfo/meta/annotations") == 'note="say \\"hi\\""'
    assert kp.exec("facts", "cat", "/etc/podinfo/mem") == "64"
    assert kp.exec("facts", "stat", "-L", "-c", "%a", "/etc/podinfo/name") == "400\n"
    assert kp.exec("facts", "stat", "-L", "-c", "%a", "/etc/podinfo/mem") == "444\n"
    # the atomic writer's layout: ..data -> timestamped dir, visible names are symlinks
    assert kp.exec("facts", "readlink", "/etc/podinfo/name") == "..data/name\n"
    assert kp.exec("facts", "readlink", "/etc/podinfo/..data").startswith("..20")
    assert kp.exec("facts", "cat", "/projected/ns") == "default"
    assert kp.exec("facts", "cat", "/projected/app") == "web"
    assert kp("exec", "facts", "--", "test", "-e", "/projected/token").returncode == 1
    # downwardAPI and projected live on a tmpfs, mounted read-only
    for target in ("/etc/podinfo", "/projected"):
        fields = _mount_line(kp, "facts", target)
        assert fields[2] == "tmpfs", fields
        assert "ro" in fields[3].split(","), fields


def test_fs_group_owns_volumes_and_joins_the_supplementary_groups(kp: Kubeplay) -> None:
    path = kp.write(
        "fsgroup.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: grp
        spec:
          securityContext:
            runAsUser: 1000
            runAsGroup: 3000
            fsGroup: 2000
          volumes:
          - {{name: scratch, emptyDir: {{}}}}
          - {{name: claim, persistentVolumeClaim: {{claimName: grp-data}}}}
          - name: info
            downwardAPI:
              items:
              - {{path: name, fieldRef: {{fieldPath: metadata.name}}}}
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            volumeMounts:
            - {{name: scratch, mountPath: /scratch}}
            - {{name: claim, mountPath: /claim}}
            - {{name: info, mountPath: /info}}
        """,
    )
    kp.play(path)
    assert kp.exec("grp", "id", "-u") == "1000\n"
    assert kp.exec("grp", "id", "-G").split() == ["3000", "2000"]
    for target in ("/scratch", "/claim"):
        assert kp.exec("grp", "stat", "-c", "%g %A", target) == "2000 drwxrwsrwx\n", target
        kp.exec("grp", "sh", "-c", f"echo mine > {target}/f")
        assert kp.exec("grp", "stat", "-c", "%u %g", f"{target}/f") == "1000 2000\n"
    assert kp.exec("grp", "stat", "-L", "-c", "%g %a", "/info/name") == "2000 644\n"
    kp.ok("down", "--volumes", str(path))


CONFIG = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  app.conf: "color=VALUE\\n"
  other: "unused\\n"
binaryData:
  blob: AAEC
---
apiVersion: v1
kind: Secret
metadata:
  name: app-secret
stringData:
  token: SECRET
"""


def test_config_map_and_secret_volumes_update_in_place(kp: Kubeplay) -> None:
    config = kp.write("config.yaml", CONFIG.replace("VALUE", "blue"))
    pod = kp.write(
        "pod.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: cfg
        spec:
          volumes:
          - name: conf
            configMap:
              name: app-config
              defaultMode: 0640
              items:
              - {{key: app.conf, path: nested/app.conf}}
              - {{key: blob, path: blob, mode: 0600}}
          - name: whole
            configMap:
              name: app-config
          - name: creds
            secret:
              secretName: app-secret
              defaultMode: 0400
          - name: maybe
            secret:
              secretName: absent
              optional: true
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            volumeMounts:
            - {{name: conf, mountPath: /etc/app}}
            - {{name: whole, mountPath: /etc/whole}}
            - {{name: whole, mountPath: /etc/pinned.conf, subPath: app.conf}}
            - {{name: creds, mountPath: /var/run/creds}}
            - {{name: maybe, mountPath: /maybe}}
        """,
    )
    kp.play(config)
    kp.play(pod)
    assert kp.exec("cfg", "cat", "/etc/app/nested/app.conf") == "color=blue\n"
    assert kp.exec("cfg", "stat", "-L", "-c", "%a", "/etc/app/nested/app.conf") == "640\n"
    assert kp.exec("cfg", "stat", "-L", "-c", "%a", "/etc/app/blob") == "600\n"
    assert kp.exec("cfg", "od", "-An", "-tx1", "/etc/app/blob").split() == ["00", "01", "02"]
    assert kp("exec", "cfg", "--", "test", "-e", "/etc/app/other").returncode == 1
    assert sorted(kp.exec("cfg", "ls", "/etc/whole").split()) == ["app.conf", "blob", "other"]
    assert kp.exec("cfg", "cat", "/var/run/creds/token") == "SECRET"
    assert kp.exec("cfg", "stat", "-L", "-c", "%a", "/var/run/creds/token") == "400\n"
    assert kp.exec("cfg", "ls", "/maybe") == ""  # optional and absent: no files
    # configMap on disk, secret on a tmpfs (never written to disk); both read-only
    assert _mount_line(kp, "cfg", "/var/run/creds")[2] == "tmpfs"
    assert _mount_line(kp, "cfg", "/etc/app")[2] != "tmpfs"
    assert "ro" in _mount_line(kp, "cfg", "/etc/app")[3].split(",")
    uid = kp.pod("cfg")["metadata"]["uid"]
    on_disk = subprocess.run(
        ["grep", "-rl", "SECRET", str(kp.root)], capture_output=True, text=True, check=False
    ).stdout
    assert str(kp.root / "pods" / uid / "volumes" / "creds") in on_disk  # through the tmpfs
    with_tmpfs_hidden = [line for line in on_disk.splitlines() if "/volumes/creds/" not in line]
    assert not [p for p in with_tmpfs_hidden if "/pods/" in p], with_tmpfs_hidden

    data_before = kp.exec("cfg", "readlink", "/etc/whole/..data")
    kp.play(kp.write("config2.yaml", CONFIG.replace("VALUE", "green")))
    assert kp.exec("cfg", "cat", "/etc/app/nested/app.conf") == "color=green\n"
    assert kp.exec("cfg", "cat", "/etc/whole/app.conf") == "color=green\n"
    assert kp.exec("cfg", "readlink", "/etc/whole/..data") != data_before
    # a subPath mount is bound to the file it had: it does not update (as in Kubernetes)
    assert kp.exec("cfg", "cat", "/etc/pinned.conf") == "color=blue\n"
    other = kp.write(
        "other.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: other
        spec:
          volumes:
          - {{name: creds, secret: {{secretName: app-secret}}}}
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            volumeMounts:
            - {{name: creds, mountPath: /creds}}
        """,
    )
    rotated = kp.write("secret2.yaml", CONFIG.replace("SECRET", "ROTATED"))
    kp.play("--configmap", rotated, other)
    assert kp.exec("cfg", "cat", "/var/run/creds/token") == "ROTATED"
    assert kp.exec("other", "cat", "/creds/token") == "ROTATED"


def test_a_pod_whose_config_map_is_missing_waits_and_starts_once_it_is_played(
    kp: Kubeplay,
) -> None:
    """As the kubelet: the pod is created and waits in ContainerCreating with FailedMount
    events (its volume set-up retried), and starts as soon as the ConfigMap is applied, so
    files applied in any order converge."""
    path = kp.write(
        "pod.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: nocfg
        spec:
          volumes:
          - {{name: conf, configMap: {{name: later}}}}
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            volumeMounts:
            - {{name: conf, mountPath: /conf}}
        """,
    )
    out = kp.play(path)
    assert "pod/nocfg created" in out
    pod = kp.pod("nocfg")
    assert pod["status"]["phase"] == "Pending"
    (main,) = pod["status"]["containerStatuses"]
    assert main["state"]["waiting"]["reason"] == "ContainerCreating"
    events = kp.ok("get", "events")
    message = 'MountVolume.SetUp failed for volume "conf" : configmap "later" not found'
    assert re.search(rf"Warning\s+FailedMount\s+pod/nocfg\s+{re.escape(message)}", events), events
    kp.play(
        kp.write(
            "cm.yaml",
            """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: later
            data:
              color: blue
            """,
        )
    )

    def running() -> dict[str, Any] | None:
        got = kp.pod("nocfg")
        return got if got["status"]["phase"] == "Running" else None

    kp.wait_for("the pod to start once its ConfigMap exists", running, timeout=60)
    assert kp.exec("nocfg", "cat", "/conf/color") == "blue"


def test_an_applied_pod_whose_claim_is_missing_waits_and_starts_once_it_is_applied(
    kp: Kubeplay,
) -> None:
    """`apply` does as the kubelet: a pod whose PersistentVolumeClaim is not applied yet is
    created and waits in ContainerCreating with FailedMount events, and starts as soon as the
    claim is applied (its volume is made then, not on first use as `play` does)."""
    pod = kp.write(
        "pod.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: noclaim
        spec:
          terminationGracePeriodSeconds: 2
          volumes:
          - {{name: data, persistentVolumeClaim: {{claimName: later}}}}
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            volumeMounts:
            - {{name: data, mountPath: /data}}
        """,
    )
    assert kp.ok("apply", "-f", str(pod)).splitlines() == ["pod/noclaim created"]
    got = kp.pod("noclaim")
    assert got["status"]["phase"] == "Pending"
    (main,) = got["status"]["containerStatuses"]
    assert main["state"]["waiting"]["reason"] == "ContainerCreating"
    assert kp.ok("volume", "ls", "-q").split() == []
    message = (
        'MountVolume.SetUp failed for volume "data" : error processing PVC default/later: '
        'failed to fetch PVC from API server: persistentvolumeclaims "later" not found'
    )
    events = kp.ok("get", "events")
    assert re.search(rf"Warning\s+FailedMount\s+pod/noclaim\s+{re.escape(message)}", events), events
    claim = kp.write(
        "claim.yaml",
        """
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata:
          name: later
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
        """,
    )
    assert kp.ok("apply", "-f", str(claim)).splitlines() == ["persistentvolumeclaim/later created"]

    def running() -> dict[str, Any] | None:
        got = kp.pod("noclaim")
        return got if got["status"]["phase"] == "Running" else None

    kp.wait_for("the pod to start once its claim exists", running, timeout=60)
    kp.exec("noclaim", "sh", "-c", "echo kept > /data/file")
    assert kp.ok("volume", "ls", "-q").split() == ["later"]
    info = json.loads(kp.ok("volume", "inspect", "later"))[0]
    assert info["Claim"]["kind"] == "PersistentVolumeClaim"
    assert (Path(info["Mountpoint"]) / "file").read_text() == "kept\n"
    kp.ok("delete", "-f", str(pod))
    kp.ok("volume", "rm", "later")


def _propagation_pod(kp: Kubeplay, name: str, host: Path, propagation: str) -> Path:
    return kp.write(
        f"{name}.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {name}
        spec:
          volumes:
          - {{name: host, hostPath: {{path: {host}, type: Directory}}}}
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            volumeMounts:
            - {{name: host, mountPath: /host, mountPropagation: {propagation}}}
            - {{name: host, mountPath: /private}}
        """,
    )


def test_host_to_container_propagation_shows_later_host_mounts(kp: Kubeplay) -> None:
    shared = kp.tmp / "shared"
    shared.mkdir()
    subprocess.run(["mount", "--bind", str(shared), str(shared)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(shared)], check=True)
        path = _propagation_pod(kp, "prop", shared, "HostToContainer")
        kp.play(path)
        info = kp.exec("prop", "cat", "/proc/self/mountinfo").splitlines()
        host_line = next(ln for ln in info if ln.split()[4] == "/host")
        assert "master:" in host_line, host_line  # rslave: receives the host's mounts
        (shared / "late").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "late", str(shared / "late")], check=True)

        def seen() -> list[str]:
            mounts = kp.exec("prop", "cat", "/proc/mounts")
            return [ln.split()[1] for ln in mounts.splitlines() if ln.split()[1].endswith("/late")]

        assert kp.wait_for("the host's new mount in the container", seen) == ["/host/late"]
        kp.ok("down", str(path))
    finally:
        subprocess.run(["umount", "-R", "-l", str(shared)], check=False)


def test_propagation_from_a_private_mount_is_refused(kp: Kubeplay) -> None:
    private = kp.tmp / "private"
    private.mkdir()
    # a private mount of its own, whatever the host's / is (systemd makes it shared)
    subprocess.run(["mount", "--bind", str(private), str(private)], check=True)
    try:
        subprocess.run(["mount", "--make-private", str(private)], check=True)
        path = _propagation_pod(kp, "prop", private, "HostToContainer")
        res = kp("play", str(path))
        assert res.returncode == 1, res
        assert "HostToContainer propagation needs a shared or slave mount" in res.stderr
        kp.assert_nothing_runs()
    finally:
        subprocess.run(["umount", "-l", str(private)], check=False)
