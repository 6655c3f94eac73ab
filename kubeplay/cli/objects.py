"""`get` and `delete` of ConfigMaps and Secrets, rendered as kubectl does; nothing else.

`main.get` and `main.delete` hand a resource word over here when `services.objects` knows it
(configmaps, cm, secrets...). Columns follow kubectl's printers: NAME DATA AGE for ConfigMaps,
NAME TYPE DATA AGE for Secrets.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import click

from kubeplay.settings import Settings
from kubeplay.state.store import StoredObject


def handles(resource: str) -> bool:
    from kubeplay.services import objects

    return objects.resource_kind(resource) is not None


def _data_count(obj: StoredObject) -> int:
    return len(obj.body.get("data") or {}) + len(obj.body.get("binaryData") or {})


def to_kube(obj: StoredObject) -> dict[str, Any]:
    """The object as the API server returns it: metadata with namespace, uid, creation."""
    from kubeplay.plan import status

    body = dict(obj.body)
    meta = dict(body.get("metadata") or {})
    meta["namespace"] = obj.namespace
    meta["uid"] = obj.uid
    meta["creationTimestamp"] = status.rfc3339(obj.created_at)
    body["metadata"] = meta
    body.setdefault("apiVersion", "v1")
    return body


def get(
    settings: Settings,
    resource: str,
    names: Sequence[str],
    *,
    namespace: str,
    all_namespaces: bool,
    output: str | None,
) -> None:
    from kubeplay.cli import render
    from kubeplay.services import objects

    kind = objects.resource_kind(resource)
    assert kind is not None
    found = objects.get_objects(
        settings, kind, namespace=None if all_namespaces and not names else namespace, names=names
    )
    if output in ("json", "yaml"):
        items = [to_kube(o) for o in found]
        doc = items[0] if len(names) == 1 else {"apiVersion": "v1", "kind": "List", "items": items}
        click.echo(render.dump(doc, output))
        return
    if output == "name":
        for o in found:
            click.echo(f"{kind.lower()}/{o.name}")
        return
    if not found:
        where = "" if all_namespaces else f" in {namespace} namespace"
        click.echo(f"No resources found{where}.", err=True)
        return
    now = time.time()
    headers = ["NAME", "TYPE", "DATA", "AGE"] if kind == "Secret" else ["NAME", "DATA", "AGE"]
    if all_namespaces:
        headers.insert(0, "NAMESPACE")
    rows = []
    for o in found:
        row = [o.name, str(_data_count(o)), render.human_duration(now - o.created_at)]
        if kind == "Secret":
            row.insert(1, str(o.body.get("type") or "Opaque"))
        if all_namespaces:
            row.insert(0, o.namespace)
        rows.append(row)
    click.echo(render.table(headers, rows))


def delete(settings: Settings, resource: str, names: Sequence[str], *, namespace: str) -> None:
    from kubeplay.services import objects

    kind = objects.resource_kind(resource)
    assert kind is not None
    for name in objects.delete_objects(settings, kind, namespace, names):
        click.echo(f'{kind.lower()} "{name}" deleted')


def echo_applied(applied: Any) -> None:
    """kubectl apply's lines for a play's ConfigMaps and Secrets."""
    for verb, refs in (
        ("created", applied.created),
        ("configured", applied.configured),
        ("unchanged", applied.unchanged),
    ):
        for ref in refs:
            click.echo(f"{ref} {verb}")
