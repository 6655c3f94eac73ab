"""`kubeplay describe KIND NAME`: a v1 Pod, a Deployment, ReplicaSet, StatefulSet or
DaemonSet, and any other stored object, rendered for people in kubectl's layouts (its pod,
Deployment, ReplicaSet, StatefulSet and DaemonSet describers, its ConfigMap and Secret
describers, its generic one)."""

from __future__ import annotations

import base64
import re
from typing import Any

SET_RESOURCES = frozenset(
    {
        "statefulset",
        "statefulsets",
        "sts",
        "daemonset",
        "daemonsets",
        "ds",
        "deployment",
        "deployments",
        "deploy",
        "replicaset",
        "replicasets",
        "rs",
    }
)


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


def _pods_status(phases: tuple[str, ...]) -> str:
    count = {p: phases.count(p) for p in ("Running", "Pending", "Succeeded", "Failed")}
    return (
        f"{count['Running']} Running / {count['Pending']} Waiting / "
        f"{count['Succeeded']} Succeeded / {count['Failed']} Failed"
    )


def describe_set(body: dict[str, Any], phases: tuple[str, ...]) -> str:
    """`kubectl describe statefulset|daemonset` (describe.go's StatefulSetDescriber and
    DaemonSetDescriber, aligned by Go's tabwriter), without the Events section."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    template = spec.get("template") or {}
    strategy = spec.get("updateStrategy") or {}
    lines = [f"Name:\t{meta.get('name')}", f"Namespace:\t{meta.get('namespace')}"]
    if body.get("kind") == "DaemonSet":
        node_selector = (template.get("spec") or {}).get("nodeSelector")
        lines += [
            f"Selector:\t{_selector(spec.get('selector') or {})}",
            f"Node-Selector:\t{_pairs(node_selector)}",
            *_labels("Labels", meta.get("labels")),
            *_labels("Annotations", meta.get("annotations"), annotations=True),
            f"Desired Number of Nodes Scheduled: {status.get('desiredNumberScheduled', 0)}",
            f"Current Number of Nodes Scheduled: {status.get('currentNumberScheduled', 0)}",
            "Number of Nodes Scheduled with Up-to-date Pods: "
            f"{status.get('updatedNumberScheduled', 0)}",
            f"Number of Nodes Scheduled with Available Pods: {status.get('numberAvailable', 0)}",
            f"Number of Nodes Misscheduled: {status.get('numberMisscheduled', 0)}",
            f"Pods Status:\t{_pods_status(phases)}",
            *pod_template_lines(template),
        ]
        return tabwrite(lines)
    lines += [
        f"CreationTimestamp:\t{_rfc1123z(meta.get('creationTimestamp'))}",
        f"Selector:\t{_selector(spec.get('selector') or {})}",
        *_labels("Labels", meta.get("labels")),
        *_labels("Annotations", meta.get("annotations"), annotations=True),
        f"Replicas:\t{spec.get('replicas', 1)} desired | {status.get('replicas', 0)} total",
        f"Update Strategy:\t{strategy.get('type', 'RollingUpdate')}",
    ]
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        rolling = strategy.get("rollingUpdate") or {}
        lines.append(f"  Partition:\t{rolling.get('partition', 0)}")
        if rolling.get("maxUnavailable") is not None:
            lines.append(f"  MaxUnavailable:\t{rolling['maxUnavailable']}")
    lines.append(f"Pods Status:\t{_pods_status(phases)}")
    lines += pod_template_lines(template)
    claims = spec.get("volumeClaimTemplates") or ()
    lines.append("Volume Claims:" + ("" if claims else "\t<none>"))
    for claim in claims:
        cmeta = claim.get("metadata") or {}
        cspec = claim.get("spec") or {}
        size = ((cspec.get("resources") or {}).get("requests") or {}).get("storage")
        lines += [
            f"  Name:\t{cmeta.get('name')}",
            f"  StorageClass:\t{cspec.get('storageClassName', '')}",
            *_labels("  Labels", cmeta.get("labels")),
            *_labels("  Annotations", cmeta.get("annotations")),
            f"  Capacity:\t{size or '<default>'}",
            f"  Access Modes:\t[{' '.join(cspec.get('accessModes') or ())}]",
        ]
    return tabwrite(lines)


# --- Deployment and ReplicaSet (kubectl's DeploymentDescriber, ReplicaSetDescriber) -------


def tabwrite(lines: list[str]) -> str:
    """Go's text/tabwriter as kubectl sets it up (padding 2, spaces): each column of
    tab-terminated cells is as wide as its widest cell plus 2 over the run of consecutive lines
    that have a cell in it; the last cell of a line is not aligned."""
    cells = [line.split("\t") for line in lines]
    widths: list[list[int]] = [[] for _ in cells]

    def block(first: int, last: int, column: int) -> None:
        row = first
        while row < last:
            if column >= len(cells[row]) - 1:
                row += 1
                continue
            start = row
            while row < last and column < len(cells[row]) - 1:
                row += 1
            width = max(len(cells[i][column]) for i in range(start, row)) + 2
            for i in range(start, row):
                widths[i].append(width)
            block(start, row, column + 1)

    block(0, len(cells), 0)
    return "\n".join(
        ("".join(c.ljust(w) for c, w in zip(row, ws, strict=False)) + row[-1]).rstrip()
        for row, ws in zip(cells, widths, strict=True)
    )


def _rfc1123z(stamp: Any) -> str:
    """A creationTimestamp as kubectl prints it (time.RFC1123Z), in UTC."""
    import calendar
    import time

    try:
        parsed = time.strptime(str(stamp), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return str(stamp or "<unknown>")
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(calendar.timegm(parsed)))


def _labels(title: str, table: dict[str, Any] | None, *, annotations: bool = False) -> list[str]:
    """printLabelsMultiline / printAnnotationsMultiline (last-applied is never shown)."""
    items = sorted(
        (k, v)
        for k, v in (table or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    )
    if not items:
        return [f"{title}:\t<none>"]
    shown = [f"{k}: {v}" if annotations else f"{k}={v}" for k, v in items]
    return [f"{title}:\t{shown[0]}", *(f"\t{item}" for item in shown[1:])]


def _probe(probe: dict[str, Any]) -> str:
    """kubectl's DescribeProbe."""
    attrs = (
        f"delay={probe.get('initialDelaySeconds', 0)}s "
        f"timeout={probe.get('timeoutSeconds', 1)}s period={probe.get('periodSeconds', 10)}s "
        f"#success={probe.get('successThreshold', 1)} #failure={probe.get('failureThreshold', 3)}"
    )
    if "exec" in probe:
        return f"exec [{' '.join((probe['exec'] or {}).get('command') or ())}] {attrs}"
    if "httpGet" in probe:
        get = probe["httpGet"] or {}
        scheme = str(get.get("scheme") or "HTTP").lower()
        where = f"{get.get('host', '')}:{get.get('port')}{get.get('path', '')}"
        return f"http-get {scheme}://{where} {attrs}"
    if "tcpSocket" in probe:
        tcp = probe["tcpSocket"] or {}
        return f"tcp-socket {tcp.get('host', '')}:{tcp.get('port')} {attrs}"
    if "grpc" in probe:
        grpc = probe["grpc"] or {}
        return f"grpc <pod>:{grpc.get('port')} {grpc.get('service', '')} {attrs}"
    return f"unknown {attrs}"


