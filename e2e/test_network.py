"""Pod networking through the CLI: pod-to-pod HTTP by IP and by name, pod IPs in `get`,
hostPort over TCP and UDP (from 127.0.0.1 and from pods), conflicting hostPorts refused
before anything is made, resolv.conf / hosts / hostname per dnsPolicy, hostNetwork, and
nothing left behind after down, delete and `system reset`.

Traffic goes only to 127.0.0.1 and to addresses in the test's own subnet (pods, gateway);
KUBEPLAY_DNS_UPSTREAM=none keeps every DNS query on the test's dnsmasq.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import random
import re
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.conftest import IMAGE, SLEEPER, Kubeplay

pytestmark = pytest.mark.root

HELLO = "hello from kubeplay\n"  # /var/www/index.html of the test image
HTTPD = "trap 'exit 0' TERM; httpd -f -p 8080 -h /var/www & wait $!"


# --- a UDP echo server for the pod ---------------------------------------------------------
# busybox's nc here has no -u and the image has no other UDP server, so the UDP pod writes
# this 280-byte static x86-64 program to /tmp and runs it. It binds 0.0.0.0:9999/udp and
# sends every datagram back to its sender:
#   socket(AF_INET, SOCK_DGRAM, 0); bind(fd, {AF_INET, 9999, 0.0.0.0}, 16) or exit(1)
#   loop: n = recvfrom(fd, buf, 1984, 0, &peer, &len); if n >= 0: sendto(fd, buf, n, 0, &peer, 16)
UDP_ECHO_PORT = 9999
_UDP_ECHO_CODE = bytes.fromhex(
    "b829000000bf02000000be0200000031d20f054189c44881ec0008000048c704240200270f48c744"
    "240800000000b8310000004489e74889e6ba100000000f0585c07550c744242010000000b82d0000"
    "004489e7488d742440bac00700004531d24c8d4424104c8d4c24200f054885c078d24889c2b82c00"
    "00004489e7488d7424404531d24c8d44241041b9100000000f05ebb0b83c000000bf010000000f05"
)


def _udp_echo_elf() -> bytes:
    """A minimal static ELF64 executable: one PT_LOAD (R+X) holding the headers and code."""
    base, headers = 0x400000, 64 + 56
    size = headers + len(_UDP_ECHO_CODE)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little endian, SysV
    ehdr = ident + struct.pack(
        "<HHIQQQIHHHHHH", 2, 0x3E, 1, base + headers, 64, 0, 0, 64, 56, 1, 0, 0, 0
    )
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    return ehdr + phdr + _UDP_ECHO_CODE


def udp_echo_command() -> str:
    assert os.uname().machine == "x86_64", "the UDP echo server is x86-64 code"
    b64 = base64.b64encode(_udp_echo_elf()).decode()
    return (
        f"echo {b64} | base64 -d > /tmp/udpecho && chmod 755 /tmp/udpecho"
        " && trap 'exit 0' TERM && /tmp/udpecho & wait $!"
    )


# --- manifests -------------------------------------------------------------------------------


def pod(
    name: str,
    *,
    command: str = SLEEPER,
    namespace: str | None = None,
    ports: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": IMAGE, "command": ["sh", "-c", command]}
    if ports:
        container["ports"] = ports
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"terminationGracePeriodSeconds": 1, **spec, "containers": [container]},
    }


def write(kp: Kubeplay, name: str, *pods: dict[str, Any]) -> Path:
    return kp.write(name, yaml.safe_dump_all(pods, sort_keys=False))


# --- host side helpers -----------------------------------------------------------------------


def gateway(kp: Kubeplay) -> str:
    return str(ipaddress.ip_network(kp.env["KUBEPLAY_SUBNET"]).network_address + 1)


def in_subnet(kp: Kubeplay, ip: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(kp.env["KUBEPLAY_SUBNET"])


def nft_ruleset() -> str:
    return subprocess.run(
        ["nft", "list", "ruleset"], capture_output=True, text=True, check=False
    ).stdout


def nft_table(kp: Kubeplay) -> str:
    """`nft list table` of the test's own table ("" when there is none)."""
    table = "kubeplay_" + kp.bridge.replace("-", "_")
    return subprocess.run(
        ["nft", "list", "table", "ip", table], capture_output=True, text=True, check=False
    ).stdout


