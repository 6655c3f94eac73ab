"""hostPort claims: which pod holds which (host address, port, protocol), and whether new pods
clash with those already held.

A port is held once per protocol on an address; 0.0.0.0 (no hostIP) overlaps every address, as
for a socket bound to it. The engine calls `find_conflict` with the store's pods, once before
anything is made and again inside the store transaction that inserts the new pods, so of two
plays at once exactly one gets the port. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kubeplay.plan.pods import PodPlan
from kubeplay.plan.services import ServiceSpec

ANY = "0.0.0.0"


@dataclass(frozen=True, slots=True)
class Claim:
    host_ip: str
    host_port: int
    protocol: str
    pod: str  # namespace/name

    def overlaps(self, other: Claim) -> bool:
        return (
            self.host_port == other.host_port
            and self.protocol == other.protocol
            and (self.host_ip == other.host_ip or ANY in (self.host_ip, other.host_ip))
        )


def claims(plan: PodPlan) -> tuple[Claim, ...]:
    return tuple(
        Claim(p.host_ip or ANY, p.host_port, p.protocol, plan.ref) for p in plan.host_ports()
    )


def find_conflict(
    held: Iterable[PodPlan], new: Sequence[PodPlan], *, replacing: Iterable[str] = ()
) -> str | None:
    """The first hostPort of `new` that a pod of `held` (other than those `replacing`, by
    namespace/name) or an earlier pod of `new` already holds, as a message; None if none."""
    skip = set(replacing)
    taken = [c for plan in held if plan.ref not in skip for c in claims(plan)]
    for plan in new:
        for claim in claims(plan):
            owner = next((t for t in taken if t.overlaps(claim)), None)
            if owner is not None:
                return (
                    f"pod {plan.ref}: hostPort {claim.host_port}/{claim.protocol}: "
                    f"already used by pod {owner.pod}"
                )
            taken.append(claim)
    return None


def node_ports(services: Iterable[ServiceSpec]) -> dict[tuple[int, str], str]:
    """The Services' nodePorts, (port, protocol) -> the Service (namespace/name): kube-proxy
    holds them on every host address, so a hostPort may not take one."""
    return {
        (p.node_port, p.protocol): svc.ref for svc in services for p in svc.ports if p.node_port
    }


def node_port_conflict(plan: PodPlan, held: Mapping[tuple[int, str], str]) -> str | None:
    """The first hostPort of `plan` that is a Service's nodePort (of `held`), as a message."""
    for p in plan.host_ports():
        svc = held.get((p.host_port, p.protocol))
        if svc is not None:
            return (
                f"pod {plan.ref}: hostPort {p.host_port}/{p.protocol}: already the nodePort "
                f"of service {svc}"
            )
    return None
