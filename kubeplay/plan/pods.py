"""PodPlan: the desired state of one pod, resolved from its manifest alone.

`compile_pod` is pure: manifest dict + a uid in, frozen plan out. The engine executes plans;
the store keeps them as JSON (`to_json`/`from_json`). Anything the runtime needs must be
decided here, so that the engine only carries it out.

The plan does not depend on the image: what comes from the image's config (ENTRYPOINT, CMD,
Env, WorkingDir, User, StopSignal) is added when a container is created, by
`resolve_image`, as the kubelet's generateContainerConfig and the runtime do. So a pull never
changes a plan or its hashes, and the image id a container was made from is the container's
state, not the plan's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from kubeplay.plan import command as command_mod
from kubeplay.plan import envs as envs_mod
from kubeplay.plan import probes as probes_mod
from kubeplay.plan import resources as resources_mod
from kubeplay.plan import security as security_mod
from kubeplay.plan import volumes as volumes_mod
from kubeplay.plan.images import ImageRef, default_pull_policy, normalize_reference


class ContainerKind(StrEnum):
    INFRA = "infra"
    INIT = "init"
    APP = "app"


@dataclass(frozen=True, slots=True)
class PortPlan:
    container_port: int
    protocol: str = "TCP"
    name: str = ""
    host_port: int = 0
    host_ip: str = ""


@dataclass(frozen=True, slots=True)
class ContainerPlan:
    name: str
    kind: ContainerKind
    image: str  # as written in the manifest
    image_ref: str  # normalised reference
    pull_policy: str
    # The manifest's part of the process; `resolve_image` adds the image's at creation.
    command: tuple[str, ...] | None = None  # $(VAR) expanded; None: the image's ENTRYPOINT
    args: tuple[str, ...] | None = None  # $(VAR) expanded; None: the image's CMD
    env: tuple[tuple[str, str], ...] = ()  # the container's own env, in order (then: final)
    working_dir: str = ""  # "": the image's WorkingDir, else "/"
    # Set by `resolve_image` only (empty in a stored plan): what the container is made from.
    image_id: str = ""  # "sha256:..." of the image config
    argv: tuple[str, ...] = ()  # the process args
    user: str = ""  # the image's USER, still to resolve against the rootfs' /etc/passwd
    run_as_user: int | None = None
    run_as_group: int | None = None
    tty: bool = False
    stdin: bool = False
    stop_signal: str = ""  # lifecycle.stopSignal; "": the image's StopSignal, else SIGTERM
    ports: tuple[PortPlan, ...] = ()
    restart_policy: str = ""  # container-level (sidecar init containers: "Always")
    termination_message_path: str = "/dev/termination-log"
    termination_message_policy: str = "File"
    liveness: probes_mod.ProbeSpec | None = None
    readiness: probes_mod.ProbeSpec | None = None
    startup: probes_mod.ProbeSpec | None = None
    post_start: probes_mod.Handler | None = None
    pre_stop: probes_mod.Handler | None = None
    mounts: tuple[volumes_mod.MountPlan, ...] = ()
    # Set when env uses valueFrom/envFrom: env and argv are then resolved at creation.
    env_source: envs_mod.EnvSource | None = None
    resources: resources_mod.ResourcePlan = field(default_factory=resources_mod.ResourcePlan)
    resources_spec: dict[str, Any] = field(default_factory=dict)  # as written (downward API)
    security: security_mod.SecurityPlan = field(default_factory=security_mod.SecurityPlan)
    spec_hash: str = ""


@dataclass(frozen=True, slots=True)
class PodPlan:
    uid: str
    namespace: str
    name: str
    hostname: str
    subdomain: str = ""
    set_hostname_as_fqdn: bool = False
    dns_policy: str = "ClusterFirst"
    dns_config: dict[str, Any] | None = None
    host_aliases: tuple[dict[str, Any], ...] = ()
    restart_policy: str = "Always"
    termination_grace_period: int = 30
    share_process_namespace: bool = False
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    init_containers: tuple[ContainerPlan, ...] = ()
    containers: tuple[ContainerPlan, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    volumes: tuple[volumes_mod.VolumePlan, ...] = ()
    fs_group: int | None = None
    fs_group_change_policy: str = "Always"
    service_account_name: str = "default"
    sysctls: tuple[tuple[str, str], ...] = ()
    active_deadline_seconds: int | None = None
    # the Services' variables given at creation (`plan.services.service_link_env`)
    service_env: tuple[tuple[str, str], ...] = ()
    spec_hash: str = field(default="")

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def fqdn(self) -> str | None:
        """`<hostname>.<subdomain>.<namespace>.svc.cluster.local` when a subdomain is set."""
        if not self.subdomain:
            return None
        return f"{self.hostname}.{self.subdomain}.{self.namespace}.svc.cluster.local"

    def host_ports(self) -> tuple[PortPlan, ...]:
        return tuple(p for c in self.all_containers() for p in c.ports if p.host_port)

    def all_containers(self) -> tuple[ContainerPlan, ...]:
        return self.init_containers + self.containers

    def container(self, name: str) -> ContainerPlan | None:
        return next((c for c in self.all_containers() if c.name == name), None)


def _hash(value: Any) -> str:
    import hashlib  # only compiling a plan needs it, not reading one

    data = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def _ports(spec: Mapping[str, Any]) -> tuple[PortPlan, ...]:
    return tuple(
        PortPlan(
            container_port=int(p["containerPort"]),
            protocol=str(p.get("protocol") or "TCP"),
            name=str(p.get("name") or ""),
            host_port=int(p.get("hostPort") or 0),
            host_ip=str(p.get("hostIP") or ""),
        )
        for p in spec.get("ports") or ()
    )


def _container(
    spec: Mapping[str, Any],
    *,
    kind: ContainerKind,
    pod_meta: Mapping[str, Any],
    pod_security: Mapping[str, Any],
    volumes: tuple[volumes_mod.VolumePlan, ...] = (),
    pod_sc: Mapping[str, Any] | None = None,
) -> ContainerPlan:
    image = str(spec.get("image") or "")
    ref = normalize_reference(image)
    env = command_mod.defined_env(spec.get("env") or ())
    command, args = command_mod.expand_command(spec.get("command"), spec.get("args"), env=env)
    port_refs = [
        probes_mod.PortRef(str(p.get("name") or ""), int(p["containerPort"]))
        for p in spec.get("ports") or ()
    ]
    lifecycle = probes_mod.parse_lifecycle(spec.get("lifecycle"), port_refs)
    own_security = {k: v for k, v in (spec.get("securityContext") or {}).items() if v is not None}
    security = {**pod_security, **own_security}
    plan = ContainerPlan(
        name=str(spec["name"]),
        kind=kind,
        image=image,
        image_ref=ref,
        pull_policy=str(spec.get("imagePullPolicy") or default_pull_policy(ref)),
        command=command,
        args=args,
        env=env,
        working_dir=str(spec.get("workingDir") or ""),
        run_as_user=security.get("runAsUser"),
        run_as_group=security.get("runAsGroup"),
        tty=bool(spec.get("tty")),
        stdin=bool(spec.get("stdin")),
        stop_signal=lifecycle.stop_signal,
        ports=_ports(spec),
        restart_policy=str(spec.get("restartPolicy") or ""),
        termination_message_path=str(spec.get("terminationMessagePath") or "/dev/termination-log"),
        termination_message_policy=str(spec.get("terminationMessagePolicy") or "File"),
        liveness=probes_mod.parse_probe(spec.get("livenessProbe"), port_refs),
        readiness=probes_mod.parse_probe(spec.get("readinessProbe"), port_refs),
        startup=probes_mod.parse_probe(spec.get("startupProbe"), port_refs),
        post_start=lifecycle.post_start,
        pre_stop=lifecycle.pre_stop,
        mounts=volumes_mod.compile_mounts(
            spec,
            volumes=volumes,
            env=command_mod.defined_env(spec.get("env") or ()),
            where=f"container {spec['name']}",
            defer_sub_path_expr=envs_mod.needs_resolving(spec),
        ),
        env_source=envs_mod.source_from(spec) if envs_mod.needs_resolving(spec) else None,
        resources=resources_mod.resources_from(spec.get("resources")),
        resources_spec=dict(spec.get("resources") or {}),
        security=security_mod.security_from(pod_sc or {}, spec.get("securityContext") or {}),
    )
    return replace(plan, spec_hash=container_hash(spec, pull_policy=plan.pull_policy))


def container_hash(spec: Mapping[str, Any], *, pull_policy: str) -> str:
    """The kubelet's container hash: of the container as the manifest has it (the pull policy
    defaulted), not of what an image resolved, so it is the same before and after a pull.
    Stored with each container instance at creation; a running instance whose hash differs
    from its plan's is killed and started again (`plan.actions`: definition changed)."""
    return _hash({**spec, "imagePullPolicy": pull_policy})