def _env_value(env: dict[str, Any]) -> str:
    source = env.get("valueFrom") or {}
    if not source:
        return str(env.get("value", ""))
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"] or {}
        return (
            f"<set to the key '{ref.get('key')}' of config map '{ref.get('name')}'>\t"
            f"Optional: {str(bool(ref.get('optional'))).lower()}"
        )
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"] or {}
        return (
            f"<set to the key '{ref.get('key')}' in secret '{ref.get('name')}'>\t"
            f"Optional: {str(bool(ref.get('optional'))).lower()}"
        )
    if "fieldRef" in source:
        ref = source["fieldRef"] or {}
        return f" ({ref.get('apiVersion', 'v1')}:{ref.get('fieldPath')})"
    if "resourceFieldRef" in source:
        ref = source["resourceFieldRef"] or {}
        return f"{ref.get('resource')} ({ref.get('containerName', '')})"
    return ""


def _template_container(ctr: dict[str, Any]) -> list[str]:
    """describeContainers for a template (no statuses): name, image, ports, command, args,
    resources, probes, environment, mounts."""
    ports = ctr.get("ports") or ()
    port = ", ".join(f"{p.get('containerPort')}/{p.get('protocol') or 'TCP'}" for p in ports)
    host = ", ".join(f"{p.get('hostPort') or 0}/{p.get('protocol') or 'TCP'}" for p in ports)
    out = [f"   {ctr.get('name')}:", f"    Image:\t{ctr.get('image')}"]
    out.append(f"    Ports:\t{port}" if "," in port else f"    Port:\t{port or '<none>'}")
    out.append(f"    Host Ports:\t{host}" if "," in host else f"    Host Port:\t{host or '<none>'}")
    for title, key in (("Command", "command"), ("Args", "args")):
        if ctr.get(key):
            out.append(f"    {title}:")
            out.extend(f"      {part}" for arg in ctr[key] for part in str(arg).split("\n"))
    resources = ctr.get("resources") or {}
    for title, key in (("Limits", "limits"), ("Requests", "requests")):
        if resources.get(key):
            out.append(f"    {title}:")
            out.extend(f"      {k}:\t{v}" for k, v in sorted(resources[key].items()))
    for title, key in (
        ("Liveness", "livenessProbe"),
        ("Readiness", "readinessProbe"),
        ("Startup", "startupProbe"),
    ):
        if ctr.get(key):
            out.append(f"    {title}:\t{_probe(ctr[key])}")
    env = ctr.get("env") or ()
    if not env and not ctr.get("envFrom"):
        out.append("    Environment:\t<none>")
    else:
        if ctr.get("envFrom"):
            out.append("    Environment Variables from:")
            for src in ctr["envFrom"]:
                kind, ref = (
                    ("ConfigMap", src["configMapRef"])
                    if src.get("configMapRef")
                    else ("Secret", src.get("secretRef") or {})
                )
                optional = str(bool(ref.get("optional"))).lower()
                prefix = f" with prefix '{src['prefix']}'" if src.get("prefix") else ""
                out.append(f"      {ref.get('name')}\t{kind}{prefix}\tOptional: {optional}")
        out.append("    Environment:" + ("" if env else "\t<none>"))
        out.extend(f"      {e.get('name')}:\t{_env_value(e)}" for e in env)
    mounts = sorted(ctr.get("volumeMounts") or (), key=lambda m: str(m.get("mountPath")))
    out.append("    Mounts:" + ("" if mounts else "\t<none>"))
    for mount in mounts:
        flags = ["ro" if mount.get("readOnly") else "rw"]
        if mount.get("subPath"):
            flags.append(f'path="{mount["subPath"]}"')
        out.append(f"      {mount.get('mountPath')} from {mount.get('name')} ({','.join(flags)})")
    return out


