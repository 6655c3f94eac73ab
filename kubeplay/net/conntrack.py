"""Conntrack entries of Services, deleted when an endpoint goes (pyroute2's ctnetlink socket).

A UDP "connection" to a Service keeps its conntrack entry, DNATed to the endpoint it first got,
for as long as datagrams keep coming: after that endpoint is gone the client would send into
the void. kube-proxy deletes such entries after each sync (`conntrack.CleanStaleEntries`);
this does the same for one Service port. Decides nothing: the engine says which.
"""

from __future__ import annotations

import socket
from collections.abc import Collection

from kubeplay import log
from kubeplay.errors import NetworkError

_log = log.get_logger(__name__)


def delete_udp_entries(*, dst_ip: str | None, dst_port: int, endpoints: Collection[str]) -> int:
    """Delete the UDP entries whose original destination is `dst_ip`:`dst_port` (`dst_ip`
    None: any address, a NodePort) and whose reply comes from one of `endpoints`; returns how
    many went. An entry gone meanwhile is fine."""
    from pyroute2 import Conntrack, NetlinkError
    from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

    if not endpoints:
        return 0
    wanted = NFCTAttrTuple(proto=socket.IPPROTO_UDP, daddr=dst_ip, dport=dst_port)
    ct = Conntrack()
    try:
        stale = [
            e
            for e in ct.dump_entries(tuple_orig=wanted)
            if e.tuple_reply.saddr in endpoints
            and e.tuple_orig.dport == dst_port
            and (dst_ip is None or e.tuple_orig.daddr == dst_ip)
        ]
        gone = 0
        for entry in stale:
            try:
                ct.delete(entry)
                gone += 1
            except NetlinkError:
                continue  # expired or deleted meanwhile
    except (OSError, NetlinkError) as err:
        raise NetworkError(f"conntrack udp {dst_ip or '*'}:{dst_port}: {err}") from err
    finally:
        ct.close()
    if gone:
        _log.debug("conntrack_deleted", dst=f"{dst_ip or '*'}:{dst_port}", entries=gone)
    return gone