def _hostname(name: str) -> str:
    """kubelet's truncatePodHostnameIfNeeded: cap at 63 chars, then drop a trailing - or ."""
    if len(name) <= 63:
        return name
    return name[:63].rstrip("-.")


def resolve_image(
    ctr: ContainerPlan, image: ImageRef, *, service_env: Sequence[tuple[str, str]] = ()
) -> ContainerPlan:
    """The container as it is created from `image`: the image's ENTRYPOINT and CMD under the
    manifest's command and args, its Env under the Services' variables (`service_env`, the
    pod's) under the container's env (a default PATH when none has one), its WorkingDir, USER
    and StopSignal where the manifest sets none, and the image id. `ctr.env`, `command` and
    `args` are the container's own, already resolved (`plan.envs.resolve` for env from
    ConfigMaps, Secrets and the downward API)."""
    config = image.config
    return replace(
        ctr,
        image_id=image.image_id,
        argv=command_mod.image_argv(
            command=ctr.command, args=ctr.args, entrypoint=config.entrypoint, cmd=config.cmd
        ),
        env=command_mod.merge_env((*config.env, *(f"{k}={v}" for k, v in service_env)), ctr.env),
        working_dir=ctr.working_dir or config.working_dir or "/",
        user=config.user,
        stop_signal=ctr.stop_signal or config.stop_signal or "SIGTERM",
    )


