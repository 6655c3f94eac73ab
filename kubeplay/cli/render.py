"""Rendering for people and programs: kubectl-style tables, -o json|yaml|name|wide."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from kubeplay.services.pods import PodView


def human_duration(seconds: float) -> str:
    """kubectl's HumanDuration (k8s.io/apimachinery/pkg/util/duration)."""
    s = int(max(0, seconds))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = (s % 3600) // 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def pod_headers(*, namespaces: bool, wide: bool) -> list[str]:
    """kubectl's `get pods` columns (NAMESPACE with -A, IP and NODE with -o wide)."""
    headers = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    if namespaces:
        headers.insert(0, "NAMESPACE")
    if wide:
        headers += ["IP", "NODE"]
    return headers


def pod_row(view: PodView, now: float, *, namespaces: bool, wide: bool) -> list[str]:
    """One pod's `get pods` row, matching `pod_headers`."""
    summary = view.summary
    restarts = str(summary.restarts)
    if summary.last_restart_at:
        restarts += f" ({human_duration(now - summary.last_restart_at)} ago)"
    row = [
        view.record.name,
        summary.ready,
        summary.status,
        restarts,
        human_duration(now - view.record.created_at),
    ]
    if namespaces:
        row.insert(0, view.record.namespace)
    if wide:
        row += [view.status.get("podIP") or "<none>", "localhost"]
    return row


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [headers, *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines)


T = TypeVar("T")


def echo_listing(
    output: str | None,
    found: Sequence[T],
    *,
    to_kube: Callable[[T], dict[str, Any]],
    ref: Callable[[T], str],
    single: bool,
) -> bool:
    """`get -o json|yaml` (the object itself when one NAME was asked, else a v1 List) or
    `-o name` (`kind/name` lines), echoed; False for any other output (a table's)."""
    if output in ("json", "yaml"):
        items = [to_kube(o) for o in found]
        doc = items[0] if single else {"apiVersion": "v1", "kind": "List", "items": items}
        click.echo(dump(doc, output))
        return True
    if output == "name":
        for o in found:
            click.echo(ref(o))
        return True
    return False


def echo_none_found(namespace: str | None) -> None:
    """kubectl's line for an empty listing (of a namespace, or of all/cluster-scoped)."""
    where = "" if namespace is None else f" in {namespace} namespace"
    click.echo(f"No resources found{where}.", err=True)


def dump(obj: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(obj, indent=4)
    import yaml

    return str(yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)).rstrip("\n")
