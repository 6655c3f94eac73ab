"""Services end to end: a cluster IP from the test's own service range, pod -> cluster IP ->
pod (and a pod to its own Service: hairpin), host -> cluster IP, names from every pod,
endpoints that follow readiness, a named targetPort that two pods map differently, ClientIP
affinity, a Service without endpoints refused at once, headless names and SRV records, pod
hostname records that live with their headless Service, a clusterIP out of range refused
before anything is made, NodePorts on 127.0.0.1 and from another "machine" (a namespace routed
through the host: externalTrafficPolicy Cluster masquerades, Local keeps the client address),
UDP after an endpoint change, and the table and dnsmasq repaired after someone deletes,
flushes or kills them.

Traffic goes to the test's own pods and to its cluster IPs, which are routed into the test's
own bridge only (the kp fixture gives each test its own KUBEPLAY_SERVICE_CIDR).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.conftest import Kubeplay, _free_subnet
from e2e.test_network import (
    HELLO,
    HTTPD,
    UDP_ECHO_PORT,
    dnsmasq_pids,
    gateway,
    http_get,
    pod,
    udp_echo_command,
    wait_wget,
    wget,
)

pytestmark = pytest.mark.root


def service(
    name: str,
    *,
    selector: dict[str, str] | None = None,
    port: int = 80,
    target: int | str = 8080,
    **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ports": [{"name": "http", "port": port, "targetPort": target}],
        **spec,
    }
    if selector is not None:
        body["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def labelled(doc: dict[str, Any], **labels: str) -> dict[str, Any]:
    doc["metadata"]["labels"] = labels
    return doc


def server(name: str, text: str, *, port: int = 8080, **spec: Any) -> dict[str, Any]:
    """A pod whose httpd on `port` answers `text` (so a client tells the endpoints apart)."""
    command = (
        f"mkdir -p /tmp/www && echo {text} > /tmp/www/index.html && "
        f"trap 'exit 0' TERM; httpd -f -p {port} -h /tmp/www & wait $!"
    )
    ports = [{"name": "http", "containerPort": port}]
    return labelled(pod(name, command=command, ports=ports, **spec), app="web")


def write(kp: Kubeplay, name: str, *docs: dict[str, Any]) -> Path:
    return kp.write(name, yaml.safe_dump_all(docs, sort_keys=False))


def cluster_ip(kp: Kubeplay, name: str, namespace: str = "default") -> str:
    doc = json.loads(kp.ok("get", "svc", name, "-n", namespace, "-o", "json"))
    ip: str = doc["spec"]["clusterIP"]
    return ip


def connect_error(ip: str, port: int) -> str:
    """What a TCP connect from the host gets: "ok", or the error's name."""
    try:
        with socket.create_connection((ip, port), timeout=10):
            return "ok"
    except OSError as err:
        return type(err).__name__


