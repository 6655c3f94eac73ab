"""net.conntrack: the UDP entries of /proc/net/nf_conntrack as the stale-entry sweep reads them."""

from __future__ import annotations

from pathlib import Path

from kubeplay.net import conntrack

SAMPLE = (
    "ipv4     2 udp      17 27 src=10.89.0.5 dst=10.96.0.10 sport=40000 dport=53 "
    "src=10.89.0.7 dst=10.89.0.5 sport=9999 dport=40000 mark=0 zone=0 use=2\n"
    "ipv4     2 tcp      6 12 TIME_WAIT src=10.89.0.1 dst=10.96.0.11 sport=39824 dport=80 "
    "src=10.89.0.8 dst=10.89.0.1 sport=8080 dport=39824 [ASSURED] mark=0 zone=0 use=2\n"
    "ipv4     2 udp      17 3 src=127.0.0.1 dst=127.0.0.1 sport=1 dport=30053 "
    "src=10.89.0.7 dst=10.89.0.1 sport=9999 dport=1 [UNREPLIED] mark=0 zone=0 use=2\n"
)


def test_udp_entries_give_original_destination_and_reply_source(tmp_path: Path) -> None:
    path = tmp_path / "nf_conntrack"
    path.write_text(SAMPLE)
    assert conntrack.udp_entries(path) == [
        ("10.96.0.10", 53, "10.89.0.7"),
        ("127.0.0.1", 30053, "10.89.0.7"),
    ]


def test_udp_entries_without_conntrack(tmp_path: Path) -> None:
    assert conntrack.udp_entries(tmp_path / "missing") == []


def test_udp_entries_read_past_accounting_and_unreplied_between_the_tuples(
    tmp_path: Path,
) -> None:
    """With nf_conntrack_acct=1 the kernel writes packets= and bytes= after each tuple, and
    [UNREPLIED] after the original one; IPv6 entries have the same layout."""
    path = tmp_path / "nf_conntrack"
    path.write_text(
        "ipv4     2 udp      17 29 src=10.89.0.5 dst=10.96.0.10 sport=4 dport=53 packets=1 "
        "bytes=60 [UNREPLIED] src=10.89.0.9 dst=10.89.0.5 sport=53 dport=4 packets=0 bytes=0 "
        "mark=0 zone=0 use=2\n"
        "ipv6     10 udp      17 29 src=fd00::5 dst=fd00:96::10 sport=4 dport=5353 "
        "src=fd00::7 dst=fd00::5 sport=5353 dport=4 mark=0 zone=0 use=2\n"
        "ipv4     2 tcp      6 12 TIME_WAIT src=10.89.0.1 dst=10.96.0.11 sport=39824 "
        "dport=80 src=10.89.0.8 dst=10.89.0.1 sport=8080 dport=39824 [ASSURED] use=2\n"
    )
    assert conntrack.udp_entries(path) == [
        ("10.96.0.10", 53, "10.89.0.9"),
        ("fd00:96::10", 5353, "fd00::7"),
    ]
