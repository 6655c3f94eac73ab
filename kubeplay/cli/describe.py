"""`kubeplay describe pod`: the v1 Pod rendered for people, in kubectl's layout."""

from __future__ import annotations

from typing import Any


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


def _pairs(items: dict[str, Any] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((items or {}).items())) or "<none>"


def describe_service(svc: dict[str, Any], slices: list[dict[str, Any]]) -> str:
    """kubectl describe service: the fields, then per port its target and ready endpoints
    (from the Service's EndpointSlices)."""
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
        rows.append(("Endpoints", ",".join(sorted(addresses)) or "<none>"))
    rows.append(("Session Affinity", str(spec.get("sessionAffinity") or "None")))
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        rows.append(
            ("External Traffic Policy", str(spec.get("externalTrafficPolicy") or "Cluster"))
        )
    width = max(len(k) for k, _ in rows) + 2
    return "".join(f"{k + ':':<{width}}{v}\n" for k, v in rows)