_VOLUME_TYPES = {
    "emptyDir": "EmptyDir (a temporary directory that shares a pod's lifetime)",
    "hostPath": "HostPath (bare host directory volume)",
    "configMap": "ConfigMap (a volume populated by a ConfigMap)",
    "secret": "Secret (a volume populated by a Secret)",
    "persistentVolumeClaim": "PersistentVolumeClaim (a reference to a PersistentVolumeClaim "
    "in the same namespace)",
    "projected": "Projected (a volume that contains injected data from multiple sources)",
    "downwardAPI": "DownwardAPI (a volume populated by information about the pod)",
}


def pod_template_lines(template: dict[str, Any]) -> list[str]:
    """kubectl's DescribePodTemplate, as tab-separated lines for `tabwrite`."""
    meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    out = ["Pod Template:", *_labels("  Labels", meta.get("labels"))]
    if meta.get("annotations"):
        out += _labels("  Annotations", meta["annotations"], annotations=True)
    if spec.get("serviceAccountName"):
        out.append(f"  Service Account:\t{spec['serviceAccountName']}")
    for title, key in (("Init Containers", "initContainers"), ("Containers", "containers")):
        if key == "initContainers" and not spec.get(key):
            continue
        out.append(f"  {title}:" + ("" if spec.get(key) else " <none>"))
        for ctr in spec.get(key) or ():
            out += _template_container(ctr)
    volumes = spec.get("volumes") or ()
    out.append("  Volumes:" + ("" if volumes else "\t<none>"))
    for volume in volumes:
        out.append(f"   {volume.get('name')}:")
        kind = next((k for k in volume if k != "name"), "")
        out.append(f"    Type:\t{_VOLUME_TYPES.get(kind, kind)}")
        source = volume.get(kind) or {}
        for key in ("name", "claimName", "secretName", "path", "medium", "sizeLimit"):
            if key in source:
                out.append(f"    {smart_label(key)}:\t{source[key]}")
    if spec.get("priorityClassName"):
        out.append(f"  Priority Class Name:\t{spec['priorityClassName']}")
    out += _labels("  Node-Selectors", spec.get("nodeSelector"))
    tolerations = [
        f"{t.get('key', '')}"
        + (f"={t['value']}" if t.get("value") else "")
        + (f":{t['effect']}" if t.get("effect") else "")
        + (" op=Exists" if t.get("operator") == "Exists" else "")
        + (f" for {t['tolerationSeconds']}s" if t.get("tolerationSeconds") is not None else "")
        for t in spec.get("tolerations") or ()
    ]
    out.append(f"  Tolerations:\t{tolerations[0] if tolerations else '<none>'}")
    out.extend(f"\t{t}" for t in tolerations[1:])
    return out


