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