def free_port() -> int:
    """A random port in 20000-40000 free for TCP and UDP on every address, and not DNATed
    by any nft rule on this host (another test's hostPort)."""
    rules = nft_ruleset()
    for _ in range(200):
        port = random.randrange(20000, 40001)
        if re.search(rf"dport {port}\b", rules):
            continue
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, kind) as sock:
                    sock.bind(("0.0.0.0", port))
        except OSError:
            continue
        return port
    raise AssertionError("no free port in 20000-40000")


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str) -> str | None:
    """GET from the test process itself (never through a proxy); None when it fails."""
    try:
        with _NO_PROXY.open(url, timeout=5) as resp:
            body: bytes = resp.read()
            return body.decode()
    except (OSError, urllib.error.URLError):
        return None


def wget(kp: Kubeplay, pod_name: str, url: str, namespace: str = "default") -> str | None:
    """busybox wget in the pod (its -T crashes, hence timeout); the body, or None."""
    res = kp("exec", "-n", namespace, pod_name, "--", "timeout", "5", "wget", "-qO-", url)
    return res.stdout if res.returncode == 0 else None


def wait_wget(kp: Kubeplay, pod_name: str, url: str, namespace: str = "default") -> str:
    got: str = kp.wait_for(f"{url} from pod {pod_name}", lambda: wget(kp, pod_name, url, namespace))
    return got


def udp_echo(port: int, payload: bytes) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        sock.connect(("127.0.0.1", port))
        try:
            sock.send(payload)
            return sock.recv(2048)
        except OSError:  # timeout, or ECONNREFUSED from an ICMP port unreachable
            return None


def veth_of(uid: str) -> str:
    return "kp" + uid.replace("-", "")[:12]


def link_exists(name: str) -> bool:
    return (Path("/sys/class/net") / name).exists()


def netns_file(kp: Kubeplay, uid: str) -> Path:
    return kp.runroot / "netns" / uid


def dnsmasq_pids(kp: Kubeplay) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"dnsmasq") and str(kp.runroot).encode() in b" ".join(argv):
            found.append(int(entry.name))
    return found


def host_addresses() -> set[str]:
    out = subprocess.run(
        ["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=True
    ).stdout
    return {line.split()[3].split("/")[0] for line in out.splitlines()}


def parse_resolv(text: str) -> dict[str, list[str]]:
    """nameservers, search domains and options of a resolv.conf, in order."""
    got: dict[str, list[str]] = {"nameserver": [], "search": [], "options": []}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        key, values = fields[0], fields[1:]
        assert key in got, f"unexpected resolv.conf line {line!r} in:\n{text}"
        if key == "nameserver":
            got[key] += values[:1]
        elif key == "search":
            got[key] = values
        else:
            got[key] += values
    return got


# --- pod to pod -------------------------------------------------------------------------------


def test_pod_to_pod_http_by_ip(kp: Kubeplay) -> None:
    path = write(kp, "pods.yaml", pod("web", command=HTTPD), pod("client"))
    kp.play(path)
    web_ip = kp.pod("web")["status"]["podIP"]
    client_ip = kp.pod("client")["status"]["podIP"]
    assert in_subnet(kp, web_ip) and in_subnet(kp, client_ip)
    assert web_ip != client_ip
    assert wait_wget(kp, "client", f"http://{web_ip}:8080/") == HELLO
    # A pod reaches its own IP too.
    assert wait_wget(kp, "web", f"http://{web_ip}:8080/") == HELLO


def test_pod_to_pod_http_by_hostname_and_subdomain_name(kp: Kubeplay) -> None:
    """The bare hostname is kubeplay's; `<hostname>.<subdomain>...` exists, as in a cluster,
    while the headless Service `<subdomain>` selects the pod (e2e/test_services.py checks
    the name goes with the Service)."""
    web = pod("web-0", command=HTTPD, namespace="shop", hostname="web", subdomain="front")
    web["metadata"]["labels"] = {"app": "front"}
    headless = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "front", "namespace": "shop"},
        "spec": {"clusterIP": "None", "selector": {"app": "front"}},
    }
    path = write(kp, "pods.yaml", headless, web, pod("client", namespace="shop"))
    kp.play(path)
    # The names come from dnsmasq on the gateway, the pod's only nameserver.
    resolv = parse_resolv(kp.exec("client", "cat", "/etc/resolv.conf", namespace="shop"))
    assert resolv["nameserver"] == [gateway(kp)]
    for url in (
        "http://web:8080/",
        "http://web.front.shop.svc.cluster.local:8080/",
        "http://web.front:8080/",  # through the search list
    ):
        assert wait_wget(kp, "client", url, namespace="shop") == HELLO, url
    web_ip = kp.pod("web-0", "shop")["status"]["podIP"]
    answer = kp.exec(
        "client",
        "nslookup",
        "-type=a",
        "web.front.shop.svc.cluster.local",
        gateway(kp),
        namespace="shop",
    )
    assert re.search(rf"Address:\s+{re.escape(web_ip)}$", answer, re.M), answer


