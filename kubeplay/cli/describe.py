"""`kubeplay describe KIND NAME`: a v1 Pod, a StatefulSet or DaemonSet, and any other stored
object, rendered for people in kubectl's layouts (its pod, StatefulSet and DaemonSet
describers, its ConfigMap and Secret describers, its generic one)."""

from __future__ import annotations

import base64
import re
from typing import Any

SET_RESOURCES = frozenset({"statefulset", "statefulsets", "sts", "daemonset", "daemonsets", "ds"})


def _state(state: dict[str, Any]) -> list[str]:
    if not state:
        return []
    kind, body = next(iter(state.items()))
    lines = [kind.capitalize()]
    for key in ("reason", "exitCode", "signal", "message", "startedAt", "finishedAt"):
        if key in body and body[key] is not None:
            lines.append(f"  {key[0].upper() + key[1:]}: {body[key]}")
    return lines


def describe_pod(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    out = [
        f"Name:         {meta.get('name')}",
        f"Namespace:    {meta.get('namespace')}",
        f"Node:         localhost/{status.get('hostIP', '')}",
        f"Start Time:   {status.get('startTime', '<none>')}",
        "Labels:       "
        + (", ".join(f"{k}={v}" for k, v in (meta.get("labels") or {}).items()) or "<none>"),
        f"Status:       {status.get('phase')}",
        f"IP:           {status.get('podIP', '')}",
    ]
    statuses = {
        s["name"]: s
        for s in status.get("initContainerStatuses", []) + status.get("containerStatuses", [])
    }
    for title, key in (("Init Containers", "initContainers"), ("Containers", "containers")):
        if not spec.get(key):
            continue
        out.append(f"{title}:")
        for ctr in spec[key]:
            st = statuses.get(ctr["name"], {})
            out.append(f"  {ctr['name']}:")
            out.append(f"    Container ID:  {st.get('containerID', '')}")
            out.append(f"    Image:         {ctr.get('image')}")
            out.append(f"    Image ID:      {st.get('imageID', '')}")
            if ctr.get("command"):
                out.append(f"    Command:       {' '.join(ctr['command'])}")
            if ctr.get("args"):
                out.append(f"    Args:          {' '.join(ctr['args'])}")
            state = _state(st.get("state", {}))
            if state:
                out.append(f"    State:         {state[0]}")
                out.extend(f"      {line.strip()}" for line in state[1:])
            last = _state(st.get("lastState", {}))
            if last:
                out.append(f"    Last State:    {last[0]}")
                out.extend(f"      {line.strip()}" for line in last[1:])
            out.append(f"    Ready:         {st.get('ready', False)}")
            out.append(f"    Restart Count: {st.get('restartCount', 0)}")
            env = ctr.get("env") or []
            if env:
                out.append("    Environment:")
                out.extend(f"      {e['name']}:  {e.get('value', '')}" for e in env)
    out.append("Conditions:")
    out.append("  Type                        Status")
    out.extend(f"  {c['type']:<27} {c['status']}" for c in status.get("conditions", []))
    return "\n".join(out)


# --- StatefulSet and DaemonSet ----------------------------------------------------------------


def _pairs(values: dict[str, Any] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((values or {}).items())) or "<none>"


def _selector(selector: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or ():
        values = ",".join(expr.get("values") or ())
        parts.append(f"{expr.get('key')} {str(expr.get('operator')).lower()} ({values})")
    return ",".join(parts) or "<none>"


def _pod_template(template: dict[str, Any]) -> list[str]:
    meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    out = ["Pod Template:", f"  Labels:  {_pairs(meta.get('labels'))}", "  Containers:"]
    for ctr in spec.get("containers") or ():
        out.append(f"   {ctr.get('name')}:")
        out.append(f"    Image:      {ctr.get('image')}")
        ports = ", ".join(
            f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" for p in ctr.get("ports") or ()
        )
        out.append(f"    Port:       {ports or '<none>'}")
        if ctr.get("command"):
            out.append(f"    Command:    {' '.join(ctr['command'])}")
        mounts = ctr.get("volumeMounts") or ()
        out.append("    Mounts:" + ("" if mounts else "     <none>"))
        out.extend(f"      {m.get('mountPath')} from {m.get('name')}" for m in mounts)
    return out


def _pods_status(phases: tuple[str, ...]) -> str:
    count = {p: phases.count(p) for p in ("Running", "Pending", "Succeeded", "Failed")}
    return (
        f"{count['Running']} Running / {count['Pending']} Waiting / "
        f"{count['Succeeded']} Succeeded / {count['Failed']} Failed"
    )


def describe_set(body: dict[str, Any], phases: tuple[str, ...]) -> str:
    """`kubectl describe statefulset|daemonset` (describe.go's StatefulSetDescriber and
    DaemonSetDescriber), without the Events section."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    template = spec.get("template") or {}
    strategy = spec.get("updateStrategy") or {}
    out = [
        f"Name:               {meta.get('name')}",
        f"Namespace:          {meta.get('namespace')}",
        f"CreationTimestamp:  {meta.get('creationTimestamp')}",
        f"Selector:           {_selector(spec.get('selector') or {})}",
    ]
    if body.get("kind") == "DaemonSet":
        node_selector = (template.get("spec") or {}).get("nodeSelector")
        out += [
            f"Node-Selector:      {_pairs(node_selector)}",
            f"Labels:             {_pairs(meta.get('labels'))}",
            f"Annotations:        {_pairs(meta.get('annotations'))}",
            f"Desired Number of Nodes Scheduled: {status.get('desiredNumberScheduled', 0)}",
            f"Current Number of Nodes Scheduled: {status.get('currentNumberScheduled', 0)}",
            "Number of Nodes Scheduled with Up-to-date Pods: "
            f"{status.get('updatedNumberScheduled', 0)}",
            f"Number of Nodes Scheduled with Available Pods: {status.get('numberAvailable', 0)}",
            f"Number of Nodes Misscheduled: {status.get('numberMisscheduled', 0)}",
            f"Pods Status:        {_pods_status(phases)}",
        ]
        return "\n".join([*out, *_pod_template(template)])
    out += [
        f"Labels:             {_pairs(meta.get('labels'))}",
        f"Annotations:        {_pairs(meta.get('annotations'))}",
        f"Replicas:           {spec.get('replicas', 1)} desired | "
        f"{status.get('replicas', 0)} total",
        f"Update Strategy:    {strategy.get('type', 'RollingUpdate')}",
    ]
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        out.append(
            f"  Partition:        {(strategy.get('rollingUpdate') or {}).get('partition', 0)}"
        )
    out.append(f"Pods Status:        {_pods_status(phases)}")
    out += _pod_template(template)
    claims = spec.get("volumeClaimTemplates") or ()
    out.append("Volume Claims:" + ("" if claims else "  <none>"))
    for claim in claims:
        cmeta = claim.get("metadata") or {}
        cspec = claim.get("spec") or {}
        size = ((cspec.get("resources") or {}).get("requests") or {}).get("storage", "")
        out += [
            f"  Name:          {cmeta.get('name')}",
            f"  StorageClass:  {cspec.get('storageClassName', '')}",
            f"  Labels:        {_pairs(cmeta.get('labels'))}",
            f"  Annotations:   {_pairs(cmeta.get('annotations'))}",
            f"  Capacity:      {size}",
            f"  Access Modes:  [{' '.join(cspec.get('accessModes') or ())}]",
        ]
    return "\n".join(out)


# --- every other stored kind --------------------------------------------------------------

_ACRONYMS = frozenset({"API", "URL", "UID", "OSB", "GUID"})
_SKIPPED = frozenset(
    {
        ".metadata.managedFields",
        ".metadata.name",
        ".metadata.namespace",
        ".metadata.labels",
        ".metadata.annotations",
    }
)


def smart_label(field: str) -> str:
    """kubectl's smartLabelFor: `apiVersion` -> `API Version`, `claimName` -> `Claim Name`; a
    name with other characters than letters and `-` stays as it is."""
    if any(not (ch.isalpha() or ch == "-") for ch in field):
        return field
    parts = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[^A-Za-z]+", field)
    return " ".join(p.upper() if p.upper() in _ACRONYMS else p[:1].upper() + p[1:] for p in parts)


def _content(value: dict[str, Any], level: int, prefix: str) -> list[str]:
    """kubectl's printUnstructuredContent: maps and lists as indented blocks, scalars as
    `Label:<TAB>value`."""
    out: list[str] = []
    indent = "  " * level
    for key in sorted(value):
        path = f"{prefix}.{key}"
        if path in _SKIPPED:
            continue
        item = value[key]
        label = smart_label(key)
        if isinstance(item, dict):
            out.append(f"{indent}{label}:")
            out.extend(_content(item, level + 1, path))
        elif isinstance(item, list):
            out.append(f"{indent}{label}:")
            for child in item:
                if isinstance(child, dict):
                    out.extend(_content(child, level + 1, path))
                else:
                    out.append(f"{indent}  {_scalar(child)}")
        else:
            out.append(f"{indent}{label}:\t{_scalar(item)}")
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "<nil>" if value is None else str(value)


def _multiline(title: str, table: dict[str, Any]) -> list[str]:
    if not table:
        return [f"{title}:\t<none>"]
    items = [f"{k}={v}" if title == "Labels" else f"{k}: {v}" for k, v in sorted(table.items())]
    return [f"{title}:\t{items[0]}", *(f"\t{item}" for item in items[1:])]


def align(lines: list[str]) -> str:
    """A tabwriter's first column (padding 2) over each run of lines that have a tab."""
    out: list[str] = []
    block: list[tuple[str, str]] = []

    def flush() -> None:
        width = max(len(cell) for cell, _ in block) + 2
        out.extend(f"{cell:<{width}}{rest}".rstrip() for cell, rest in block)
        block.clear()

    for line in lines:
        if "\t" in line:
            cell, _, rest = line.partition("\t")
            block.append((cell, rest))
            continue
        if block:
            flush()
        out.append(line)
    if block:
        flush()
    return "\n".join(out)


def describe_body(kind: str, body: dict[str, Any]) -> str:
    """`describe` of a stored object other than a Pod, in kubectl's layout: ConfigMap and
    Secret as their describers (a Secret's values never shown, only their sizes), every other
    kind as kubectl's generic describer."""
    meta = body.get("metadata") or {}
    head = [
        f"Name:\t{meta.get('name', '')}",
        f"Namespace:\t{meta.get('namespace', '')}",
        *_multiline("Labels", meta.get("labels") or {}),
        *_multiline("Annotations", meta.get("annotations") or {}),
    ]
    if kind == "ConfigMap":
        lines = [*head, "", "Data", "===="]
        for key, value in sorted((body.get("data") or {}).items()):
            lines += [f"{key}:", "----", str(value), ""]
        lines += ["", "BinaryData", "===="]
        for key, value in sorted((body.get("binaryData") or {}).items()):
            lines.append(f"{key}:\t{len(base64.b64decode(value))} bytes")
        return align([*lines, ""])
    if kind == "Secret":
        lines = [*head, "", f"Type:\t{body.get('type') or 'Opaque'}", "", "Data", "===="]
        for key, value in sorted((body.get("data") or {}).items()):
            lines.append(f"{key}:\t{len(base64.b64decode(value))} bytes")
        return align(lines)
    if kind == "Endpoints":
        return align([*head, *_endpoints_lines(body)])
    if kind == "EndpointSlice":
        return align([*head, *_endpoint_slice_lines(body)])
    return align([*head, *_content(body, 0, "")])


def _port_table(ports: list[tuple[str, str, str]], indent: str) -> list[str]:
    """kubectl's Name/Port/Protocol table of describe endpoints and endpointslice."""
    rows = [("Name", "Port", "Protocol"), ("----", "----", "--------"), *ports]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return [
        (indent + "  ".join(c.ljust(widths[i]) for i, c in enumerate(r))).rstrip() for r in rows
    ]


def _endpoints_lines(body: dict[str, Any]) -> list[str]:
    """kubectl's describer of a v1 Endpoints: per subset its addresses and ports."""
    lines = ["Subsets:"]
    for ss in body.get("subsets") or ():
        for title, key in (("Addresses", "addresses"), ("NotReadyAddresses", "notReadyAddresses")):
            ips = ",".join(str(a.get("ip")) for a in ss.get(key) or ())
            lines.append(f"  {title}:\t{ips or '<none>'}")
        if ss.get("ports"):
            lines.append("  Ports:")
            ports = [
                (str(p.get("name") or "<unset>"), str(p.get("port")), str(p.get("protocol")))
                for p in ss["ports"]
            ]
            lines += _port_table(ports, "    ")
        lines.append("")
    return lines


def _endpoint_slice_lines(body: dict[str, Any]) -> list[str]:
    """kubectl's describer of an EndpointSlice: address type, ports, then each endpoint."""
    lines = [f"AddressType:\t{body.get('addressType', '')}"]
    if body.get("ports"):
        lines.append("Ports:")
        ports = [
            (
                str(p.get("name") or "<unset>"),
                "<unset>" if p.get("port") is None else str(p["port"]),
                str(p.get("protocol") or "TCP"),
            )
            for p in body["ports"]
        ]
        lines += _port_table(ports, "  ")
    else:
        lines.append("Ports: <unset>")
    if not body.get("endpoints"):
        lines.append("Endpoints: <none>")
        return lines
    lines.append("Endpoints:")
    for ep in body["endpoints"]:
        ready = (ep.get("conditions") or {}).get("ready")
        lines += [
            f"  - Addresses:\t{', '.join(ep.get('addresses') or ()) or '<none>'}",
            "    Conditions:",
            f"      Ready:\t{'<unset>' if ready is None else str(bool(ready)).lower()}",
            f"    Hostname:\t{ep.get('hostname') or '<unset>'}",
        ]
        ref = ep.get("targetRef")
        if ref:
            lines.append(f"    TargetRef:\t{ref.get('kind')}/{ref.get('name')}")
        lines += [
            f"    NodeName:\t{ep.get('nodeName') or '<unset>'}",
            f"    Zone:\t{ep.get('zone') or '<unset>'}",
        ]
    return lines


def describe_object(settings: Any, resource: str, name: str, namespace: str) -> tuple[str, str]:
    """(uid, text) of `describe KIND NAME` for a stored kind other than pods."""
    from kubeplay.cli import objects
    from kubeplay.services import resources

    info = resources.resolve(settings, resource)
    objects.warn_deprecated(info)
    (rec,) = resources.get(settings, info, namespace=namespace, names=[name])
    return rec.uid, describe_body(info.kind, resources.to_kube(rec))


def describe_service(
    svc: dict[str, Any],
    slices: list[dict[str, Any]],
    no_endpoints: dict[tuple[str, str], str] | None = None,
) -> str:
    """kubectl describe service: the fields, then per port its target and ready endpoints
    (from the Service's EndpointSlices); a port without any says why (`no_endpoints`, by
    port name and protocol), which kubectl does not."""
    meta = svc.get("metadata") or {}
    spec = svc.get("spec") or {}
    rows: list[tuple[str, str]] = [
        ("Name", str(meta.get("name", ""))),
        ("Namespace", str(meta.get("namespace") or "default")),
        ("Labels", _pairs(meta.get("labels"))),
        ("Annotations", _pairs(meta.get("annotations"))),
        ("Selector", _pairs(spec.get("selector"))),
        ("Type", str(spec.get("type") or "ClusterIP")),
    ]
    if spec.get("type") == "ExternalName":
        rows.append(("External Name", str(spec.get("externalName") or "")))
    else:
        rows += [
            ("IP Family Policy", "SingleStack"),
            ("IP Families", "IPv4"),
            ("IP", str(spec.get("clusterIP") or "<none>")),
            ("IPs", ",".join(spec.get("clusterIPs") or ()) or "<none>"),
        ]
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()
    if ingress:
        rows.append(("LoadBalancer Ingress", ", ".join(str(i.get("ip")) for i in ingress)))
    for port in spec.get("ports") or ():
        name = str(port.get("name") or "<unset>")
        proto = str(port.get("protocol") or "TCP")
        target = port.get("targetPort", port.get("port"))
        rows.append(("Port", f"{name}  {port.get('port')}/{proto}"))
        rows.append(("TargetPort", f"{target}/{proto}"))
        if port.get("nodePort"):
            rows.append(("NodePort", f"{name}  {port['nodePort']}/{proto}"))
        addresses = [
            f"{address}:{p.get('port')}"
            for sl in slices
            for p in sl.get("ports") or ()
            if str(p.get("name") or "") == str(port.get("name") or "")
            and str(p.get("protocol") or "TCP") == proto
            for ep in sl.get("endpoints") or ()
            if (ep.get("conditions") or {}).get("ready") is not False
            for address in ep.get("addresses") or ()
        ]
        why = (no_endpoints or {}).get((str(port.get("name") or ""), proto))
        shown = ",".join(sorted(addresses)) or "<none>" + (f" ({why})" if why else "")
        rows.append(("Endpoints", shown))
    rows.append(("Session Affinity", str(spec.get("sessionAffinity") or "None")))
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        rows.append(
            ("External Traffic Policy", str(spec.get("externalTrafficPolicy") or "Cluster"))
        )
    width = max(len(k) for k, _ in rows) + 2
    return "".join(f"{k + ':':<{width}}{v}\n" for k, v in rows)
