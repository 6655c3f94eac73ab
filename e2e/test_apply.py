"""`kubeplay apply`, `diff`, `delete -f` and `get` of every kind, end to end with real pods.

apply creates what is new, configures what changed (decided on the defaulted object), leaves
the rest untouched (same pod uid, no restart), updates a Pod's image in place (that container
alone restarts) and recreates a Pod for any other change; ConfigMap changes reach mounted
files without a restart; immutable objects refuse changes with the API server's message;
--prune removes only what an earlier apply of the same paths made; --dry-run changes nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay

pytestmark = pytest.mark.root


def _pod(name: str, *, image: str = IMAGE, env: str = "a", extra: str = "") -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: {image}
    command: ["sh", "-c", "{SLEEPER}"]
    env:
    - name: MODE
      value: "{env}"
  - name: side
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
{extra}"""


def _statuses(pod: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """container name -> (restartCount, containerID)."""
    return {
        c["name"]: (c["restartCount"], c.get("containerID", ""))
        for c in pod["status"]["containerStatuses"]
    }


def _running(kp: Kubeplay, name: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        pod = kp.pod(name)
        states = [c.get("state", {}) for c in pod["status"].get("containerStatuses", ())]
        return pod if states and all("running" in s for s in states) else None

    found: dict[str, Any] = kp.wait_for(f"pod {name} running", check)
    return found


def test_create_configure_unchanged(kp: Kubeplay) -> None:
    path = kp.write("app.yaml", _pod("web") + "---\n" + _config("blue"))
    assert kp.ok("apply", "-f", str(path)).splitlines() == [
        "configmap/cfg created",
        "pod/web created",
    ]
    before = _running(kp, "web")
    # Unchanged: same file, a comment, reordered keys, an explicit default.
    assert kp.ok("apply", "-f", str(path)).splitlines() == [
        "configmap/cfg unchanged",
        "pod/web unchanged",
    ]
    edited = (
        "# a comment\n"
        + _pod("web", extra="  restartPolicy: Always\n")
        + "---\n"
        + _config("blue").replace("data:\n  color: blue", "data:\n    color: blue")
    )
    path.write_text(edited)
    lines = kp.ok("apply", "-f", str(path)).splitlines()
    assert lines == ["configmap/cfg unchanged", "pod/web unchanged"]
    after = kp.pod("web")
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert _statuses(after) == _statuses(before)
    assert {n: c for n, (c, _) in _statuses(after).items()} == {"app": 0, "side": 0}
    # Configured: a label on the pod (metadata only) and new ConfigMap data.
    path.write_text(
        _pod("web").replace("  name: web\n", "  name: web\n  labels:\n    tier: front\n", 1)
        + "---\n"
        + _config("red")
    )
    assert kp.ok("apply", "-f", str(path)).splitlines() == [
        "configmap/cfg configured",
        "pod/web configured",
    ]
    again = kp.pod("web")
    assert again["metadata"]["uid"] == before["metadata"]["uid"]
    assert _statuses(again) == _statuses(before)
    assert kp.ok("get", "pods", "-l", "tier=front", "-o", "name").split() == ["pod/web"]
    assert kp.ok("get", "pods", "-l", "tier!=front", "-o", "name").split() == []


def _config(color: str, *, immutable: bool = False) -> str:
    tail = "immutable: true\n" if immutable else ""
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  color: {color}
{tail}"""


def test_pod_image_update_restarts_only_that_container(kp: Kubeplay) -> None:
    # Tags of one default pull policy (IfNotPresent): only the image changes.
    kp.ok("image", "tag", IMAGE, "localhost/kubeplay/other:v1", "localhost/kubeplay/other:v2")
    path = kp.write("pod.yaml", _pod("web", image="localhost/kubeplay/other:v1"))
    kp.ok("apply", "-f", str(path))
    before = _statuses(_running(kp, "web"))
    path.write_text(_pod("web", image="localhost/kubeplay/other:v2"))
    assert kp.ok("apply", "-f", str(path)).splitlines() == ["pod/web configured"]

    def restarted() -> dict[str, Any] | None:
        pod = kp.pod("web")
        return pod if _statuses(pod)["app"][0] == 1 else None

    pod = kp.wait_for("app restarted", restarted)
    after = _statuses(pod)
    assert after["side"] == before["side"]  # untouched
    assert after["app"][1] != before["app"][1]  # a new instance
    images = {c["name"]: c["image"] for c in pod["spec"]["containers"]}
    assert images["app"] == "localhost/kubeplay/other:v2"


def test_pod_image_from_latest_to_a_tag_is_updated_in_place(kp: Kubeplay) -> None:
    """`:latest` defaulted imagePullPolicy Always at creation; the stored policy stays (as
    the API server keeps it), so a new tag is an image-only change: the pod is configured,
    not replaced."""
    tagged = IMAGE.replace(":latest", ":v2")
    kp.ok("image", "tag", IMAGE, tagged)
    path = kp.write("pod.yaml", _pod("web"))
    kp.ok("apply", "-f", str(path))
    before = _running(kp, "web")
    path.write_text(_pod("web").replace(f"image: {IMAGE}", f"image: {tagged}", 1))
    assert kp.ok("apply", "-f", str(path)).splitlines() == ["pod/web configured"]

    def restarted() -> dict[str, Any] | None:
        pod = kp.pod("web")
        return pod if _statuses(pod)["app"][0] == 1 else None

    pod = kp.wait_for("app restarted", restarted)
    assert pod["metadata"]["uid"] == before["metadata"]["uid"]
    assert pod["spec"]["containers"][0]["image"] == tagged
    assert _statuses(pod)["side"] == _statuses(before)["side"]


def test_pod_env_change_replaces_the_pod(kp: Kubeplay) -> None:
    path = kp.write("pod.yaml", _pod("web"))
    kp.ok("apply", "-f", str(path))
    uid = _running(kp, "web")["metadata"]["uid"]
    path.write_text(_pod("web", env="b"))
    (line,) = kp.ok("apply", "-f", str(path)).splitlines()
    assert line == "pod/web replaced (spec.containers[0].env changed; pods are immutable)"
    pod = _running(kp, "web")
    assert pod["metadata"]["uid"] != uid
    assert kp.exec("web", "sh", "-c", "echo $MODE", container="app").strip() == "b"


MOUNTER = f"""
apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    volumeMounts:
    - name: cfg
      mountPath: /etc/cfg
  volumes:
  - name: cfg
    configMap:
      name: cfg
"""


def test_configmap_update_refreshes_the_volume_without_restart(kp: Kubeplay) -> None:
    path = kp.write("app.yaml", _config("blue") + "---\n" + MOUNTER)
    kp.ok("apply", "-f", str(path))
    before = _statuses(_running(kp, "reader"))
    assert kp.exec("reader", "cat", "/etc/cfg/color") == "blue"
    path.write_text(_config("red") + "---\n" + MOUNTER)
    assert kp.ok("apply", "-f", str(path)).splitlines() == [
        "configmap/cfg configured",
        "pod/reader unchanged",
    ]
    assert kp.exec("reader", "cat", "/etc/cfg/color") == "red"
    assert _statuses(kp.pod("reader")) == before


def test_immutable_configmap_refuses_changes_and_applies_the_rest(kp: Kubeplay) -> None:
    path = kp.write("cfg.yaml", _config("blue", immutable=True))
    kp.ok("apply", "-f", str(path))
    other = _config("green").replace("name: cfg", "name: other")
    path.write_text(_config("red", immutable=True) + "---\n" + other)
    res = kp("apply", "-f", str(path))
    assert res.returncode == 1, res.stderr
    assert res.stdout.splitlines() == ["configmap/other created"]
    assert 'The ConfigMap "cfg" is invalid: data: Forbidden: field is immutable' in res.stderr
    cm = json.loads(kp.ok("get", "cm", "cfg", "-o", "json"))
    assert cm["data"] == {"color": "blue"}


def test_prune_dry_run_and_play_objects(kp: Kubeplay) -> None:
    played = kp.write("played.yaml", _config("x").replace("name: cfg", "name: played"))
    kp.play(played)
    first = kp.write("set/a.yaml", _config("blue"))
    kp.write("set/b.yaml", _config("b").replace("name: cfg", "name: gone"))
    directory = str(first.parent)
    assert kp.ok("apply", "-f", directory).splitlines() == [
        "configmap/cfg created",
        "configmap/gone created",
    ]
    (first.parent / "b.yaml").unlink()
    lines = kp.ok("apply", "-f", directory, "--prune", "--dry-run").splitlines()
    assert lines == ["configmap/cfg unchanged (dry run)", "configmap/gone pruned (dry run)"]
    assert kp.ok("get", "cm", "-o", "name").split() == [
        "configmap/cfg",
        "configmap/gone",
        "configmap/played",
    ]
    # Another path set prunes nothing of this one; the same set prunes its own only.
    solo = kp.write("solo.yaml", _config("s").replace("name: cfg", "name: solo"))
    assert kp.ok("apply", "-f", str(solo), "--prune").splitlines() == ["configmap/solo created"]
    assert "configmap/gone" in kp.ok("get", "cm", "-o", "name").split()
    assert kp.ok("apply", "-f", directory, "--prune").splitlines() == [
        "configmap/cfg unchanged",
        "configmap/gone pruned",
    ]
    assert kp.ok("get", "cm", "-o", "name").split() == [
        "configmap/cfg",
        "configmap/played",
        "configmap/solo",
    ]


ACCOUNT = """apiVersion: v1
kind: ServiceAccount
metadata:
  name: robot
"""
STORED_ONLY = (
    "(ServiceAccount robot): kind: ServiceAccount is stored only: no token is minted or "
    "mounted into pods"
)


def test_the_last_apply_wins_and_takes_the_objects_over(kp: Kubeplay) -> None:
    """As kubectl: `apply -f a/` then `apply -f b/` holding the same objects applies b/'s
    (no refusal); they are b/'s from then on, so `apply --prune` of a/ leaves them. A kind
    kubeplay only stores warns when it is created or changed, not on every apply."""
    a = kp.write("a/app.yaml", _config("blue") + "---\n" + ACCOUNT)
    b = kp.write("b/app.yaml", _config("red") + "---\n" + ACCOUNT)
    first = kp("apply", "-f", str(a.parent))
    assert first.returncode == 0, first.stderr
    assert first.stderr == f"warning: {a}: document 2 {STORED_ONLY}\n"
    again = kp("apply", "-f", str(a.parent))
    assert (again.returncode, again.stderr) == (0, "")
    assert again.stdout.splitlines() == [
        "serviceaccount/robot unchanged",
        "configmap/cfg unchanged",
    ]
    second = kp("apply", "-f", str(b.parent))
    assert (second.returncode, second.stderr) == (0, "")
    assert second.stdout.splitlines() == [
        "serviceaccount/robot unchanged",
        "configmap/cfg configured",
    ]
    a.write_text(_config("s").replace("name: cfg", "name: solo"))
    assert kp.ok("apply", "-f", str(a.parent), "--prune").splitlines() == ["configmap/solo created"]
    assert kp.ok("get", "cm", "-o", "name").split() == ["configmap/cfg", "configmap/solo"]
    assert kp.ok("get", "sa", "-o", "name").split() == ["serviceaccount/robot"]
    assert json.loads(kp.ok("get", "cm", "cfg", "-o", "json"))["data"] == {"color": "red"}


def test_apply_takes_over_a_played_pod_with_a_warning(kp: Kubeplay) -> None:
    """As `kubectl apply` of an object `kubectl create` made: applied, with a warning; the
    pod is the apply's from then on (its `--prune` removes it), and runs on untouched."""
    path = kp.write("pod.yaml", _pod("web"))
    kp.play(path)
    before = _running(kp, "web")
    res = kp("apply", "-f", str(path))
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["pod/web unchanged"]
    assert res.stderr == (
        "warning: pod/web was created by play, not apply: apply takes it over (an apply "
        "--prune of these paths now removes it once it leaves them)\n"
    )
    again = kp("apply", "-f", str(path))
    assert (again.returncode, again.stdout, again.stderr) == (0, "pod/web unchanged\n", "")
    after = kp.pod("web")
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert _statuses(after) == _statuses(before)
    path.write_text(_config("blue"))
    assert kp.ok("apply", "-f", str(path), "--prune").splitlines() == [
        "configmap/cfg created",
        "pod/web pruned",
    ]
    assert kp.pod_names() == []


SECRET = """apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: {password}
  user: admin
"""


def test_diff_exit_codes_and_secret_masking(kp: Kubeplay) -> None:
    path = kp.write("s.yaml", SECRET.format(password="old"))
    res = kp("diff", "-f", str(path))
    assert res.returncode == 1, res.stderr
    assert "+++ MERGED/v1.Secret.default.creds" in res.stdout
    kp.ok("apply", "-f", str(path))
    assert kp("diff", "-f", str(path)).returncode == 0
    path.write_text(SECRET.format(password="new"))
    res = kp("diff", "-f", str(path))
    assert res.returncode == 1, res.stderr
    assert "-  password: '*** (before)'" in res.stdout
    assert "+  password: '*** (after)'" in res.stdout
    assert "  user: '***'" in res.stdout
    assert "b2xk" not in res.stdout and "bmV3" not in res.stdout and "old" not in res.stdout
    bad = kp.write("bad.yaml", "kind: [")
    assert kp("diff", "-f", str(bad)).returncode == 2


KINDS = """apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:reader
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get"]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
"""


def test_get_and_delete_of_several_kinds(kp: Kubeplay) -> None:
    path = kp.write("kinds.yaml", KINDS + "---\n" + _config("blue"))
    res = kp("apply", "-f", str(path))
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "serviceaccount/app created",
        "clusterrole.rbac.authorization.k8s.io/system:reader created",
        "configmap/cfg created",
        "persistentvolumeclaim/data created",
    ]
    assert kp.ok("get", "sa", "-o", "name").split() == ["serviceaccount/app"]
    assert kp.ok("get", "clusterroles", "-o", "name").split() == [
        "clusterrole.rbac.authorization.k8s.io/system:reader"
    ]
    table = kp.ok("get", "pvc").splitlines()
    assert table[0].split()[:3] == ["NAME", "STATUS", "VOLUME"]
    assert table[1].split()[:4] == ["data", "Bound", "data", "1Gi"]
    sa = json.loads(kp.ok("get", "serviceaccount", "app", "-o", "json"))
    assert sa["metadata"]["namespace"] == "default"
    assert sa["metadata"]["uid"]
    assert "last-applied" not in json.dumps(sa)
    assert kp("get", "widgets").returncode == 2
    assert kp.ok("delete", "clusterrole", "system:reader").strip() == (
        'clusterrole.rbac.authorization.k8s.io "system:reader" deleted'
    )
    res = kp("delete", "-f", str(path))  # the rest goes; the one deleted before is named
    assert res.returncode == 1
    assert res.stdout.splitlines() == [  # kubectl's lines
        'persistentvolumeclaim "data" deleted',
        'configmap "cfg" deleted',
        'serviceaccount "app" deleted',
    ]
    assert 'clusterroles.rbac.authorization.k8s.io "system:reader" not found' in res.stderr
    res = kp("delete", "-f", str(path))
    assert res.returncode == 1
    assert 'serviceaccounts "app" not found' in res.stderr
    assert kp("get", "sa").stderr.strip() == "No resources found in default namespace."


def test_get_all_and_delete_f_of_pods(kp: Kubeplay) -> None:
    path = kp.write("pod.yaml", _pod("web"))
    kp.ok("apply", "-f", str(path))
    _running(kp, "web")
    out = kp.ok("get", "all")
    assert out.splitlines()[1].split()[0] == "pod/web"
    assert kp.ok("delete", "-f", str(path)).splitlines() == ['pod "web" deleted']
    assert kp.pod_names() == []


def test_two_applies_at_once_on_overlapping_files(kp: Kubeplay) -> None:
    one = str(kp.write("one.yaml", _config("blue") + "---\n" + _pod("a")))
    two = str(kp.write("two.yaml", _pod("b")))
    results = kp.together(("apply", "-f", one, "-f", two), ("apply", "-f", two, "-f", one))
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    # Each object was created once (by either), the other apply found it unchanged.
    lines = sorted(line for r in results for line in r.stdout.splitlines())
    assert lines.count("pod/a created") == 1
    assert lines.count("configmap/cfg created") == 1
    assert sorted(kp.pod_names()) == ["pod/a", "pod/b"]
    assert kp.ok("get", "cm", "-o", "name").split() == ["configmap/cfg"]
    for name in ("a", "b"):
        _running(kp, name)
    assert kp.ok("apply", "-f", one, "-f", two).splitlines() == [
        "configmap/cfg unchanged",
        "pod/a unchanged",
        "pod/b unchanged",
    ]


NEVER_READY = f"""
apiVersion: v1
kind: Pod
metadata:
  name: slow
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    readinessProbe:
      exec:
        command: ["test", "-e", "/tmp/ready"]
      periodSeconds: 1
"""


def test_apply_wait_returns_when_ready_or_names_what_is_not(kp: Kubeplay) -> None:
    path = kp.write("slow.yaml", NEVER_READY)
    res = kp("apply", "-f", str(path), "--wait", "--timeout", "2s")
    assert res.returncode == 1, res
    assert res.stdout.splitlines() == ["pod/slow created"]
    assert "timed out waiting for the condition on pod/slow" in res.stderr
    kp.exec("slow", "touch", "/tmp/ready")
    res = kp("apply", "-f", str(path), "--wait", "--timeout", "60s")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["pod/slow unchanged"]
    ready = [c for c in kp.pod("slow")["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"


def _deployment(mode: str, replicas: int = 2) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: api}}
  template:
    metadata:
      labels: {{app: api}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: {IMAGE}
        command: ["sh", "-c", "{SLEEPER}"]
        env:
        - {{name: MODE, value: "{mode}"}}
"""


def test_deployment_template_change_replaces_its_pods(kp: Kubeplay) -> None:
    path = kp.write("api.yaml", _deployment("a"))
    assert kp.ok("apply", "-f", str(path)).splitlines() == ["deployment.apps/api created"]
    before = set(kp.pod_names())
    assert len(before) == 2
    assert kp.ok("apply", "-f", str(path)).splitlines() == ["deployment.apps/api unchanged"]
    assert set(kp.pod_names()) == before
    path.write_text(_deployment("b"))
    assert kp.ok("apply", "-f", str(path)).splitlines() == ["deployment.apps/api configured"]
    # a rolling update (the supervisor carries it on): two new pods, the old ones gone

    def rolled() -> set[str] | None:
        names = set(kp.pod_names())
        return names if len(names) == 2 and before.isdisjoint(names) else None

    after = kp.wait_for("the rollout", rolled, timeout=60)
    assert len(after) == 2
    table = kp.ok("get", "deploy").splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[0] == "api"
    assert kp.ok("delete", "deployment", "api").strip() == 'deployment.apps "api" deleted'
    kp.wait_for("its pods gone (background cascade)", lambda: kp.pod_names() == [], timeout=60)


def test_events_of_any_kind_filtered_by_object_or_field_and_in_describe(kp: Kubeplay) -> None:
    """Events are keyed by the involved object: a claim's provisioning event shows in `get
    events` (OBJECT persistentvolumeclaim/data), `--for pvc/data`, a field selector and
    `describe pvc data`; `describe` works for every stored kind (a Secret's values hidden);
    a deleted object's events go with it."""
    path = kp.write(
        "objects.yaml",
        """
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata:
          name: data
          labels: {tier: db}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
        ---
        apiVersion: v1
        kind: Secret
        metadata:
          name: creds
        stringData:
          password: s3cret
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata:
          name: builder
        """,
    )
    kp.ok("apply", "-f", str(path))
    message = "Successfully provisioned volume data (kubeplay's named volume)"
    row = r"^\S+\s+Normal\s+ProvisioningSucceeded\s+persistentvolumeclaim/data\s+"
    row += re.escape(message) + "$"
    assert re.search(row, kp.ok("get", "events"), re.M), kp.ok("get", "events")
    assert re.search(row, kp.ok("get", "events", "--for", "pvc/data"), re.M)
    selected = kp.ok(
        "get", "events", "--field-selector", "involvedObject.kind=PersistentVolumeClaim"
    )
    assert re.search(row, selected, re.M), selected
    none = kp("get", "events", "--for", "pod/data")
    assert none.stdout == "" and "No resources found in default namespace." in none.stderr
    none = kp("get", "events", "--field-selector", "involvedObject.name=data,type=Warning")
    assert none.stdout == ""
    bad = kp("get", "events", "--field-selector", "spec.nodeName=x")
    assert bad.returncode == 2 and "field label not supported: spec.nodeName" in bad.stderr
    bad = kp("get", "events", "--for", "data")
    assert bad.returncode == 2 and "--for: data must be in the format TYPE/NAME" in bad.stderr

    listed = kp.ok("get", "pvc,sa").split("\n\n")  # kubectl's sections, kind/name rows
    assert [section.splitlines()[1].split()[0] for section in listed] == [
        "persistentvolumeclaim/data",
        "serviceaccount/builder",
    ]
    described = kp.ok("describe", "pvc", "data")
    assert described.splitlines()[:3] == [
        "Name:         data",
        "Namespace:    default",
        "Labels:       tier=db",
    ]
    assert re.search(r"^  Access Modes:\n    ReadWriteOnce$", described, re.M), described
    section = described[described.index("\nEvents:") :]
    assert re.search(
        r"^\s+Normal\s+ProvisioningSucceeded\s+\S+\s+persistentvolume-controller\s+"
        + re.escape(message)
        + "$",
        section,
        re.M,
    ), section
    secret = kp.ok("describe", "secret", "creds")
    assert "s3cret" not in secret and re.search(r"^password:\s+6 bytes$", secret, re.M), secret
    assert "Events:" in kp.ok("describe", "sa", "builder")
    missing = kp("describe", "configmap", "nope")
    assert missing.returncode != 0 and 'configmaps "nope" not found' in missing.stderr

    kp.ok("delete", "-f", str(path))
    assert "persistentvolumeclaim/data" not in kp.ok("get", "events", "-A")
    gone = kp("get", "pvc,sa")
    assert (gone.stdout, gone.stderr) == ("", "No resources found in default namespace.\n")
    kp.ok("volume", "rm", "data")


def test_get_w_of_another_kind_prints_additions_changes_and_deletions(kp: Kubeplay) -> None:
    """`get KIND -w` as kubectl's watch: the list, then a row for each added, changed or
    deleted object (a deleted one as it was last seen)."""
    first = kp.write("sa1.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa1}\n")
    second = kp.write("sa2.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa2}\n")
    kp.ok("apply", "-f", str(first))
    with kp.watching("get", "serviceaccounts", "-w") as lines:
        kp.wait_for("the list", lambda: any(line.startswith("sa1 ") for line in lines))
        kp.ok("apply", "-f", str(second))
        kp.wait_for("sa2 added", lambda: [line for line in lines if line.startswith("sa2 ")])
        kp.ok("delete", "sa", "sa2")
        kp.wait_for(
            "sa2 deleted", lambda: len([line for line in lines if line.startswith("sa2 ")]) == 2
        )
    assert lines[0].split() == ["NAME", "AGE"]
    kp.ok("delete", "-f", str(first))