def _conditions_table(status: dict[str, Any]) -> list[str]:
    conditions = status.get("conditions") or ()
    if not conditions:
        return []
    return [
        "Conditions:",
        "  Type\tStatus\tReason",
        "  ----\t------\t------",
        *(f"  {c.get('type')} \t{c.get('status')}\t{c.get('reason', '')}" for c in conditions),
    ]


def _replicasets(rss: list[dict[str, Any]]) -> str:
    """printReplicaSetsByLabels."""
    shown = [
        f"{(rs.get('metadata') or {}).get('name')} "
        f"({(rs.get('status') or {}).get('replicas', 0)}/"
        f"{(rs.get('spec') or {}).get('replicas', 1)} replicas created)"
        for rs in rss
    ]
    return ", ".join(shown) or "<none>"


def describe_deployment(
    body: dict[str, Any], replicasets: list[dict[str, Any]], *, no_events: bool = False
) -> str:
    """`kubectl describe deployment` (describeDeployment), without the Events section (or,
    with `no_events`, with kubectl's `Events: <none>` line aligned as it prints it).
    `replicasets` are the ReplicaSets it owns; the one of its current template is the new one
    (the old ones are those with pods or replicas, as deploymentutil.GetAllReplicaSets)."""
    from kubeplay.kube import workloads

    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type") or "RollingUpdate"
    template = spec.get("template") or {}

    def current(rs: dict[str, Any]) -> bool:
        return workloads.same_template((rs.get("spec") or {}).get("template") or {}, template)

    new = [rs for rs in replicasets if current(rs)]
    old = [
        rs
        for rs in replicasets
        if not current(rs)
        and ((rs.get("spec") or {}).get("replicas") or (rs.get("status") or {}).get("replicas"))
    ]
    lines = [
        f"Name:\t{meta.get('name')}",
        f"Namespace:\t{meta.get('namespace')}",
        f"CreationTimestamp:\t{_rfc1123z(meta.get('creationTimestamp'))}",
        *_labels("Labels", meta.get("labels")),
        *_labels("Annotations", meta.get("annotations"), annotations=True),
        f"Selector:\t{_selector(spec.get('selector') or {})}",
        f"Replicas:\t{spec.get('replicas', 1)} desired | {status.get('updatedReplicas', 0)} "
        f"updated | {status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} "
        f"available | {status.get('unavailableReplicas', 0)} unavailable",
        f"StrategyType:\t{kind}",
        f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}",
    ]
    if kind == "RollingUpdate":
        rolling = strategy.get("rollingUpdate") or {}
        lines.append(
            f"RollingUpdateStrategy:\t{rolling.get('maxUnavailable', '25%')} max unavailable, "
            f"{rolling.get('maxSurge', '25%')} max surge"
        )
    lines += pod_template_lines(spec.get("template") or {})
    lines += _conditions_table(status)
    if old or new:
        lines += [f"OldReplicaSets:\t{_replicasets(old)}", f"NewReplicaSet:\t{_replicasets(new)}"]
    if no_events:
        lines.append("Events:\t<none>")
    return tabwrite(lines)


