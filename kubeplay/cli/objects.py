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
    if render.echo_listing(
        output,
        found,
        to_kube=to_kube,
        ref=lambda o: f"{kind.lower()}/{o.name}",
        single=len(names) == 1,
    ):
        return
    if not found:
        render.echo_none_found(None if all_namespaces else namespace)
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


# --- every stored kind ---------------------------------------------------------------------


def _columns(kind: str) -> list[str]:
    if kind == "ConfigMap":
        return ["NAME", "DATA", "AGE"]
    if kind == "Secret":
        return ["NAME", "TYPE", "DATA", "AGE"]
    if kind == "Deployment":
        return ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    if kind == "ReplicaSet":
        return ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    if kind in ("Job", "CronJob"):
        from kubeplay.services import jobs

        return list(jobs.JOB_COLUMNS if kind == "Job" else jobs.CRONJOB_COLUMNS)
    if kind == "PersistentVolumeClaim":
        return ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "AGE"]
    if kind in _SET_COLUMNS:
        return ["NAME", *_SET_COLUMNS[kind], "AGE"]
    if kind == "Service":
        return ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    if kind == "Endpoints":
        return ["NAME", "ENDPOINTS", "AGE"]
    if kind == "EndpointSlice":
        return ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    return ["NAME", "AGE"]


# kubectl shows three items of a list, then " + N more..." (printers.go, formatEndpoints).
_SHOWN = 3


def _more(items: list[str], count: int, empty: str) -> str:
    text = ",".join(items[:_SHOWN])
    if count > _SHOWN:
        return f"{text} + {count - _SHOWN} more..."
    return text or empty


def endpoints_cell(body: dict[str, Any]) -> str:
    """kubectl's ENDPOINTS of a v1 Endpoints: ip:port of the ready addresses, port by port
    (an address alone for a subset without ports), `<none>` without subsets."""
    subsets = body.get("subsets") or ()
    if not subsets:
        return "<none>"
    items: list[str] = []
    count = 0
    for ss in subsets:
        addresses = [str(a.get("ip")) for a in ss.get("addresses") or ()]
        ports = ss.get("ports") or ()
        if not ports:
            count += len(addresses)
            items += addresses
            continue
        for port in ports:
            count += len(addresses)
            items += [f"{ip}:{port.get('port')}" for ip in addresses]
    return _more(items, count, "")


def endpoint_slice_cells(body: dict[str, Any]) -> list[str]:
    """kubectl's ADDRESSTYPE, PORTS and ENDPOINTS of an EndpointSlice (every address, ready
    or not; `<unset>` for none)."""
    ports = [
        str(p["port"]) if p.get("port") is not None else str(p.get("name") or "*")
        for p in body.get("ports") or ()
    ]
    addresses = [str(a) for e in body.get("endpoints") or () for a in e.get("addresses") or ()]
    return [
        str(body.get("addressType") or ""),
        _more(ports, len(ports), "<unset>"),
        _more(addresses, len(addresses), "<unset>"),
    ]


# kubectl's columns between NAME and AGE, from the status the controllers write.
_SET_COLUMNS = {
    "StatefulSet": ["READY"],
    "DaemonSet": ["DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR"],
    "ControllerRevision": ["CONTROLLER", "REVISION"],
}