def compile_pod(
    pod: Mapping[str, Any], *, uid: str, service_env: Sequence[tuple[str, str]] = ()
) -> PodPlan:
    """Turn a validated Pod manifest into a PodPlan (no image needed: see `resolve_image`).

    `service_env`: the Services' variables (`plan.services.service_link_env`) every container
    gets when it is created (`resolve_image`), unless `enableServiceLinks` is false.
    """
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    name = str(meta["name"])
    security = spec.get("securityContext") or {}
    pod_security = {
        k: security[k] for k in ("runAsUser", "runAsGroup") if security.get(k) is not None
    }

    volumes = volumes_mod.compile_volumes(spec)

    def build(items: Any, kind: ContainerKind) -> tuple[ContainerPlan, ...]:
        return tuple(
            _container(
                c,
                kind=kind,
                pod_meta=meta,
                pod_security=pod_security,
                volumes=volumes,
                pod_sc=security,
            )
            for c in items or ()
        )

    hostname = _hostname(str(spec.get("hostname") or name))
    try:
        init_containers = build(spec.get("initContainers"), ContainerKind.INIT)
        containers = build(spec.get("containers"), ContainerKind.APP)
    except volumes_mod.VolumeError as err:
        namespace = meta.get("namespace") or "default"
        raise volumes_mod.VolumeError(f"pod {namespace}/{name}: {err}") from err
    plan = PodPlan(
        uid=uid,
        namespace=str(meta.get("namespace") or "default"),
        name=name,
        hostname=hostname,
        subdomain=str(spec.get("subdomain") or ""),
        set_hostname_as_fqdn=bool(spec.get("setHostnameAsFQDN")),
        dns_policy=str(spec.get("dnsPolicy") or "ClusterFirst"),
        dns_config=spec.get("dnsConfig"),
        host_aliases=tuple(spec.get("hostAliases") or ()),
        restart_policy=str(spec.get("restartPolicy") or "Always"),
        termination_grace_period=int(
            30
            if spec.get("terminationGracePeriodSeconds") is None
            else spec["terminationGracePeriodSeconds"]
        ),
        share_process_namespace=bool(spec.get("shareProcessNamespace")),
        host_network=bool(spec.get("hostNetwork")),
        host_pid=bool(spec.get("hostPID")),
        host_ipc=bool(spec.get("hostIPC")),
        init_containers=init_containers,
        containers=containers,
        labels=tuple(sorted((meta.get("labels") or {}).items())),
        annotations=tuple(sorted((meta.get("annotations") or {}).items())),
        volumes=volumes,
        fs_group=security.get("fsGroup"),
        fs_group_change_policy=str(security.get("fsGroupChangePolicy") or "Always"),
        service_account_name=str(
            spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        ),
        sysctls=tuple((str(s["name"]), str(s["value"])) for s in security.get("sysctls") or ()),
        active_deadline_seconds=spec.get("activeDeadlineSeconds"),
        service_env=tuple(service_env) if spec.get("enableServiceLinks", True) else (),
    )
    body = asdict(plan)
    body.pop("uid")
    body.pop("spec_hash")
    return replace(plan, spec_hash=_hash(body))