def _owned_header(meta: dict[str, Any], selector: dict[str, Any]) -> list[str]:
    """Name, Namespace, Selector, Labels, Annotations and, for an object with a controlling
    owner, Controlled By: the head of kubectl's ReplicaSet and Job describers."""
    owner = next((r for r in meta.get("ownerReferences") or () if r.get("controller")), None)
    lines = [
        f"Name:\t{meta.get('name')}",
        f"Namespace:\t{meta.get('namespace')}",
        f"Selector:\t{_selector(selector)}",
        *_labels("Labels", meta.get("labels")),
        *_labels("Annotations", meta.get("annotations"), annotations=True),
    ]
    if owner is not None:
        lines.append(f"Controlled By:\t{owner.get('kind')}/{owner.get('name')}")
    return lines


def describe_replicaset(
    body: dict[str, Any], phases: tuple[str, ...], *, no_events: bool = False
) -> str:
    """`kubectl describe replicaset` (describeReplicaSet), without the Events section (or,
    with `no_events`, with its `Events: <none>` line)."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    lines = _owned_header(meta, spec.get("selector") or {})
    lines += [
        f"Replicas:\t{status.get('replicas', 0)} current / {spec.get('replicas', 1)} desired",
        f"Pods Status:\t{_pods_status(phases)}",
        *pod_template_lines(spec.get("template") or {}),
        *_conditions_table(status),
        *(["Events:\t<none>"] if no_events else []),
    ]
    return tabwrite(lines)


# --- Job and CronJob (kubectl's JobDescriber, CronJobDescriber) --------------------------


def _time(stamp: Any) -> str:
    return _rfc1123z(stamp) if stamp else "<unset>"


def describe_job(body: dict[str, Any], phases: tuple[str, ...], *, no_events: bool = False) -> str:
    """`kubectl describe job` (describeJob) with the API server's defaults shown, without
    the Events section (or with its `Events: <none>` line). Pods Statuses counts the pods
    present by phase (Active = Pending + Running; Ready = Running here)."""
    from kubeplay.cli import render
    from kubeplay.plan import job as job_plan

    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    want = job_plan.completions(body)
    # the API server's selector when none is given (manualSelector unset): the uid label
    selector = spec.get("selector") or {
        "matchLabels": {"batch.kubernetes.io/controller-uid": meta.get("uid", "")}
    }
    lines = _owned_header(meta, selector)
    lines += [
        f"Parallelism:\t{job_plan.parallelism(body)}",
        f"Completions:\t{'<unset>' if want is None else want}",
        f"Completion Mode:\t{spec.get('completionMode') or 'NonIndexed'}",
        f"Suspend:\t{str(bool(spec.get('suspend'))).lower()}",
        f"Backoff Limit:\t{6 if spec.get('backoffLimit') is None else spec['backoffLimit']}",
    ]
    if spec.get("ttlSecondsAfterFinished") is not None:
        lines.append(f"TTL Seconds After Finished:\t{spec['ttlSecondsAfterFinished']}")
    started = job_plan.parse_time(status.get("startTime"))
    finished = job_plan.parse_time(status.get("completionTime"))
    if started is not None:
        lines.append(f"Start Time:\t{_rfc1123z(status['startTime'])}")
    if finished is not None:
        lines.append(f"Completed At:\t{_rfc1123z(status['completionTime'])}")
    if started is not None and finished is not None:
        lines.append(f"Duration:\t{render.human_duration(finished - started)}")
    if spec.get("activeDeadlineSeconds") is not None:
        lines.append(f"Active Deadline Seconds:\t{spec['activeDeadlineSeconds']}s")
    count = {p: phases.count(p) for p in ("Running", "Pending", "Succeeded", "Failed")}
    lines.append(
        f"Pods Statuses:\t{count['Running'] + count['Pending']} Active ({count['Running']} "
        f"Ready) / {count['Succeeded']} Succeeded / {count['Failed']} Failed"
    )
    if spec.get("completionMode") == "Indexed":
        lines.append(f"Completed Indexes:\t{status.get('completedIndexes') or '<none>'}")
    lines += pod_template_lines(spec.get("template") or {})
    lines += _conditions_table(status)
    if no_events:
        lines.append("Events:\t<none>")
    return tabwrite(lines)


def describe_cronjob(
    body: dict[str, Any], next_at: float | None, *, no_events: bool = False
) -> str:
    """`kubectl describe cronjob` (describeCronJob, its job template with describeJobTemplate),
    plus the next schedule time and the time zone, without the Events section (or with its
    `Events: <none>` line)."""
    import time as time_mod

    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    job = (spec.get("jobTemplate") or {}).get("spec") or {}

    def unset(value: Any, unit: str = "") -> str:
        return "<unset>" if value is None else f"{value}{unit}"

    lines = [
        f"Name:\t{meta.get('name')}",
        f"Namespace:\t{meta.get('namespace')}",
        *_labels("Labels", meta.get("labels")),
        *_labels("Annotations", meta.get("annotations"), annotations=True),
        f"Schedule:\t{spec.get('schedule', '')}",
        f"Time Zone:\t{spec.get('timeZone') or 'UTC (unset)'}",
        f"Concurrency Policy:\t{spec.get('concurrencyPolicy') or 'Allow'}",
        f"Suspend:\t{'True' if spec.get('suspend') else 'False'}",
        f"Successful Job History Limit:\t{unset(spec.get('successfulJobsHistoryLimit', 3))}",
        f"Failed Job History Limit:\t{unset(spec.get('failedJobsHistoryLimit', 1))}",
        f"Starting Deadline Seconds:\t{unset(spec.get('startingDeadlineSeconds'), 's')}",
        "Selector:\t" + (_selector(job["selector"]) if job.get("selector") else "<unset>"),
        f"Parallelism:\t{unset(job.get('parallelism'))}",
        f"Completions:\t{unset(job.get('completions'))}",
    ]
    if job.get("activeDeadlineSeconds") is not None:
        lines.append(f"Active Deadline Seconds:\t{job['activeDeadlineSeconds']}s")
    lines += pod_template_lines(job.get("template") or {})
    active = ", ".join(str(r.get("name")) for r in status.get("active") or ()) or "<none>"
    nxt = (
        "<none>"
        if next_at is None
        else time_mod.strftime("%a, %d %b %Y %H:%M:%S +0000", time_mod.gmtime(next_at))
    )
    lines += [
        f"Last Schedule Time:\t{_time(status.get('lastScheduleTime'))}",
        f"Next Schedule Time:\t{nxt}",
        f"Active Jobs:\t{active}",
    ]
    if no_events:
        lines.append("Events:\t<none>")
    return tabwrite(lines)


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