def _set_cells(rec: Any) -> list[str]:
    """A StatefulSet's, DaemonSet's or ControllerRevision's cells (printers.go)."""
    body = rec.body
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    if rec.kind == "StatefulSet":
        return [f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"]
    if rec.kind == "DaemonSet":
        selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
        counts = (
            "desiredNumberScheduled",
            "currentNumberScheduled",
            "numberReady",
            "updatedNumberScheduled",
            "numberAvailable",
        )
        shown = ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"
        return [*(str(status.get(c, 0)) for c in counts), shown]
    owner: dict[str, Any] = next(
        (
            r
            for r in (body.get("metadata") or {}).get("ownerReferences") or ()
            if r.get("controller")
        ),
        {},
    )
    group = str(owner.get("apiVersion", "")).rpartition("/")[0]
    kind = str(owner.get("kind", "")).lower()
    controller = f"{kind}.{group}/{owner.get('name')}" if owner else "<none>"
    return [controller, str(body.get("revision", 0))]


def _service_cells(spec: dict[str, Any], status: dict[str, Any]) -> list[str]:
    """kubectl's TYPE, CLUSTER-IP, EXTERNAL-IP and PORT(S) of a Service."""
    kind = str(spec.get("type") or "ClusterIP")
    external = ",".join(str(ip) for ip in spec.get("externalIPs") or ())
    if kind == "ExternalName":
        external = str(spec.get("externalName") or "")
    elif kind == "LoadBalancer":
        ingress = [
            str(i.get("ip") or i.get("hostname"))
            for i in (status.get("loadBalancer") or {}).get("ingress") or ()
        ]
        external = ",".join([*ingress, *([external] if external else [])]) or "<pending>"
    ports = []
    for p in spec.get("ports") or ():
        node = f":{p['nodePort']}" if p.get("nodePort") else ""
        ports.append(f"{p.get('port')}{node}/{p.get('protocol') or 'TCP'}")
    return [
        kind,
        str(spec.get("clusterIP") or "<none>"),
        external or "<none>",
        ",".join(ports) or "<none>",
    ]


_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX"}


def _cells(rec: Any, ready: dict[str, tuple[int, int]]) -> list[str]:
    """The row after NAME and before AGE; a Secret's values are never shown."""
    body = rec.body
    spec = body.get("spec") or {}
    if rec.kind == "ConfigMap":
        return [str(len(body.get("data") or {}) + len(body.get("binaryData") or {}))]
    if rec.kind == "Secret":
        return [str(body.get("type") or "Opaque"), str(len(body.get("data") or {}))]
    if rec.kind == "Deployment":  # from the status its controller writes
        status = body.get("status") or {}
        want = int(spec.get("replicas", 1))
        up = int(status.get("readyReplicas") or 0)
        return [
            f"{up}/{want}",
            str(int(status.get("updatedReplicas") or 0)),
            str(int(status.get("availableReplicas") or 0)),
        ]
    if rec.kind == "ReplicaSet":
        status = body.get("status") or {}
        wanted = spec.get("replicas")
        return [
            str(1 if wanted is None else int(wanted)),
            str(int(status.get("replicas") or 0)),
            str(int(status.get("readyReplicas") or 0)),
        ]
    if rec.kind in ("Job", "CronJob"):
        from kubeplay.cli import render
        from kubeplay.services import jobs

        cells = jobs.job_cells if rec.kind == "Job" else jobs.cronjob_cells
        return cells(body, now=time.time(), human=render.human_duration)
    if rec.kind == "PersistentVolumeClaim":
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "")
        modes = ",".join(_MODES.get(m, m) for m in spec.get("accessModes") or ())
        return ["Bound", rec.name, str(size), modes, str(spec.get("storageClassName", ""))]
    if rec.kind in _SET_COLUMNS:
        return _set_cells(rec)
    if rec.kind == "Service":
        return _service_cells(spec, body.get("status") or {})
    if rec.kind == "Endpoints" and not rec.api_group:
        return [endpoints_cell(body)]
    if rec.kind == "EndpointSlice":
        return endpoint_slice_cells(body)
    return []


def render_records(
    records: Sequence[Any],
    *,
    kind: str,
    namespaces: bool,
    prefix: str = "",
    ready: dict[str, tuple[int, int]] | None = None,
    wide: bool = False,
) -> str:
    """kubectl's table of `records`; `wide` (-o wide) adds a Service's SELECTOR."""
    from kubeplay.cli import render

    now = time.time()
    headers = _columns(kind)
    wide = wide and kind == "Service"
    if wide:
        headers.append("SELECTOR")
    if namespaces:
        headers.insert(0, "NAMESPACE")
    rows = []
    for rec in records:
        row = [
            f"{prefix}{rec.name}",
            *_cells(rec, ready or {}),
            render.human_duration(now - rec.created_at),
        ]
        if wide:
            selector = (rec.body.get("spec") or {}).get("selector") or {}
            row.append(",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>")
        if namespaces:
            row.insert(0, rec.namespace)
        rows.append(row)
    return render.table(headers, rows)


# The API server's warning on every request for v1 Endpoints (Kubernetes 1.33+).
ENDPOINTS_DEPRECATED = (
    "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
)


def warn_deprecated(info: Any) -> None:
    if (info.group, info.kind) == ("", "Endpoints"):
        click.echo(ENDPOINTS_DEPRECATED, err=True)