# --- what get shows ---------------------------------------------------------------------------


def test_get_wide_and_json_show_the_pod_ip(kp: Kubeplay) -> None:
    kp.play(write(kp, "pods.yaml", pod("one"), pod("two")))
    ips = {}
    for name in ("one", "two"):
        status = kp.pod(name)["status"]
        ip = status["podIP"]
        assert in_subnet(kp, ip), status
        assert ip != gateway(kp)
        assert status["podIPs"] == [{"ip": ip}]
        assert status["hostIP"] in host_addresses(), status
        ips[name] = ip
    assert ips["one"] != ips["two"]

    table = kp.ok("get", "pods", "-o", "wide").splitlines()
    header = table[0].split()
    assert header[:6] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"], table[0]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    for name, ip in ips.items():
        assert rows[name][header.index("IP")] == ip, table

    listed = json.loads(kp.ok("get", "pods", "-o", "json"))["items"]
    assert {i["metadata"]["name"]: i["status"]["podIP"] for i in listed} == ips


# --- hostPort -----------------------------------------------------------------------------


def test_tcp_host_port_from_localhost_and_from_pods(kp: Kubeplay) -> None:
    port = free_port()
    web = pod("web", command=HTTPD, ports=[{"containerPort": 8080, "hostPort": port}])
    kp.play(write(kp, "pods.yaml", web, pod("client")))

    got = kp.wait_for(f"127.0.0.1:{port}", lambda: http_get(f"http://127.0.0.1:{port}/"))
    assert got == HELLO
    # From another pod through the gateway, and from the serving pod itself (hairpin).
    assert wait_wget(kp, "client", f"http://{gateway(kp)}:{port}/") == HELLO
    assert wait_wget(kp, "web", f"http://{gateway(kp)}:{port}/") == HELLO
    rules = nft_table(kp)
    web_ip = kp.pod("web")["status"]["podIP"]
    assert re.search(rf"tcp dport {port} dnat to {re.escape(web_ip)}:8080\b", rules), rules
    # The gateway is one of the host's own addresses: the host reaches the port there too.
    assert http_get(f"http://{gateway(kp)}:{port}/") == HELLO


def test_replaying_a_pod_keeps_its_host_port(kp: Kubeplay) -> None:
    port = free_port()
    web = pod("web", command=HTTPD, ports=[{"containerPort": 8080, "hostPort": port}])
    path = write(kp, "pods.yaml", web)
    kp.play(path)
    old_uid = kp.pod("web")["metadata"]["uid"]
    assert kp.wait_for("hostPort", lambda: http_get(f"http://127.0.0.1:{port}/")) == HELLO

    # --replace: the pod's own hostPort is no conflict; the new pod gets it.
    web["spec"]["containers"][0]["env"] = [{"name": "CHANGED", "value": "1"}]
    kp.ok("play", "--replace", str(write(kp, "pods.yaml", web)))
    new = kp.pod("web")
    assert new["metadata"]["uid"] != old_uid
    assert not link_exists(veth_of(old_uid)) and not netns_file(kp, old_uid).exists()
    assert kp.wait_for("hostPort", lambda: http_get(f"http://127.0.0.1:{port}/")) == HELLO
    rules = nft_table(kp)
    assert len(re.findall(rf"dport {port}\b", rules)) == 1, rules
    assert f"dnat to {new['status']['podIP']}:8080" in rules, rules