def to_json(plan: PodPlan) -> str:
    return json.dumps(asdict(plan), sort_keys=True)


def from_json(text: str) -> PodPlan:
    raw = json.loads(text)

    def ctr(c: dict[str, Any]) -> ContainerPlan:
        c = dict(c)
        if "command" not in c:  # stored with the image's part: argv, env, working dir were
            c["command"], c["args"] = c["argv"], []  # the image's and the manifest's, which
            c["argv"], c["image_id"] = [], ""  # the image only adds to again (same values)
        c["kind"] = ContainerKind(c["kind"])
        c["ports"] = tuple(PortPlan(**p) for p in c["ports"])
        for key in ("command", "args"):
            c[key] = None if c[key] is None else tuple(c[key])
        c["argv"] = tuple(c["argv"])
        c["env"] = tuple((k, v) for k, v in c["env"])
        for probe in ("liveness", "readiness", "startup"):
            c[probe] = probes_mod.probe_from_json(c.get(probe))
        for hook in ("post_start", "pre_stop"):
            c[hook] = probes_mod.handler_from_json(c.get(hook))
        c["mounts"] = tuple(volumes_mod.mount_from_dict(m) for m in c.get("mounts") or ())
        c["env_source"] = envs_mod.source_from_dict(c.get("env_source"))
        c["resources"] = resources_mod.resources_from_dict(c.get("resources"))
        c["security"] = security_mod.security_from_dict(c.get("security"))
        return ContainerPlan(**c)

    raw["init_containers"] = tuple(ctr(c) for c in raw["init_containers"])
    raw["containers"] = tuple(ctr(c) for c in raw["containers"])
    raw["host_aliases"] = tuple(raw.get("host_aliases") or ())
    raw["labels"] = tuple((k, v) for k, v in raw["labels"])
    raw["annotations"] = tuple((k, v) for k, v in raw["annotations"])
    raw["volumes"] = tuple(volumes_mod.volume_from_dict(v) for v in raw.get("volumes") or ())
    raw["sysctls"] = tuple((k, v) for k, v in raw.get("sysctls") or ())
    raw["service_env"] = tuple((k, v) for k, v in raw.get("service_env") or ())
    return PodPlan(**raw)