def test_cluster_ip_from_pods_itself_and_the_host_and_by_name(kp: Kubeplay) -> None:
    path = write(
        kp,
        "app.yaml",
        service("web", selector={"app": "web"}),
        labelled(pod("web", command=HTTPD, ports=[{"containerPort": 8080}]), app="web"),
        pod("client"),
    )
    # play says what it made, of every kind, as kubectl apply does
    assert kp.play(path).splitlines() == [
        "service/web created",
        "pod/web created",
        "pod/client created",
    ]
    vip = cluster_ip(kp, "web")
    assert ipaddress.ip_address(vip) in ipaddress.ip_network(kp.env["KUBEPLAY_SERVICE_CIDR"])
    assert wait_wget(kp, "client", f"http://{vip}/") == HELLO
    assert wait_wget(kp, "web", f"http://{vip}/") == HELLO  # hairpin: its own Service
    assert kp.wait_for(f"http://{vip}/ from the host", lambda: http_get(f"http://{vip}/")) == HELLO
    for name in ("web", "web.default", "web.default.svc", "web.default.svc.cluster.local"):
        assert wait_wget(kp, "client", f"http://{name}/") == HELLO, name
    answer = kp.exec("client", "nslookup", "-type=a", "web.default.svc.cluster.local", gateway(kp))
    assert re.search(rf"Address:\s+{re.escape(vip)}$", answer, re.M), answer
    # The EndpointSlice controller's slice, kept by kubeplay.
    web_ip = kp.pod("web")["status"]["podIP"]
    (slice_doc,) = json.loads(kp.ok("get", "endpointslices", "-o", "json"))["items"]
    assert slice_doc["metadata"]["labels"]["kubernetes.io/service-name"] == "web"
    assert [e["addresses"] for e in slice_doc["endpoints"]] == [[web_ip]]
    assert slice_doc["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    described = kp.ok("describe", "svc", "web")
    assert re.search(rf"^Endpoints:\s+{re.escape(web_ip)}:8080$", described, re.M), described
    # kubectl's columns; the v1 Endpoints derived from the slice, with the API's warning
    name = slice_doc["metadata"]["name"]
    rows = kp.ok("get", "endpointslices")
    assert re.search(rf"^{name}\s+IPv4\s+8080\s+{re.escape(web_ip)}\s+\S+$", rows, re.M), rows
    res = kp("get", "ep")
    assert "Warning: v1 Endpoints is deprecated in v1.33+" in res.stderr, res.stderr
    assert re.search(rf"^web\s+{re.escape(web_ip)}:8080\s+\S+$", res.stdout, re.M), res.stdout
    endpoints = json.loads(kp.ok("get", "endpoints", "web", "-o", "json"))
    assert endpoints["kind"] == "Endpoints"
    assert endpoints["subsets"] == [
        {
            "addresses": [
                {"ip": web_ip, "targetRef": {"kind": "Pod", "namespace": "default", "name": "web"}}
            ],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        }
    ]
    assert "Addresses:          " + web_ip in kp.ok("describe", "endpoints", "web")
    assert "TargetRef:  Pod/web" in kp.ok("describe", "endpointslice", name)
    res = kp("delete", "endpoints", "web")  # derived, not stored: its Service is what goes
    assert res.returncode == 2 and "delete the Service" in res.stderr, res.stderr


def test_a_pod_finds_a_service_of_the_same_file_as_it_starts(kp: Kubeplay) -> None:
    """Services come first, as kubectl applies them and as CoreDNS serves them: a pod whose
    first command looks its backend up (here a Service with no endpoints yet, with a named
    port, hence SRV records too) finds the name and the cluster IP at once."""
    vip = str(ipaddress.ip_network(kp.env["KUBEPLAY_SERVICE_CIDR"]).network_address + 10)
    lookup = f"nslookup -type=a web.default.svc.cluster.local | grep -q 'Address:.*{vip}$'"
    path = write(
        kp,
        "app.yaml",
        service("web", selector={"app": "web"}, clusterIP=vip),
        pod("client", command=lookup, restartPolicy="Never"),
    )
    kp.play(path)
    phase = kp.wait_for(
        "the client to finish",
        lambda: (
            kp.pod("client")["status"]["phase"] in ("Succeeded", "Failed")
            and kp.pod("client")["status"]["phase"]
        ),
    )
    assert phase == "Succeeded", kp.ok("logs", "client")


def test_get_endpoints_of_one_service_watched(kp: Kubeplay) -> None:
    """`get ep web -w`: the list, then web's row as its endpoints change; never the row of
    another Service (here `other`, whose endpoints change in the same write)."""

    def web(name: str) -> dict[str, Any]:
        return labelled(pod(name, command=HTTPD, ports=[{"containerPort": 8080}]), app="web")

    kp.play(
        write(
            kp,
            "app.yaml",
            service("other", selector={"app": "web"}),
            service("web", selector={"app": "web"}),
            web("a"),
        )
    )
    a_ip = kp.pod("a")["status"]["podIP"]
    with kp.watching("get", "ep", "web", "-w") as lines:
        kp.wait_for("a listed", lambda: any(f"{a_ip}:8080" in line for line in lines))
        kp.play(write(kp, "b.yaml", web("b")))
        b_ip = kp.pod("b")["status"]["podIP"]
        kp.wait_for("b added", lambda: any(f"{b_ip}:8080" in line for line in lines))
    assert lines[0].split() == ["NAME", "ENDPOINTS", "AGE"]
    assert all(line.startswith("web ") for line in lines[1:]), lines


def test_apply_keeps_the_cluster_ip_and_refuses_changing_it(kp: Kubeplay) -> None:
    path = write(kp, "svc.yaml", service("web", selector={"app": "web"}))
    kp.ok("apply", "-f", str(path))
    vip = cluster_ip(kp, "web")
    write(kp, "svc.yaml", service("web", selector={"app": "web"}, port=8000))
    kp.ok("apply", "-f", str(path))
    assert cluster_ip(kp, "web") == vip
    other = str(ipaddress.ip_address(vip) + 1)
    write(kp, "svc.yaml", service("web", selector={"app": "web"}, clusterIP=other))
    res = kp("apply", "-f", str(path))
    assert res.returncode != 0 and "may not change once set" in res.stderr, res.stderr
    assert cluster_ip(kp, "web") == vip
    kp.ok("delete", "-f", str(path))


def test_no_endpoints_is_refused_and_readiness_moves_the_endpoint(kp: Kubeplay) -> None:
    ready = labelled(pod("web", command=HTTPD, ports=[{"containerPort": 8080}]), app="web")
    ready["spec"]["containers"][0]["readinessProbe"] = {
        "exec": {"command": ["test", "-e", "/tmp/ready"]},
        "periodSeconds": 1,
    }
    kp.play(write(kp, "app.yaml", service("web", selector={"app": "web"}), ready))
    vip = cluster_ip(kp, "web")
    # Not ready: no endpoint, the connection is refused (not left to time out).
    assert kp.wait_for("refused", lambda: connect_error(vip, 80) == "ConnectionRefusedError")
    kp.exec("web", "touch", "/tmp/ready")
    assert kp.wait_for("served once ready", lambda: http_get(f"http://{vip}/")) == HELLO
    kp.exec("web", "rm", "/tmp/ready")
    assert kp.wait_for("refused again", lambda: connect_error(vip, 80) == "ConnectionRefusedError")
    # An unknown port of the cluster IP is refused too.
    assert connect_error(vip, 81) == "ConnectionRefusedError"
    # Refused at once (a reject), not a connect left to time out.
    start = time.monotonic()
    assert connect_error(vip, 80) == "ConnectionRefusedError"
    assert time.monotonic() - start < 1.0


def test_named_target_port_per_pod_and_client_ip_affinity(kp: Kubeplay) -> None:
    kp.play(
        write(
            kp,
            "app.yaml",
            service("web", selector={"app": "web"}, target="http"),
            service(
                "sticky",
                selector={"app": "web"},
                target="http",
                sessionAffinity="ClientIP",
            ),
            service("metrics", selector={"app": "web"}, target="metrics"),
            server("a", "from-a", port=8080),
            server("b", "from-b", port=9090),
            pod("client"),
        )
    )
    vip = cluster_ip(kp, "web")
    seen: set[str] = set()

    def both() -> bool:
        got = wget(kp, "client", f"http://{vip}/")
        if got:
            seen.add(got.strip())
        return seen == {"from-a", "from-b"}

    kp.wait_for("both endpoints answer", both, timeout=60)
    ips = {n: kp.pod(n)["status"]["podIP"] for n in ("a", "b")}

    def listed() -> set[str]:  # the slices are written just after the rules
        (row,) = kp.ok("get", "endpoints", "web").splitlines()[1:]
        return set(row.split()[1].split(","))

    assert kp.wait_for(
        "both in get endpoints", lambda: listed() == {f"{ips['a']}:8080", f"{ips['b']}:9090"}
    )
    # a named targetPort no pod has: no endpoints, and describe says why
    described = kp.ok("describe", "svc", "metrics")
    assert (
        "Endpoints:        <none> (of the 2 pods the selector matches, none has a container "
        'port named "metrics")'
    ) in described, described
    sticky = cluster_ip(kp, "sticky")
    first = wait_wget(kp, "client", f"http://{sticky}/")
    for _ in range(8):
        assert wget(kp, "client", f"http://{sticky}/") == first


def lookup(kp: Kubeplay, kind: str, name: str) -> str:
    """busybox nslookup's answer from the client pod ("" when it finds nothing)."""
    res = kp("exec", "client", "--", "nslookup", f"-type={kind}", name)
    return res.stdout if res.returncode == 0 else ""


def srv_answers(kp: Kubeplay, name: str) -> set[tuple[int, str]]:
    """(port, target) of each SRV answer for `name`."""
    text = lookup(kp, "srv", name)
    return {(int(p), t.rstrip(".")) for p, t in re.findall(r"= \d+ \d+ (\d+) (\S+)", text)}


def test_headless_names_srv_and_hostname_records_live_with_the_service(kp: Kubeplay) -> None:
    """Headless: the name lists the ready pods; SRV for a named port answers one record per
    endpoint (target `<hostname>.<svc>...` for a pod whose subdomain names the Service, else
    `<a-b-c-d>.<svc>...`, each resolving); `<hostname>.<subdomain>...` exists only while the
    Service does."""
    pods = write(
        kp,
        "pods.yaml",
        server("db-0", "zero", hostname="db-0", subdomain="db"),
        server("db-1", "one", port=9090),
        pod("client"),
    )
    svc = write(
        kp, "svc.yaml", service("db", selector={"app": "web"}, target="http", clusterIP="None")
    )
    kp.play(pods)
    ip0, ip1 = (kp.pod(n)["status"]["podIP"] for n in ("db-0", "db-1"))
    host_name = "db-0.db.default.svc.cluster.local"
    kp.wait_for("db-0 Running", lambda: kp.pod("db-0")["status"]["phase"] == "Running")
    assert lookup(kp, "a", host_name) == "", "a hostname record without its Service"
    kp.ok("apply", "-f", str(svc))

    def resolved() -> set[str]:
        answer = lookup(kp, "a", "db.default.svc.cluster.local")
        return set(re.findall(r"Address:\s+(\S+)$", answer, re.M)) & {ip0, ip1}

    assert kp.wait_for("both pods under the headless name", lambda: resolved() == {ip0, ip1})
    assert wait_wget(kp, "client", "http://db-0.db:8080/").strip() == "zero"
    dashed = f"{ip1.replace('.', '-')}.db.default.svc.cluster.local"
    want = {(8080, host_name), (9090, dashed)}
    srv_name = "_http._tcp.db.default.svc.cluster.local"
    assert kp.wait_for("one SRV per endpoint", lambda: srv_answers(kp, srv_name) == want)
    assert wait_wget(kp, "client", f"http://{dashed}:9090/").strip() == "one"
    kp.ok("delete", "-f", str(svc))
    assert kp.wait_for("the hostname record gone", lambda: lookup(kp, "a", host_name) == "")
    assert srv_answers(kp, srv_name) == set()


def test_dnsmasq_killed_by_hand_is_restarted_within_a_resync(kp: Kubeplay) -> None:
    kp.play(
        write(
            kp,
            "app.yaml",
            service("web", selector={"app": "web"}),
            labelled(pod("web", command=HTTPD, ports=[{"containerPort": 8080}]), app="web"),
            pod("client"),
        )
    )
    assert wait_wget(kp, "client", "http://web/") == HELLO
    srv_name = "_http._tcp.web.default.svc.cluster.local"
    assert kp.wait_for("SRV", lambda: srv_answers(kp, srv_name))
    # the one pods ask, and the one holding the SRV records (the named port) it forwards to
    pids = dnsmasq_pids(kp)
    assert len(pids) == 2
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    kp.wait_for("dnsmasq gone", lambda: not set(pids) & set(dnsmasq_pids(kp)))
    # the Services controller's full resync (every 20 s) starts them again
    assert kp.wait_for("dnsmasq again", lambda: len(dnsmasq_pids(kp)) == 2, timeout=60)
    assert wait_wget(kp, "client", "http://web/") == HELLO
    assert srv_answers(kp, srv_name) == {(80, "web.default.svc.cluster.local")}


def test_cluster_ip_out_of_range_is_refused_before_anything_is_made(kp: Kubeplay) -> None:
    outside = str(ipaddress.ip_network(kp.env["KUBEPLAY_SUBNET"]).network_address + 200)
    path = write(
        kp, "bad.yaml", service("web", selector={"app": "web"}, clusterIP=outside), pod("p")
    )
    res = kp("play", str(path))
    assert res.returncode == 2, res.stderr
    assert "spec.clusterIP" in res.stderr and "not in the valid range" in res.stderr, res.stderr
    assert kp.ok("get", "svc", "-o", "name").split() == []
    kp.assert_nothing_runs()


def test_cluster_ip_or_node_port_taken_is_refused_before_anything_is_made(kp: Kubeplay) -> None:
    kp.ok("apply", "-f", str(write(kp, "a.yaml", service("a", type="NodePort"))))
    taken = json.loads(kp.ok("get", "svc", "a", "-o", "json"))["spec"]
    for name, field, value, message in (
        ("b", "clusterIP", taken["clusterIP"], "provided IP is already allocated"),
        ("c", "nodePort", taken["ports"][0]["nodePort"], "provided port is already allocated"),
    ):
        svc = service(name, selector={"app": "web"}, type="NodePort")
        if field == "clusterIP":
            svc["spec"]["clusterIP"] = value
        else:
            svc["spec"]["ports"][0]["nodePort"] = value
        res = kp("play", str(write(kp, f"{name}.yaml", svc, pod("p"))))
        assert res.returncode == 2, res.stderr
        assert f"Invalid value: {value!r}: {message}" in res.stderr, res.stderr
        assert kp.ok("get", "svc", "-o", "name").split() == ["service/a"]
        assert kp.pod_names() == []
    kp.ok("delete", "svc", "a")


def test_deleted_or_flushed_table_is_repaired(kp: Kubeplay) -> None:
    kp.play(
        write(
            kp,
            "app.yaml",
            service("web", selector={"app": "web"}),
            labelled(pod("web", command=HTTPD, ports=[{"containerPort": 8080}]), app="web"),
        )
    )
    vip = cluster_ip(kp, "web")
    assert kp.wait_for("served", lambda: http_get(f"http://{vip}/")) == HELLO
    table = "kubeplay_" + kp.bridge.replace("-", "_")
    subprocess.run(["nft", "delete", "table", "ip", table], check=True)
    assert kp.wait_for("served again", lambda: http_get(f"http://{vip}/"), timeout=60) == HELLO
    # What `nft flush ruleset` does to kubeplay's table (the host's other tables are not
    # this test's to flush): the table stays, every rule, map and set element goes.
    subprocess.run(["nft", "flush", "table", "ip", table], check=True)
    assert connect_error(vip, 80) != "ok"
    assert kp.wait_for("served after a flush", lambda: http_get(f"http://{vip}/"), timeout=60) == (
        HELLO
    )


def test_service_links_reach_pods_created_after_the_service(kp: Kubeplay) -> None:
    no_links = pod("quiet")
    no_links["spec"]["enableServiceLinks"] = False
    kp.play(
        write(kp, "app.yaml", service("my-web", selector={"app": "web"}), pod("client"), no_links)
    )
    vip = cluster_ip(kp, "my-web")
    env = kp.exec("client", "env")
    assert f"MY_WEB_SERVICE_HOST={vip}\n" in env, env
    assert "MY_WEB_SERVICE_PORT=80\n" in env and "MY_WEB_SERVICE_PORT_HTTP=80\n" in env, env
    assert f"MY_WEB_PORT=tcp://{vip}:80\n" in env, env
    assert "MY_WEB_SERVICE_HOST" not in kp.exec("quiet", "env")


def free_node_port() -> int:
    """A nodePort for this test: random in the NodePort range, free on the host now."""
    for _ in range(100):
        port = random.randrange(30000, 32768)
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
        return port
    raise AssertionError("no free port in 30000-32767")


def test_node_port_and_load_balancer_answer_on_localhost(kp: Kubeplay) -> None:
    node_port, lb_port = free_node_port(), free_node_port()
    nodeport = service("web", selector={"app": "web"}, type="NodePort")
    nodeport["spec"]["ports"][0]["nodePort"] = node_port
    lb = service("lb", selector={"app": "web"}, type="LoadBalancer")
    lb["spec"]["ports"][0]["nodePort"] = lb_port
    empty = service("none", selector={"app": "nothing"}, type="NodePort")
    local_port = free_node_port()
    local = service("local", selector={"app": "web"}, type="NodePort")
    local["spec"]["ports"][0]["nodePort"] = local_port
    local["spec"]["externalTrafficPolicy"] = "Local"  # the host's own traffic still masqueraded
    path = write(
        kp,
        "app.yaml",
        nodeport,
        lb,
        empty,
        local,
        labelled(pod("web", command=HTTPD, ports=[{"containerPort": 8080}]), app="web"),
    )
    res = kp("play", str(path))
    assert res.returncode == 0, res.stderr
    assert "served as a NodePort" in res.stderr, res.stderr
    for port in (node_port, lb_port, local_port):
        url = f"http://127.0.0.1:{port}/"
        assert kp.wait_for(url, lambda url=url: http_get(url)) == HELLO
    rows = kp.ok("get", "svc")
    assert re.search(rf"^lb\s+LoadBalancer\s+\S+\s+127\.0\.0\.1\s+80:{lb_port}/TCP", rows, re.M), (
        rows
    )
    lb_doc = json.loads(kp.ok("get", "svc", "lb", "-o", "json"))
    assert lb_doc["status"]["loadBalancer"]["ingress"][0]["ip"] == "127.0.0.1", lb_doc
    assert re.search(
        r"^LoadBalancer Ingress:\s+127\.0\.0\.1$", kp.ok("describe", "svc", "lb"), re.M
    )
    # An allocated nodePort is in the range and answers "refused" without endpoints.
    doc = json.loads(kp.ok("get", "svc", "none", "-o", "json"))
    allocated = doc["spec"]["ports"][0]["nodePort"]
    assert 30000 <= allocated <= 32767
    assert kp.wait_for(
        "refused", lambda: connect_error("127.0.0.1", allocated) == "ConnectionRefusedError"
    )


CLIENT_IP_CGI = (
    "mkdir -p /tmp/www/cgi-bin && "
    "printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' "
    "> /tmp/www/cgi-bin/ip && chmod +x /tmp/www/cgi-bin/ip && "
    "trap 'exit 0' TERM; httpd -f -p 8080 -h /tmp/www & wait $!"
)


@contextlib.contextmanager
def outside_client(kp: Kubeplay) -> Iterator[tuple[str, str]]:
    """A network namespace of the test's own, standing for another machine: a veth pair,
    the host end with a /24 of the test's base, the namespace's default route through it.
    Yields (namespace name, the host end's address)."""
    name = "kpo" + secrets.token_hex(3)
    net = ipaddress.ip_network(_free_subnet(taken=kp.env["KUBEPLAY_SUBNET"], claims=kp.claims))
    host_ip, client_ip = str(net.network_address + 1), str(net.network_address + 2)
    steps = [
        ["ip", "netns", "add", name],
        ["ip", "link", "add", f"{name}h", "type", "veth", "peer", "name", f"{name}n"],
        ["ip", "link", "set", f"{name}n", "netns", name],
        ["ip", "addr", "add", f"{host_ip}/24", "dev", f"{name}h"],
        ["ip", "link", "set", f"{name}h", "up"],
        ["ip", "-n", name, "addr", "add", f"{client_ip}/24", "dev", f"{name}n"],
        ["ip", "-n", name, "link", "set", f"{name}n", "up"],
        ["ip", "-n", name, "route", "add", "default", "via", host_ip],
    ]
    try:
        for argv in steps:
            subprocess.run(argv, check=True, capture_output=True)
        yield name, host_ip
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", f"{name}h"], check=False, capture_output=True)


def test_external_traffic_policy_local_keeps_the_client_address(kp: Kubeplay) -> None:
    """A client on another "machine" (a namespace routed through the host) reaches a
    NodePort: with externalTrafficPolicy Cluster the pod sees the gateway (masqueraded, as
    kube-proxy does for traffic from outside the pod network), with Local its own address."""
    cluster_port, local_port = free_node_port(), free_node_port()
    cluster = service("cluster", selector={"app": "web"}, type="NodePort")
    cluster["spec"]["ports"][0]["nodePort"] = cluster_port
    local = service("local", selector={"app": "web"}, type="NodePort")
    local["spec"]["ports"][0]["nodePort"] = local_port
    local["spec"]["externalTrafficPolicy"] = "Local"
    web = labelled(pod("web", command=CLIENT_IP_CGI, ports=[{"containerPort": 8080}]), app="web")
    kp.play(write(kp, "app.yaml", cluster, local, web))
    with outside_client(kp) as (ns, host_ip):

        def seen(port: int) -> str:
            res = subprocess.run(
                ["ip", "netns", "exec", ns, "curl", "-s", "--max-time", "5", "--noproxy", "*",
                 f"http://{host_ip}:{port}/cgi-bin/ip"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            # busybox httpd writes an IPv4 client as `[::ffff:a.b.c.d]`
            return (
                res.stdout.strip().removeprefix("[::ffff:").rstrip("]")
                if res.returncode == 0
                else ""
            )

        client_ip = str(ipaddress.ip_address(host_ip) + 1)
        assert kp.wait_for("Local answers", lambda: seen(local_port)) == client_ip
        assert kp.wait_for("Cluster answers", lambda: seen(cluster_port)) == gateway(kp)


def test_node_port_taken_by_a_host_socket_is_refused(kp: Kubeplay) -> None:
    taken = free_node_port()
    svc = service("web", selector={"app": "web"}, type="NodePort")
    svc["spec"]["ports"][0]["nodePort"] = taken
    path = write(kp, "app.yaml", svc, pod("p"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", taken))
        sock.listen()
        res = kp("play", str(path))
    assert res.returncode != 0
    assert f"nodePort {taken}/TCP: already in use by a process on the host" in res.stderr
    assert kp.ok("get", "svc", "-o", "name").split() == []
    kp.assert_nothing_runs()


def test_node_port_and_host_port_refuse_each_other(kp: Kubeplay) -> None:
    port = free_node_port()
    svc = service("web", selector={"app": "web"}, type="NodePort")
    svc["spec"]["ports"][0]["nodePort"] = port
    held = pod("held", ports=[{"containerPort": 8080, "hostPort": port}])
    # a running pod's hostPort: the Service is refused
    first = write(kp, "held.yaml", held)
    kp.play(first)
    res = kp("play", str(write(kp, "svc.yaml", svc)))
    assert res.returncode == 1, res.stderr
    assert f"service/web: nodePort {port}/TCP: already a hostPort of pod held" in res.stderr
    kp.ok("down", str(first))
    # a Service's nodePort (of the same file too): the pod is refused, nothing is made
    res = kp("play", str(write(kp, "both.yaml", svc, held)))
    assert res.returncode == 1, res.stderr
    assert (
        f"pod default/held: hostPort {port}/TCP: already the nodePort of service default/web"
    ) in res.stderr
    assert kp.ok("get", "svc", "-o", "name").split() == []
    kp.assert_nothing_runs()


def echo_pod(name: str) -> dict[str, Any]:
    ports = [{"containerPort": UDP_ECHO_PORT, "protocol": "UDP"}]
    return labelled(pod(name, command=udp_echo_command(), ports=ports), app="echo")


def test_udp_service_follows_an_endpoint_change(kp: Kubeplay) -> None:
    """A UDP client keeps its source port (one conntrack entry): once its endpoint is gone,
    the stale entry is deleted and the next datagram reaches the other endpoint."""
    svc = service("echo", selector={"app": "echo"}, port=53, target=UDP_ECHO_PORT)
    svc["spec"]["ports"][0]["protocol"] = "UDP"
    first = write(kp, "first.yaml", svc, echo_pod("a"))
    kp.play(first)
    vip = cluster_ip(kp, "echo")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        sock.connect((vip, 53))

        def echoed() -> bool:
            try:
                sock.send(b"ping")
                return sock.recv(64) == b"ping"
            except OSError:
                return False

        assert kp.wait_for("an echo from pod a", echoed)
        kp.play(write(kp, "second.yaml", echo_pod("b")))
        kp.ok("delete", "pod", "a")
        assert kp.wait_for("an echo from pod b on the same flow", echoed, timeout=30)
    kp.ok("down", str(first))


def test_selector_less_service_with_a_user_endpoint_slice(kp: Kubeplay) -> None:
    kp.play(
        write(
            kp,
            "backend.yaml",
            pod("backend", command=HTTPD, ports=[{"containerPort": 8080}]),
            pod("client"),
        )
    )
    ip = kp.pod("backend")["status"]["podIP"]
    slice_doc = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "external-1", "labels": {"kubernetes.io/service-name": "external"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [ip]}],
    }
    path = write(kp, "external.yaml", service("external", target=8080), slice_doc)
    kp.ok("apply", "-f", str(path))
    assert wait_wget(kp, "client", "http://external/") == HELLO
    kp.ok("delete", "-f", str(path))
    assert kp.ok("get", "endpointslices", "-o", "name").split() == []


def test_port_forward_to_a_pod_a_service_and_a_deployment(kp: Kubeplay) -> None:
    loopback_only = "trap 'exit 0' TERM; httpd -f -p 127.0.0.1:8080 -h /var/www & wait $!"
    template = pod("x", command=loopback_only, ports=[{"name": "http", "containerPort": 8080}])
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api"},
        "spec": {
            "replicas": 1,
            "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["api"]}]},
            "template": {"metadata": {"labels": {"app": "api"}}, "spec": template["spec"]},
        },
    }
    kp.play(
        write(
            kp,
            "app.yaml",
            service("web", selector={"app": "web"}, port=80, target="http"),
            labelled(
                pod("web", command=loopback_only, ports=[{"name": "http", "containerPort": 8080}]),
                app="web",
            ),
            deployment,
        )
    )

    def running() -> bool:
        items = json.loads(kp.ok("get", "pods", "-o", "json"))["items"]
        return len(items) == 2 and all(i["status"]["phase"] == "Running" for i in items)

    kp.wait_for("web and the api replica Running", running)
    for resource, spec in (
        ("pod/web", ":8080"),
        ("svc/web", ":80"),  # the Service port, to its targetPort in the pod
        ("web", ":http"),
        ("deploy/api", ":http"),  # a Deployment's pod, by its selector's matchExpressions
        ("pod/web", "127.0.0.1::8080"),  # an address for this pair
    ):
        with subprocess.Popen(
            kp.argv("port-forward", resource, spec),
            env=kp.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        ) as proc:
            try:
                assert proc.stdout is not None
                line = proc.stdout.readline()
                match = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> 8080$", line.strip())
                assert match, (resource, spec, line)
                url = f"http://127.0.0.1:{match.group(1)}/"
                # the server listens on the pod's loopback only: reached inside its netns
                assert kp.wait_for(url, lambda url=url: http_get(url)) == HELLO
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    res = kp("port-forward", "deploy/nope", "80")
    assert res.returncode != 0 and 'deployments.apps "nope" not found' in res.stderr, res.stderr


def test_the_readme_demo_is_reached_through_its_service(kp: Kubeplay) -> None:
    """manifests/demo.yaml (its nodePort made free) as the README says: two replicas behind
    the Service hello, reached from the host by nodePort and cluster IP, and by name from the
    client pod; scripts/demo-info.sh prints those addresses."""
    import os
    import sys

    from e2e.conftest import REPO

    docs = [d for d in yaml.safe_load_all((REPO / "manifests" / "demo.yaml").read_text()) if d]
    node_port = free_node_port()
    (svc,) = [d for d in docs if d["kind"] == "Service"]
    svc["spec"]["ports"][0]["nodePort"] = node_port
    path = write(kp, "demo.yaml", *docs)
    kp.play(path)
    wrapper = kp.tmp / "kubeplay"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m kubeplay "$@"\n')
    os.chmod(wrapper, 0o755)
    info = subprocess.run(
        [str(REPO / "scripts" / "demo-info.sh"), str(wrapper)],
        env=kp.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert info.returncode == 0, info.stderr
    vip = cluster_ip(kp, "hello")
    assert f"curl http://127.0.0.1:{node_port}/ " in info.stdout, info.stdout
    assert f"curl http://{vip}/ " in info.stdout, info.stdout
    for url in (f"http://127.0.0.1:{node_port}/", f"http://{vip}/"):
        got = kp.wait_for(url, lambda url=url: http_get(url))
        assert got.startswith("hello from hello-"), got
    kp.wait_for(
        "the client's answer by name",
        lambda: "GET http://hello/: hello from hello-" in kp.ok("logs", "client"),
        timeout=30,
    )
    kp.ok("down", str(path))


def test_srv_record_cluster_external_name_and_other_namespaces(kp: Kubeplay) -> None:
    alias = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "alias", "namespace": "other"},
        "spec": {"type": "ExternalName", "externalName": "web.default.svc.cluster.local"},
    }
    kp.play(
        write(
            kp,
            "app.yaml",
            service("web", selector={"app": "web"}),
            alias,
            labelled(pod("web", command=HTTPD, ports=[{"containerPort": 8080}]), app="web"),
            pod("client"),
            pod("far", namespace="other"),
        )
    )
    vip = cluster_ip(kp, "web")
    # from another namespace, through its search list
    assert wait_wget(kp, "far", "http://web.default/", namespace="other") == HELLO

    def srv() -> str:
        res = kp(
            "exec",
            "client",
            "--",
            "nslookup",
            "-type=srv",
            "_http._tcp.web.default.svc.cluster.local",
        )
        return res.stdout if "web.default.svc.cluster.local" in res.stdout else ""

    assert re.search(r"\b80\b", kp.wait_for("SRV answer", srv))
    # a name in another namespace, through a CNAME to this one
    assert wait_wget(kp, "client", "http://alias.other.svc.cluster.local/") == HELLO
    assert wait_wget(kp, "client", f"http://{vip}/") == HELLO


def test_lookups_never_fail_while_srv_records_change(kp: Kubeplay) -> None:
    """A headless Service with a named port has one SRV record per ready endpoint, so each
    readiness flip of its pods changes them, and dnsmasq reads SRV records only at start.
    Two loops in a client pod resolve the Service's name meanwhile (libc's resolver, as
    wget's "bad address"): none fails. (A restart of the dnsmasq the pods ask left its port
    closed for some 10-50 ms a change: 10 of 2048 lookups failed here.)"""
    ports = [{"name": "http", "containerPort": 8080}]
    pods = [labelled(pod(f"db-{i}", command=HTTPD, ports=ports), app="db") for i in range(3)]
    for p in pods[1:]:
        p["spec"]["containers"][0]["readinessProbe"] = {
            "exec": {"command": ["test", "-e", "/tmp/ready"]},
            "periodSeconds": 1,
        }
    url = "http://db.default.svc.cluster.local:8080/"  # db-0 is always ready

    def loop(n: int) -> str:
        return (
            "ok=0; bad=0; while :; do "
            f"if timeout 5 wget -qO /dev/null {url} 2>/dev/null; "
            "then ok=$((ok+1)); else bad=$((bad+1)); fi; "
            f'echo "$ok $bad" > /tmp/n{n}.tmp; mv /tmp/n{n}.tmp /tmp/n{n}; done'
        )

    client = pod("client", command=f"({loop(1)}) & ({loop(2)}) & wait")
    svc = service("db", selector={"app": "db"}, target="http", clusterIP="None")
    kp.play(write(kp, "app.yaml", svc, *pods, client))
    dashed = {n: kp.pod(n)["status"]["podIP"].replace(".", "-") for n in ("db-1", "db-2")}
    dashed["db-0"] = kp.pod("db-0")["status"]["podIP"].replace(".", "-")
    srv_name = "_http._tcp.db.default.svc.cluster.local"

    def targets() -> set[str]:
        return {t.split(".", 1)[0] for _, t in srv_answers(kp, srv_name)}

    def counts() -> tuple[int, int]:
        text = kp.exec("client", "cat", "/tmp/n1", "/tmp/n2").split()
        ok, bad = (int(text[0]) + int(text[2]), int(text[1]) + int(text[3]))
        return ok, bad

    assert kp.wait_for("db-0 alone", lambda: targets() == {dashed["db-0"]})
    # the loops resolve (before the Service existed the name was unknown)
    start = kp.wait_for("lookups succeed", lambda: (c := counts())[0] > 0 and c)
    ready = {"db-0"}
    for name in ("db-1", "db-2", "db-1", "db-2") * 2:
        if name in ready:
            kp.exec(name, "rm", "/tmp/ready")
        else:
            kp.exec(name, "touch", "/tmp/ready")
        ready ^= {name}
        want = {dashed[n] for n in ready}
        assert kp.wait_for(f"SRV for {sorted(ready)}", lambda want=want: targets() == want)
    end = counts()
    ok, bad = end[0] - start[0], end[1] - start[1]
    print(f"lookups across 8 SRV changes: {ok} answered, {bad} failed")
    assert ok > 0 and bad == 0, f"{bad} of {ok + bad} lookups failed"