def test_replaying_without_replace_says_the_pod_exists_not_a_port_conflict(
    kp: Kubeplay,
) -> None:
    """Without a hostPort, a second `play` of the same file says "already exists (use
    --replace ...)"; with one it must say the same, not that the pod's port is taken by
    itself."""
    port = free_port()
    path = write(kp, "pods.yaml", pod("web", ports=[{"containerPort": 8080, "hostPort": port}]))
    kp.play(path)
    res = kp("play", str(path))
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "already exists" in res.stderr and "--replace" in res.stderr, res.stderr
    assert "already used by pod default/web" not in res.stderr, res.stderr


def test_host_port_with_host_ip_localhost(kp: Kubeplay) -> None:
    port = free_port()
    ports = [{"containerPort": 8080, "hostPort": port, "hostIP": "127.0.0.1"}]
    kp.play(write(kp, "pods.yaml", pod("web", command=HTTPD, ports=ports)))
    got = kp.wait_for(f"127.0.0.1:{port}", lambda: http_get(f"http://127.0.0.1:{port}/"))
    assert got == HELLO
    # The DNAT rule matches 127.0.0.1 only, not every local address.
    rules = nft_table(kp)
    assert re.search(rf"ip daddr 127\.0\.0\.1 tcp dport {port} dnat to", rules), rules


def test_udp_host_port_from_localhost(kp: Kubeplay) -> None:
    port = free_port()
    ports = [
        {"containerPort": UDP_ECHO_PORT, "hostPort": port, "protocol": "UDP"},
        # The same number over TCP is a different hostPort: no conflict.
        {"containerPort": 8080, "hostPort": port, "protocol": "TCP"},
    ]
    command = "httpd -p 8080 -h /var/www && " + udp_echo_command()
    kp.play(write(kp, "pods.yaml", pod("echo", command=command, ports=ports)))

    payload = b"kubeplay-udp-" + os.urandom(8).hex().encode()
    got = kp.wait_for(f"udp 127.0.0.1:{port}", lambda: udp_echo(port, payload))
    assert got == payload
    for n in range(3):  # each datagram answered, not just the first
        assert udp_echo(port, payload + bytes([48 + n])) == payload + bytes([48 + n])
    assert kp.wait_for("tcp", lambda: http_get(f"http://127.0.0.1:{port}/")) == HELLO


# --- conflicting hostPorts ----------------------------------------------------------------


def assert_nothing_made(kp: Kubeplay) -> None:
    kp.assert_nothing_runs()
    netns_dir = kp.runroot / "netns"
    left = list(netns_dir.iterdir()) if netns_dir.is_dir() else []
    assert left == [], f"netns files left: {left}"
    brif = Path("/sys/class/net") / kp.bridge / "brif"
    assert not brif.is_dir() or list(brif.iterdir()) == []


def test_same_host_port_twice_in_one_file_is_refused(kp: Kubeplay) -> None:
    port = free_port()
    path = write(
        kp,
        "pods.yaml",
        pod("first", ports=[{"containerPort": 80, "hostPort": port}]),
        pod("second", ports=[{"containerPort": 81, "hostPort": port}]),
    )
    res = kp("play", str(path))
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "second" in res.stderr and str(port) in res.stderr, res.stderr
    assert "first" in res.stderr, res.stderr  # who holds it
    assert_nothing_made(kp)


