"""generate kube end to end, and Deployments that play.

The round trip is the test of generate: for every manifest in manifests/ and e2e/fixtures/,
play it, generate it back, down it, play the generated YAML. The second run's pods must have
the plans of the first (minus what depends on uids and a replica's random name), generating
again must give the same bytes, the output must hold every object the input played (as
written), and `generate kube --kube-version V` must pass for the oldest and newest bundled
Kubernetes versions the input itself passes (and refuse, naming an object, the versions it
does not).
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.conftest import IMAGE, REPO, SLEEPER, Kubeplay
from e2e.test_network import free_port
from e2e.test_services import free_node_port
from kubeplay.errors import ManifestError
from kubeplay.kube import loader, validate, workloads
from kubeplay.plan import pods as plans

pytestmark = pytest.mark.root

FIXTURES = sorted((REPO / "manifests").glob("*.yaml")) + sorted(
    (REPO / "e2e" / "fixtures").glob("*.yaml")
)
REPLICA_NAME = re.compile(rf"^(?P<base>.+-[{workloads.ALPHANUMS}]+-)[{workloads.ALPHANUMS}]{{5}}$")


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _free_host_ports(docs: list[dict[str, Any]]) -> None:
    """Every hostPort and nodePort of the documents becomes a port free on this host (no
    clash with the lead's demo, other tests, or the host's services)."""
    for doc in docs:
        spec = doc.get("spec") or {}
        if doc["kind"] == "Service":
            for port in spec.get("ports") or ():
                if port.get("nodePort"):
                    port["nodePort"] = free_node_port()
            continue
        if doc["kind"] != "Pod":
            spec = (spec.get("template") or {}).get("spec") or {}
        for ctr in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
            for port in ctr.get("ports") or ():
                if port.get("hostPort"):
                    port["hostPort"] = free_port()


def _plans(kp: Kubeplay) -> dict[str, dict[str, Any]]:
    """The stored plans by pod (ns/name, a replica's random part as XXXXX), without the uid
    and what the uid or the random name decide, nor the cluster IPs in Service links."""
    with sqlite3.connect(kp.root / "state.db") as db:
        rows = db.execute("SELECT plan_json FROM pods").fetchall()
    found: dict[str, dict[str, Any]] = {}
    for (text,) in rows:
        plan = asdict(plans.from_json(text))
        plan.pop("uid")
        if plan["service_env"]:  # a replayed Service gets a cluster IP anew: by name only
            plan["service_env"] = sorted(name for name, _ in plan["service_env"])
            plan.pop("spec_hash")  # it covers the Services' variables
        name = plan["name"]
        match = REPLICA_NAME.match(name)
        if match and any(k == workloads.TEMPLATE_HASH_LABEL for k, _ in plan["labels"]):
            plan.pop("spec_hash", None)  # it covers the name
            plan["name"] = plan["hostname"] = match["base"] + "XXXXX"
            key = f"{plan['namespace']}/{plan['name']}"
            found[f"{key}#{sum(k.startswith(key) for k in found)}"] = plan
        else:
            found[f"{plan['namespace']}/{name}"] = plan
    return found


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_round_trip(kp: Kubeplay, fixture: Path) -> None:
    docs = _docs(fixture)
    _free_host_ports(docs)
    first = kp.write("first.yaml", yaml.safe_dump_all(docs, sort_keys=False))
    namespaces = sorted({(d.get("metadata") or {}).get("namespace") or "default" for d in docs})
    kp.play(first)
    plans_before = _plans(kp)
    assert plans_before, "the fixture played no pod"

    generated = "---\n".join(
        kp.ok("generate", "kube", "-n", ns, "--include-secrets") for ns in namespaces
    )
    out = [d for d in yaml.safe_load_all(generated) if d]
    for doc in docs:  # lossless: every played object comes back as written
        assert doc in out, f"{doc['kind']} {doc['metadata']['name']} not given back:\n{generated}"
    assert len(out) == len(docs), generated
    newest = ".".join(validate.resolve_schema_version("").split(".")[:2])
    for version in ("1.25", newest):  # the oldest and newest bundled schemas
        try:
            validate.validate(
                loader.load_text(first.read_text(), source="in"), kube_version=version
            )
            passes = True
        except ManifestError:
            passes = False
        checked = [
            kp("generate", "kube", "-n", ns, "--include-secrets", "--kube-version", version)
            for ns in namespaces
        ]
        if passes:
            assert [r.returncode for r in checked] == [0] * len(checked), checked
            assert "---\n".join(r.stdout for r in checked) == generated
        else:  # a field that Kubernetes version does not have: refused, nothing printed
            refused = [r for r in checked if r.returncode != 0]
            assert refused, f"{version}: the input fails its schema, the output passed"
            for res in refused:
                assert res.returncode == 1, res.stderr
                assert res.stdout == ""
                assert f"generated object fails the Kubernetes {version} schema" in res.stderr
                assert "Traceback" not in res.stderr

    kp.ok("down", str(first))
    assert kp.pod_names("-A") == []
    second = kp.write("second.yaml", generated)
    kp.play(second)
    assert _plans(kp) == plans_before
    again = "---\n".join(
        kp.ok("generate", "kube", "-n", ns, "--include-secrets") for ns in namespaces
    )
    assert again == generated


def _deployment(
    replicas: int = 3, image_tag: str = "latest", command: str = f'["sh", "-c", "{SLEEPER}"]'
) -> str:
    return f"""
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
    spec:
      replicas: {replicas}
      selector:
        matchLabels: {{app: web}}
      template:
        metadata:
          labels: {{app: web}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: {IMAGE.replace(":latest", ":" + image_tag)}
            command: {command}
    """


def _replicas(kp: Kubeplay) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(kp.ok("get", "pods", "-o", "json"))["items"]
    return items


def test_deployment_plays_replicas_named_and_owned_like_the_replicaset_controller(
    kp: Kubeplay,
) -> None:
    path = kp.write("web.yaml", _deployment())
    assert kp.play(path).strip() == "deployment.apps/web created"
    pods = _replicas(kp)
    assert len(pods) == 3
    hashes = {p["metadata"]["labels"]["pod-template-hash"] for p in pods}
    assert len(hashes) == 1
    (template_hash,) = hashes
    for pod in pods:
        meta = pod["metadata"]
        assert re.fullmatch(rf"web-{template_hash}-[{workloads.ALPHANUMS}]{{5}}", meta["name"]), (
            meta["name"]
        )
        assert meta["labels"] == {"app": "web", "pod-template-hash": template_hash}
        (owner,) = meta["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["controller"]) == (
            "ReplicaSet",
            f"web-{template_hash}",
            True,
        )
        assert pod["status"]["phase"] == "Running"
        # The pod's hostname is its name, as for any pod.
        assert kp.exec(meta["name"], "hostname").strip() == meta["name"]
    assert len({p["metadata"]["name"] for p in pods}) == 3

    again = kp("play", str(path))
    assert again.returncode == 1
    assert "deployment default/web: already exists (use --replace" in again.stderr
    assert sorted(p["metadata"]["name"] for p in _replicas(kp)) == sorted(
        p["metadata"]["name"] for p in pods
    )

    assert kp.ok("down", str(path)).strip() == "deployment.apps/web deleted"
    assert kp.pod_names() == []
    assert kp.leaks() == []


def test_replaying_a_changed_deployment_with_replace_replaces_its_pods(kp: Kubeplay) -> None:
    kp.ok("image", "import", str(kp.rootfs), IMAGE.replace(":latest", ":v2"))
    path = kp.write("web.yaml", _deployment(replicas=2))
    kp.play(path)
    before = {p["metadata"]["name"] for p in _replicas(kp)}
    changed = kp.write("web.yaml", _deployment(replicas=1, image_tag="v2"))
    res = kp("play", "--replace", str(changed))
    assert res.returncode == 0, res.stderr
    assert "deployment.apps/web replaced" in res.stderr
    after = _replicas(kp)
    assert len(after) == 1
    assert before.isdisjoint(p["metadata"]["name"] for p in after)
    assert after[0]["spec"]["containers"][0]["image"] == IMAGE.replace(":latest", ":v2")
    kp.ok("down", str(changed))
    kp.assert_nothing_runs()


def test_a_deployment_whose_pods_fail_to_start_leaves_nothing(kp: Kubeplay) -> None:
    path = kp.write("web.yaml", _deployment(replicas=2, command='["/no/such/binary"]'))
    res = kp("play", str(path))
    assert res.returncode == 1
    assert "/no/such/binary" in res.stderr
    kp.assert_nothing_runs()
    # Nothing stored either: the Deployment plays again once its command is fixed.
    assert kp.ok("get", "pods", "-o", "name").strip() == ""
    path = kp.write("web.yaml", _deployment(replicas=2))
    assert kp.play(path).strip() == "deployment.apps/web created"


def test_generate_writes_a_file_converts_and_adds_a_service(kp: Kubeplay) -> None:
    port = free_port()
    path = kp.write(
        "web.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            ports:
            - containerPort: 8080
              hostPort: {port}
        """,
    )
    kp.play(path)
    out = kp.tmp / "out.yaml"
    res = kp("generate", "kube", "web", "--type", "deployment", "--replicas", "2", "--service",
             "-f", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    service, deployment = list(yaml.safe_load_all(out.read_text()))
    assert service["kind"] == "Service"
    assert service["spec"]["selector"] == {"app": "web"}
    assert service["spec"]["ports"] == [
        {"name": "tcp-8080", "protocol": "TCP", "port": 8080, "targetPort": 8080}
    ]
    assert deployment["kind"] == "Deployment"
    assert deployment["spec"]["replicas"] == 2
    # The converted Deployment and its Service play; its two replicas cannot both have the
    # host port, so play it without.
    kp.ok("down", str(path))
    ctr = deployment["spec"]["template"]["spec"]["containers"][0]
    ctr["ports"][0].pop("hostPort")
    replayed = kp.write("replayed.yaml", yaml.safe_dump_all([service, deployment]))
    res = kp("play", str(replayed))
    assert res.returncode == 0, res.stderr
    assert len(_replicas(kp)) == 2
    assert json.loads(kp.ok("get", "svc", "web", "-o", "json"))["spec"]["clusterIP"]


def test_generate_errors_are_clear(kp: Kubeplay) -> None:
    empty = kp("generate", "kube")
    assert empty.returncode == 1
    assert empty.stderr == 'error: no pods or workloads in namespace "default"\n'
    missing = kp("generate", "kube", "nope")
    assert (missing.returncode, missing.stderr) == (
        1,
        'error: pod "nope" not found in namespace "default"\n',
    )
    kind = kp("generate", "kube", "bogus/web")
    assert kind.returncode == 2
    assert 'unknown kind "bogus"' in kind.stderr
    stored = kp("generate", "kube", "ingress/web")  # a kind kubeplay stores: not found
    assert (stored.returncode, stored.stderr) == (
        1,
        'error: ingress "web" not found in namespace "default"\n',
    )
    for res in (empty, missing, kind, stored):
        assert "Traceback" not in res.stderr


def test_generate_gives_a_claim_made_on_first_use_back_as_a_minimal_claim(kp: Kubeplay) -> None:
    """A pod naming a claim no PVC object defines gets its volume on first use (as podman);
    generate emits a minimal claim for it (a cluster needs one to schedule the pod), before
    the pod, with a warning. The output plays back onto the same volume."""
    path = kp.write(
        "db.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: db
        spec:
          terminationGracePeriodSeconds: 1
          volumes:
          - name: store
            persistentVolumeClaim:
              claimName: undeclared
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            volumeMounts:
            - {{name: store, mountPath: /var/lib/db}}
        """,
    )
    kp.play(path)
    kp.exec("db", "sh", "-c", "echo kept > /var/lib/db/row")
    res = kp("generate", "kube", "db")
    assert res.returncode == 0, res.stderr
    claim, pod = list(yaml.safe_load_all(res.stdout))
    assert claim == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "undeclared"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    assert pod["kind"] == "Pod"
    assert "warning: PersistentVolumeClaim default/undeclared (used by pod db): " in res.stderr
    assert "a minimal claim is emitted (ReadWriteOnce, 1Gi)" in res.stderr

    kp.ok("down", str(path))
    replayed = kp.write("replayed.yaml", res.stdout)
    kp.play(replayed)
    assert kp.exec("db", "cat", "/var/lib/db/row").strip() == "kept"
    again = kp("generate", "kube", "db")
    assert (again.returncode, again.stdout) == (0, res.stdout)
    assert "warning" not in again.stderr  # the claim is a played object now
    kp.ok("down", str(replayed))


def _namespaced(name: str, namespace: str | None) -> str:
    ns = f"\n          namespace: {namespace}" if namespace else ""
    return f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {name}{ns}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
        """


def test_generate_all_namespaces(kp: Kubeplay) -> None:
    path = kp.write(
        "pods.yaml",
        "---".join(
            _namespaced(n, ns) for n, ns in (("web", None), ("web", "team-a"), ("api", "team-b"))
        ),
    )
    kp.play(path)
    text = kp.ok("generate", "kube", "-A")
    out = list(yaml.safe_load_all(text))
    assert [(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in out] == [
        ("", "web"),
        ("team-a", "web"),
        ("team-b", "api"),
    ]
    # -A wins over -n, as in kubectl get.
    assert kp.ok("generate", "kube", "-A", "-n", "team-a") == text
    named = kp("generate", "kube", "-A", "web")
    assert named.returncode == 2
    assert named.stderr == (
        "error: --all-namespaces: a name is looked up in one namespace (use -n NAMESPACE)\n"
    )
    kp.ok("down", str(path))
    empty = kp("generate", "kube", "--all-namespaces")
    assert (empty.returncode, empty.stderr) == (
        1,
        "error: no pods or workloads in any namespace\n",
    )
    replayed = kp.write("replayed.yaml", text)
    kp.play(replayed)
    assert sorted(kp.pod_names("-A")) == ["pod/api", "pod/web", "pod/web"]
    assert kp.ok("generate", "kube", "-A") == text


def test_generate_checks_the_output_against_the_asked_kubernetes_version(kp: Kubeplay) -> None:
    """A sidecar (an init container restarting Always) is a 1.28 field: the 1.25 schema does
    not know it, so generate for 1.25 (asked, or the settings' kube version) refuses to print
    YAML a 1.25 cluster would reject, naming the object and field."""
    path = kp.write(
        "sidecar.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: with-sidecar
        spec:
          terminationGracePeriodSeconds: 1
          initContainers:
          - name: proxy
            image: {IMAGE}
            restartPolicy: Always
            command: ["sh", "-c", "{SLEEPER}"]
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
        """,
    )
    kp.play(path)
    newest = ".".join(validate.resolve_schema_version("").split(".")[:2])
    ok = kp("generate", "kube", "with-sidecar", "--kube-version", newest)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == kp.ok("generate", "kube", "with-sidecar")
    message = (
        "error: Pod default/with-sidecar: generated object fails the Kubernetes 1.25 schema: "
        "spec.initContainers[0].restartPolicy: unknown field\n"
    )
    old = kp("generate", "kube", "with-sidecar", "--kube-version", "1.25")
    assert (old.returncode, old.stdout, old.stderr) == (1, "", message)
    out = kp.tmp / "out.yaml"
    kp.env["KUBEPLAY_KUBE_VERSION"] = "1.25"  # the settings' version is the default
    by_settings = kp("generate", "kube", "with-sidecar", "-f", str(out))
    assert (by_settings.returncode, by_settings.stderr) == (1, message)
    assert not out.exists()
    assert kp("generate", "kube", "with-sidecar", "--kube-version", newest).returncode == 0
    bad = kp("generate", "kube", "with-sidecar", "--kube-version", "1.2")
    assert bad.returncode == 2
    assert "Kubernetes version 1.2: not supported" in bad.stderr
    del kp.env["KUBEPLAY_KUBE_VERSION"]
    kp.ok("down", str(path))


def _free_port_in(low: int, high: int) -> int:
    for _ in range(500):
        port = free_port()
        if low <= port <= high:
            return port
    raise AssertionError(f"no free port in {low}-{high}")


def test_generate_node_port_service_publishes_the_host_ports(kp: Kubeplay) -> None:
    in_range, outside = _free_port_in(30000, 32767), _free_port_in(20000, 29999)
    path = kp.write(
        "web.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
          labels: {{app: web}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: {IMAGE}
            command: ["sh", "-c", "{SLEEPER}"]
            ports:
            - {{name: http, containerPort: 8080, hostPort: {in_range}}}
            - {{containerPort: 9090, hostPort: {outside}, protocol: UDP}}
            - {{containerPort: 7070}}
        """,
    )
    kp.play(path)
    res = kp("generate", "kube", "web", "--service-type", "NodePort")
    assert res.returncode == 0, res.stderr
    service, pod = list(yaml.safe_load_all(res.stdout))
    assert pod["kind"] == "Pod"
    assert service == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "type": "NodePort",
            "selector": {"app": "web"},
            "ports": [
                {
                    "name": "http",
                    "protocol": "TCP",
                    "port": 8080,
                    "targetPort": 8080,
                    "nodePort": in_range,
                },
                {"name": "udp-9090", "protocol": "UDP", "port": 9090, "targetPort": 9090},
                {"name": "tcp-7070", "protocol": "TCP", "port": 7070, "targetPort": 7070},
            ],
        },
    }
    assert (
        f"warning: pod web: hostPort {outside}/UDP is outside the NodePort range 30000-32767: "
        "nodePort left for the cluster to choose\n"
    ) in res.stderr
    kp.ok("down", str(path))