def get_any(
    settings: Settings,
    resource: str,
    names: Sequence[str],
    *,
    namespace: str,
    all_namespaces: bool,
    output: str | None,
    selector: str,
    watch: bool,
) -> None:
    """`get KIND [NAME...]` for every stored kind but pods (and `get all` without pods)."""
    from kubeplay.cli import render
    from kubeplay.services import resources

    info = resources.resolve(settings, resource)
    warn_deprecated(info)
    ns = None if all_namespaces and not names else namespace
    found = resources.get(settings, info, namespace=ns, names=names, selector=selector)
    if render.echo_listing(
        output,
        found,
        to_kube=resources.to_kube,
        ref=lambda r: f"{info.prefix}/{r.name}",
        single=len(names) == 1,
    ):
        return
    shown = all_namespaces and info.namespaced
    if not found and not watch:
        render.echo_none_found(None if all_namespaces or not info.namespaced else namespace)
        return
    wide = output == "wide"
    if found:
        click.echo(render_records(found, kind=info.kind, namespaces=shown, wide=wide))
    if watch:
        for rec in resources.watch(settings, info, namespace=ns, selector=selector):
            if names and rec.name not in names:  # `get KIND NAME -w`: that object only
                continue
            text = render_records([rec], kind=info.kind, namespaces=shown, wide=wide)
            click.echo(text.splitlines()[-1])


def get_all(
    settings: Settings,
    *,
    namespace: str,
    all_namespaces: bool,
    selector: str,
    kinds: Sequence[Any] | None = None,
) -> list[str]:
    """The non-pod sections of `get all` (kubectl's `all` category) or of a list of kinds
    (`get po,sa`: `kinds`, resolved): one table per kind, names prefixed with the kind."""
    from kubeplay.kube import kinds as kinds_mod
    from kubeplay.services import resources

    out: list[str] = []
    wanted = (
        kinds if kinds is not None else [resources.resolve(settings, k) for k in kinds_mod.GET_ALL]
    )
    for info in wanted:
        kind = info.kind
        if kind == "Pod":
            continue
        found = resources.get(
            settings, info, namespace=None if all_namespaces else namespace, selector=selector
        )
        if found:
            out.append(
                render_records(
                    found, kind=kind, namespaces=all_namespaces, prefix=f"{info.prefix}/"
                )
            )
    return out


def cascade_of(value: str) -> str:
    """kubectl's --cascade: background, foreground or orphan; the deprecated true (=
    background) and false (= orphan) are taken with kubectl's warning."""
    import sys

    from kubeplay.errors import UsageError

    text = value.strip().lower()
    if text in ("true", "false"):
        click.echo(
            f"warning: --cascade={text} is deprecated (boolean value) and can be replaced with "
            f"--cascade={'background' if text == 'true' else 'orphan'}.",
            err=True,
        )
        sys.stderr.flush()
        return "background" if text == "true" else "orphan"
    if text not in ("background", "foreground", "orphan"):
        raise UsageError(
            f'invalid cascade value ({value}). Must be "background", "foreground", or "orphan".'
        )
    return text


def delete_any(
    settings: Settings,
    resource: str,
    names: Sequence[str],
    *,
    namespace: str,
    grace: float | None,
    cascade: str = "background",
) -> bool:
    """`delete KIND NAME...` for kinds other than pods, configmaps and secrets; whether pods
    changed (a Deployment's)."""
    from kubeplay.services import resources

    info = resources.resolve(settings, resource)
    report = resources.delete(settings, info, namespace, names, grace=grace, cascade=cascade)
    for line in report.lines:
        click.echo(line)
    return report.pods_changed


def delete_files(
    settings: Settings, files: Sequence[str], *, recursive: bool, cascade: str = "background"
) -> bool:
    """`delete -f PATH...`; exits 1 naming what was not found, after deleting the rest."""
    import sys

    from kubeplay.services import resources

    report = resources.delete_files(settings, files, recursive=recursive, cascade=cascade)
    for line in report.lines:
        click.echo(line)
    for line in report.missing:
        click.echo(f"Error from server (NotFound): {line}", err=True)
    if report.missing:
        if report.pods_changed:
            from kubeplay.cli import supervise

            supervise.ensure_supervisor()
        sys.exit(1)
    return report.pods_changed