def test_concurrent_plays_never_share_a_host_port(kp: Kubeplay) -> None:
    """Two plays at once claiming one hostPort: in every round exactly one wins, the other
    fails naming the port and leaves nothing."""
    for round_ in range(10):
        port = free_port()
        files = [
            write(kp, f"{side}{round_}.yaml", pod(f"{side}{round_}", ports=[
                {"containerPort": 80, "hostPort": port}
            ]))
            for side in ("a", "b")
        ]  # fmt: skip
        results = kp.together(*(("play", str(f)) for f in files))
        codes = sorted(r.returncode for r in results)
        assert codes == [0, 1], [(r.returncode, r.stderr) for r in results]
        loser = next(r for r in results if r.returncode == 1)
        assert f"hostPort {port}/TCP: already used by pod" in loser.stderr, loser.stderr
        winner = next(
            f"{side}{round_}" for side, r in zip("ab", results, strict=True) if r.returncode == 0
        )
        assert kp.pod_names() == [f"pod/{winner}"]
        rules = nft_table(kp)
        assert len(re.findall(rf"dport {port}\b", rules)) == 1, rules
        netns = list((kp.runroot / "netns").iterdir())
        assert [p.name for p in netns] == [kp.pod(winner)["metadata"]["uid"]]
        kp.ok("delete", "pod", winner)


def test_host_port_of_a_running_pod_is_refused(kp: Kubeplay) -> None:
    port = free_port()
    kp.play(write(kp, "a.yaml", pod("holder", ports=[{"containerPort": 80, "hostPort": port}])))
    uid = kp.pod("holder")["metadata"]["uid"]
    res = kp(
        "play",
        str(write(kp, "b.yaml", pod("late", ports=[{"containerPort": 81, "hostPort": port}]))),
    )
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "late" in res.stderr and str(port) in res.stderr and "holder" in res.stderr
    assert kp.pod_names() == ["pod/holder"]
    assert [p.name for p in (kp.runroot / "netns").iterdir()] == [uid]
    brif = Path("/sys/class/net") / kp.bridge / "brif"
    assert [p.name for p in brif.iterdir()] == [veth_of(uid)]


@pytest.mark.parametrize(
    ("kind", "address", "protocol"),
    [
        pytest.param(socket.SOCK_STREAM, "127.0.0.1", "TCP", id="tcp-listener-on-127.0.0.1"),
        pytest.param(socket.SOCK_STREAM, "0.0.0.0", "TCP", id="tcp-listener-on-any"),
        pytest.param(socket.SOCK_DGRAM, "127.0.0.1", "UDP", id="udp-socket-on-127.0.0.1"),
    ],
)
def test_host_port_held_by_a_host_process_is_refused(
    kp: Kubeplay, kind: socket.SocketKind, address: str, protocol: str
) -> None:
    port = free_port()
    ports = [{"containerPort": 80, "hostPort": port, "protocol": protocol}]
    path = write(kp, "pods.yaml", pod("web", ports=ports))
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((address, port))
        if kind == socket.SOCK_STREAM:
            sock.listen()
        res = kp("play", str(path))
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "web" in res.stderr and str(port) in res.stderr, res.stderr
    assert_nothing_made(kp)


# --- /etc/resolv.conf, /etc/hosts, /etc/hostname ------------------------------------------


def test_resolv_conf_follows_dns_policy(kp: Kubeplay) -> None:
    gw = gateway(kp)
    other = str(ipaddress.ip_network(kp.env["KUBEPLAY_SUBNET"]).network_address + 53)
    config = {
        "nameservers": [other],
        "searches": ["extra.example"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
    }
    kp.play(
        write(
            kp,
            "pods.yaml",
            pod("cluster-first", namespace="dnsns"),
            pod("default", namespace="dnsns", dnsPolicy="Default"),
            pod("none", namespace="dnsns", dnsPolicy="None", dnsConfig=config),
            pod("merged", namespace="dnsns", dnsPolicy="ClusterFirst", dnsConfig=config),
        )
    )
    host = parse_resolv(Path("/etc/resolv.conf").read_text())
    own = ["dnsns.svc.cluster.local", "svc.cluster.local", "cluster.local"]

    def resolv(name: str) -> dict[str, list[str]]:
        return parse_resolv(kp.exec(name, "cat", "/etc/resolv.conf", namespace="dnsns"))

    assert resolv("cluster-first") == {
        "nameserver": [gw],
        "search": own + [s for s in host["search"] if s not in own],
        "options": ["ndots:5"],
    }
    assert resolv("default") == {
        "nameserver": host["nameserver"][:3],
        "search": host["search"],
        "options": host["options"],
    }
    assert resolv("none") == {
        "nameserver": [other],
        "search": ["extra.example"],
        "options": ["ndots:2", "edns0"],
    }
    assert resolv("merged") == {
        "nameserver": [gw, other],
        "search": own + [s for s in host["search"] if s not in own] + ["extra.example"],
        "options": ["ndots:2", "edns0"],
    }


def test_etc_hosts_and_hostname(kp: Kubeplay) -> None:
    alias_ip = str(ipaddress.ip_network(kp.env["KUBEPLAY_SUBNET"]).network_address + 200)
    aliases = [{"ip": alias_ip, "hostnames": ["foo.local", "bar.local"]}]
    kp.play(
        write(
            kp,
            "pods.yaml",
            pod("plain", hostAliases=aliases),
            pod("named", hostname="db", subdomain="back"),
        )
    )
    plain_ip = kp.pod("plain")["status"]["podIP"]
    hosts = [line.split() for line in kp.exec("plain", "cat", "/etc/hosts").splitlines()]
    assert ["127.0.0.1", "localhost"] in hosts
    assert [plain_ip, "plain"] in hosts
    assert [alias_ip, "foo.local", "bar.local"] in hosts
    assert hosts.index([plain_ip, "plain"]) < hosts.index([alias_ip, "foo.local", "bar.local"])
    assert kp.exec("plain", "cat", "/etc/hostname") == "plain\n"
    assert kp.exec("plain", "hostname") == "plain\n"

    named_ip = kp.pod("named")["status"]["podIP"]
    hosts = [line.split() for line in kp.exec("named", "cat", "/etc/hosts").splitlines()]
    assert [named_ip, "db.back.default.svc.cluster.local", "db"] in hosts
    assert kp.exec("named", "cat", "/etc/hostname") == "db\n"
    assert kp.exec("named", "hostname") == "db\n"


# --- hostNetwork ---------------------------------------------------------------------------


def test_host_network_pod_uses_the_host_network(kp: Kubeplay) -> None:
    port = free_port()
    server = f"trap 'exit 0' TERM; httpd -f -p 127.0.0.1:{port} -h /var/www & wait $!"
    kp.play(
        write(
            kp,
            "pods.yaml",
            pod("bridged"),  # so the test bridge exists
            pod(
                "hostnet",
                command=server,
                hostNetwork=True,
                ports=[{"containerPort": port, "hostPort": port}],
            ),
        )
    )
    assert kp.exec("hostnet", "hostname").strip() == socket.gethostname()
    assert kp.exec("hostnet", "cat", "/etc/hostname").strip() == socket.gethostname()
    devices = kp.exec("hostnet", "cat", "/proc/net/dev")
    assert re.search(rf"^\s*{re.escape(kp.bridge)}:", devices, re.M), devices
    bridged = kp.exec("bridged", "cat", "/proc/net/dev")
    assert kp.bridge not in bridged
    # ClusterFirst falls back to Default on the host network.
    host = parse_resolv(Path("/etc/resolv.conf").read_text())
    assert (
        parse_resolv(kp.exec("hostnet", "cat", "/etc/resolv.conf"))["nameserver"]
        == (host["nameserver"][:3])
    )

    uid = kp.pod("hostnet")["metadata"]["uid"]
    assert not netns_file(kp, uid).exists()
    assert not link_exists(veth_of(uid))
    assert kp.pod("hostnet")["status"]["hostIP"] in host_addresses()
    # The hostPort is a plain host port: the pod's own socket, no DNAT rule.
    got = kp.wait_for(f"127.0.0.1:{port}", lambda: http_get(f"http://127.0.0.1:{port}/"))
    assert got == HELLO
    assert not re.search(rf"dport {port}\b", nft_table(kp))


def test_host_network_pod_ip_and_hosts_file_as_kubelet(kp: Kubeplay) -> None:
    """kubelet: a hostNetwork pod's podIP(s) are the host's IPs (generateAPIPodStatus), and
    its /etc/hosts is the host's file plus hostAliases (nodeHostsFileContent)."""
    alias_ip = str(ipaddress.ip_network(kp.env["KUBEPLAY_SUBNET"]).network_address + 200)
    aliases = [{"ip": alias_ip, "hostnames": ["foo.local"]}]
    kp.play(write(kp, "pods.yaml", pod("hostnet", hostNetwork=True, hostAliases=aliases)))

    table = kp.ok("get", "pods", "-o", "wide").splitlines()
    status = kp.pod("hostnet")["status"]
    host_ip = status["hostIP"]
    assert host_ip in host_addresses()
    assert status.get("podIP") == host_ip, (status, table)
    assert status.get("podIPs") == [{"ip": host_ip}], status
    assert table[1].split()[table[0].split().index("IP")] == host_ip, table

    res = kp("exec", "hostnet", "--", "cat", "/etc/hosts")
    assert res.returncode == 0, f"no /etc/hosts in the hostNetwork pod: {res.stderr}"
    hosts = [line.split() for line in res.stdout.splitlines()]
    for line in Path("/etc/hosts").read_text().splitlines():
        if line.split() and not line.startswith("#"):
            assert line.split() in hosts, (line, res.stdout)
    assert [alias_ip, "foo.local"] in hosts, res.stdout


# --- leftovers --------------------------------------------------------------------------------


def test_down_delete_and_reset_leave_nothing(kp: Kubeplay) -> None:
    port = free_port()
    a = write(
        kp, "a.yaml", pod("a", command=HTTPD, ports=[{"containerPort": 8080, "hostPort": port}])
    )
    b = write(kp, "b.yaml", pod("b"))
    kp.play(a)
    kp.play(b)
    pa, pb = kp.pod("a"), kp.pod("b")
    uid_a, ip_a = pa["metadata"]["uid"], pa["status"]["podIP"]
    uid_b = pb["metadata"]["uid"]
    for uid in (uid_a, uid_b):
        assert link_exists(veth_of(uid))
        assert netns_file(kp, uid).exists()
    assert wait_wget(kp, "b", "http://a:8080/") == HELLO
    assert f"dport {port}" in nft_table(kp)

    kp.ok("down", str(a))
    assert not link_exists(veth_of(uid_a))
    assert not netns_file(kp, uid_a).exists()
    rules = nft_table(kp)  # b still runs: the table stays, without a's rule
    assert rules, "the nft table went away while pod b runs"
    assert f"dport {port}" not in rules and ip_a not in rules and '"default/a"' not in rules
    hosts = (kp.runroot / "dns" / "hosts").read_text()
    assert not re.search(r"\ba$", hosts, re.M) and ip_a not in hosts, hosts
    assert wget(kp, "b", "http://a:8080/") is None
    lookup = kp("exec", "b", "--", "nslookup", "-type=a", "a", gateway(kp))
    assert lookup.returncode != 0 and ip_a not in lookup.stdout, lookup.stdout

    # The lease was released: a comes back on the lowest free address, its old one.
    kp.play(a)
    uid_a2 = kp.pod("a")["metadata"]["uid"]
    assert kp.pod("a")["status"]["podIP"] == ip_a
    kp.ok("down", str(a))
    kp.ok("delete", "pod", "b")
    for uid in (uid_a, uid_a2, uid_b):
        assert not link_exists(veth_of(uid)), uid
        assert not netns_file(kp, uid).exists(), uid
    assert not re.search(r"dnat to", nft_table(kp))
    assert dnsmasq_pids(kp), "dnsmasq belongs to the node network and stays until reset"

    kp.ok("system", "reset", "--force")
    assert not link_exists(kp.bridge)
    assert nft_table(kp) == ""
    table = "table ip kubeplay_" + kp.bridge.replace("-", "_")
    assert table not in nft_ruleset()
    deadline = time.monotonic() + 5
    while dnsmasq_pids(kp) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dnsmasq_pids(kp) == []
    assert gateway(kp) not in host_addresses()
