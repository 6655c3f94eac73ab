"""compute_apply: what applying desired objects to the stored ones does, object by object.

The pure decision of `play`, `play --replace`, `apply`, `watch` and `down` (reconcile.md §2):
given the desired objects (manifests as parsed) and the stored records, it returns create /
update / unchanged / prune / refused entries, each with the object's key, a `Reason` and
kubectl's wording (`pod/web created`, `configmap/cfg configured`, `pod/old pruned`). Per object:

1. ownership: an object stored under another source is refused, but `apply` takes over what
   another `apply` (the last writer wins, as with kubectl) or `play` (with a warning, as
   kubectl's apply of an object `create` made) stored; a watched source's objects (the watch
   would put them back) and controller-made ones stay refused;
2. the unchanged fast path: the manifest's canonical-JSON SHA-256 equals the last applied one
   (not in WATCH mode: a watched source's relist repairs fields changed by hand);
3. a three-way merge of last-applied, the new manifest and the live object (lists atomic);
4. default, then compare with live; the kind decides what a change does (`Effect`) and which
   changes the API server refuses (IMMUTABLE) or a Pod needs recreated (RECREATE);
5. prune (WATCH, APPLY with prune) of the source's objects no longer desired, unless annotated
   prune-disabled.

Entries come in apply order (Namespaces first, Pods last), prunes in reverse. No I/O, no clock.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kubeplay.kube import defaults, kinds
from kubeplay.kube.kinds import ObjectKey
from kubeplay.kube.objects import KubeObject
from kubeplay.kube.quantity import parse_quantity
from kubeplay.plan import configdata

Body = dict[str, Any]

# The source of objects made by `play` (create-only; never pruned by apply or watch, but an
# `apply` of one takes it over).
PLAY_SOURCE = "play"
# `apply -f PATH...`'s source is this prefix and its PATH set; a watched source's, this one
# and its name.
APPLY_SOURCE_PREFIX = "apply:"
WATCHED_SOURCE_PREFIX = "source:"


class ApplyMode(StrEnum):
    PLAY = "play"  # create; a stored Pod or workload is refused EXISTS; other kinds as APPLY
    REPLACE = "replace"  # play --replace: stored Pods and workloads recreated; others as APPLY
    APPLY = "apply"  # kubectl apply; prunes only when asked, in its own source
    WATCH = "watch"  # a SET per source: prune what left it; a changed Pod is recreated
    DOWN = "down"  # desired = nothing for the named objects: each stored one is pruned


class Reason(StrEnum):
    NEW = "New"
    CHANGED = "Changed"
    METADATA_ONLY = "MetadataOnly"
    RECREATE = "Recreate"
    IMMUTABLE = "Immutable"
    EXISTS = "Exists"
    OWNED_BY_OTHER_SOURCE = "OwnedByOtherSource"
    GONE_FROM_SOURCE = "GoneFromSource"
    PRUNE_DISABLED = "PruneDisabled"
    UNCHANGED = "Unchanged"


class Effect(StrEnum):
    """What an update asks of the controllers beyond writing the row."""

    NONE = "none"  # stored only: metadata, ConfigMap data, replicas, a CronJob's template
    RESTART = "restart"  # Pod: `restart_containers` restart in place (their spec changed)
    ROLLOUT = "rollout"  # a workload's defaulted pod template changed
    RECREATE = "recreate"  # delete the object (and its runtime), then create it again


@dataclass(frozen=True, slots=True)
class AppliedRecord:
    """A stored object as compute_apply needs it (the store maps its rows onto this)."""

    key: ObjectKey
    uid: str
    source: str  # "" for controller-made objects (their owner decides)
    last_applied: Mapping[str, Any]  # the manifest as parsed when last applied ({} if none)
    last_applied_sha256: str
    live: Mapping[str, Any]  # the stored body: defaulted, with server-set fields
    owner_uid: str = ""
    origin: str = ""  # file and document the object came from, for messages


@dataclass(frozen=True, slots=True)
class ApplyEntry:
    key: ObjectKey
    reason: Reason
    message: str
    uid: str = ""  # the stored uid ("" for a create)
    # create/update/unchanged: the body to store (defaulted; for an update the three-way merge)
    body: Mapping[str, Any] = field(default_factory=dict)
    # update/prune/refused: the live body as stored before
    before: Mapping[str, Any] = field(default_factory=dict)
    # create/update/unchanged: the manifest as parsed, and its canonical-JSON SHA-256
    last_applied: Mapping[str, Any] = field(default_factory=dict)
    last_applied_sha256: str = ""
    effect: Effect = Effect.NONE
    restart_containers: tuple[str, ...] = ()  # Effect.RESTART: the containers whose spec changed
    spec_changed: bool = False  # bump `generation`
    changed_paths: tuple[str, ...] = ()  # field paths that differ (for messages and diff)
    origin: str = ""  # the desired object's file and document ("" for prune)
    taken_from: str = ""  # APPLY: the source it was stored under (it becomes this apply's)
    warning: str = ""  # what the command says besides `message` (a takeover from `play`)

    @property
    def ref(self) -> str:
        return kinds.ref(self.key)


@dataclass(frozen=True, slots=True)
class ApplyActions:
    """The entries by outcome, each list in apply order (`prune` in reverse).

    create: NEW. update: CHANGED, METADATA_ONLY, RECREATE (write `body`; `effect` says what the
    controllers do). unchanged: UNCHANGED (store `last_applied` and `origin` if they moved, no
    other work) and PRUNE_DISABLED (kept). prune: GONE_FROM_SOURCE. refused: IMMUTABLE, EXISTS,
    OWNED_BY_OTHER_SOURCE: the objects that make the command fail (exit 1) while the others
    apply.
    """

    create: tuple[ApplyEntry, ...] = ()
    update: tuple[ApplyEntry, ...] = ()
    unchanged: tuple[ApplyEntry, ...] = ()
    prune: tuple[ApplyEntry, ...] = ()
    refused: tuple[ApplyEntry, ...] = ()

    def entries(self) -> list[ApplyEntry]:
        """Every entry in the order it is carried out: apply order, then prunes in reverse."""
        applied = sorted(
            (*self.create, *self.update, *self.unchanged, *self.refused),
            key=lambda e: apply_rank(e.key.kind),
        )
        return applied + list(self.prune)

    @property
    def changes(self) -> bool:
        return bool(self.create or self.update or self.prune)


# reconcile.md §2.6, with the other stored kinds where Helm's install order puts them:
# cluster-wide and namespace policy first, then what pods use, then Services (service-link
# env vars reach only pods created after their Service), then workloads, then Pods.
APPLY_ORDER: tuple[str, ...] = (
    "Namespace",
    "CustomResourceDefinition",
    "PriorityClass",
    "StorageClass",
    "PersistentVolume",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodDisruptionBudget",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "PersistentVolumeClaim",
    "Service",
    "Endpoints",
    "EndpointSlice",
    "DaemonSet",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "Job",
    "CronJob",
    "Pod",
    "HorizontalPodAutoscaler",
    "IngressClass",
    "Ingress",
)

# What `play` refuses to play again (EXISTS) and `play --replace` recreates: Pods and the kinds
# that make them. Every other kind (ConfigMaps, Secrets, claims, the stored-only kinds) `play`
# creates or updates as `apply` does.
PLAY_RUN_KINDS = frozenset(
    {
        "Pod",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "ReplicationController",
    }
)

# On an object: recreate it when the API server would refuse a change (as --force does).
FORCE_ANNOTATION = "kubeplay.io/force"

PRUNE_DISABLED_ANNOTATIONS: tuple[tuple[str, str], ...] = (
    ("kubeplay.io/prune", "disabled"),
    ("kustomize.toolkit.fluxcd.io/prune", "disabled"),
    ("argocd.argoproj.io/sync-options", "Prune=false"),
)

# Server-set metadata, never compared (the store writes them).
SERVER_METADATA = frozenset(
    {
        "uid",
        "creationTimestamp",
        "generation",
        "resourceVersion",
        "managedFields",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    }
)

POD_UPDATE_MESSAGE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)
STATEFULSET_UPDATE_MESSAGE = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
    "'minReadySeconds' are forbidden"
)
PVC_UPDATE_MESSAGE = (
    "spec is immutable after creation except resources.requests and "
    "volumeAttributesClassName for bound claims"
)
FIELD_IS_IMMUTABLE = "field is immutable"


def apply_rank(kind: str) -> int:
    """Position of a kind in APPLY_ORDER; kinds not listed (custom resources) go last."""
    try:
        return APPLY_ORDER.index(kind)
    except ValueError:
        return len(APPLY_ORDER)


def canonical_json(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def manifest_sha256(body: Mapping[str, Any]) -> str:
    """SHA-256 of a manifest as parsed, as canonical JSON: comments, key order and whitespace
    never change it."""
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def key_of(obj: KubeObject, *, extra: Sequence[kinds.KindInfo] = ()) -> ObjectKey:
    """The object's identity; `extra`: the kinds of custom resources (their scope)."""
    return kinds.key_of(obj.body, extra=extra)


def custom_kinds(
    desired: Sequence[KubeObject], stored: Sequence[AppliedRecord]
) -> list[kinds.KindInfo]:
    """The kinds the CRDs among the desired and the stored objects define."""
    crd = "CustomResourceDefinition"
    bodies = [o.body for o in desired if o.kind == crd]
    bodies += [dict(r.live) for r in stored if r.key.kind == crd]
    return [kinds.from_crd(body) for body in bodies]


def origin(source: str, doc_index: int) -> str:
    """An object's origin: its file (or other source) and document."""
    return f"{source}#{doc_index}"


def origin_of(obj: KubeObject) -> str:
    return origin(obj.source, obj.doc_index)


def _force_annotated(body: Mapping[str, Any]) -> bool:
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    return annotations.get(FORCE_ANNOTATION) == "true"


def prune_disabled(body: Mapping[str, Any]) -> str:
    """The annotation that keeps an object from being pruned (`key: value`), or ""."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    for name, value in PRUNE_DISABLED_ANNOTATIONS:
        current = annotations.get(name)
        if isinstance(current, str) and value in (v.strip() for v in current.split(",")):
            return f"{name}: {value}"
    return ""


# --- the decision --------------------------------------------------------------------------------


def compute_apply(
    desired: Sequence[KubeObject],
    stored: Sequence[AppliedRecord],
    *,
    source: str,
    mode: ApplyMode,
    force: bool = False,
    prune: bool = False,
    keep: frozenset[ObjectKey] = frozenset(),
) -> ApplyActions:
    """What applying `desired` (in `source`) to `stored` does. `stored` may hold more than the
    desired objects: the ones of `source` not desired are pruned in WATCH mode and in APPLY mode
    with `prune`, except those in `keep` (a watched source's conflicts: left as they are).
    `force` (or the object's `kubeplay.io/force: "true"` annotation) turns a refused immutable
    change into a delete and recreate; a claim is never recreated."""
    by_key = {record.key: record for record in stored}
    extra = custom_kinds(desired, stored)
    create: list[ApplyEntry] = []
    update: list[ApplyEntry] = []
    unchanged: list[ApplyEntry] = []
    refused: list[ApplyEntry] = []
    pruned: list[ApplyEntry] = []
    seen: set[ObjectKey] = set(keep)
    if mode is ApplyMode.DOWN:
        for obj in desired:
            record = by_key.get(key_of(obj, extra=extra))
            if record is not None and record.key not in seen:
                seen.add(record.key)
                pruned.append(_pruned(record, verb="deleted"))
        return ApplyActions(prune=tuple(_prune_order(pruned)))
    for obj in desired:
        key = key_of(obj, extra=extra)
        seen.add(key)
        record = by_key.get(key)
        entry = _decide(obj, key, record, source=source, mode=mode, force=force)
        if entry.reason is Reason.NEW:
            create.append(entry)
        elif entry.reason in (Reason.UNCHANGED,):
            unchanged.append(entry)
        elif entry.reason in (Reason.CHANGED, Reason.METADATA_ONLY, Reason.RECREATE):
            update.append(entry)
        else:
            refused.append(entry)
    if mode is ApplyMode.WATCH or (mode is ApplyMode.APPLY and prune):
        for record in stored:
            if record.key in seen or record.source != source or source == PLAY_SOURCE:
                continue
            if record.owner_uid:
                continue  # its owner's cascade removes it
            kept = prune_disabled(record.live) or prune_disabled(record.last_applied)
            if kept:  # left alone: not a failure of the apply
                unchanged.append(
                    ApplyEntry(
                        key=record.key,
                        reason=Reason.PRUNE_DISABLED,
                        message=f"{kinds.ref(record.key)} not pruned ({kept})",
                        uid=record.uid,
                        body=record.live,
                        before=record.live,
                        last_applied=record.last_applied,
                        last_applied_sha256=record.last_applied_sha256,
                    )
                )
            else:
                pruned.append(_pruned(record, verb="pruned"))
    order = _apply_order
    return ApplyActions(
        create=tuple(order(create)),
        update=tuple(order(update)),
        unchanged=tuple(order(unchanged)),
        prune=tuple(_prune_order(pruned)),
        refused=tuple(order(refused)),
    )


def _apply_order(entries: list[ApplyEntry]) -> list[ApplyEntry]:
    return sorted(entries, key=lambda e: apply_rank(e.key.kind))


def _prune_order(entries: list[ApplyEntry]) -> list[ApplyEntry]:
    return sorted(entries, key=lambda e: -apply_rank(e.key.kind))


def _pruned(record: AppliedRecord, *, verb: str) -> ApplyEntry:
    return ApplyEntry(
        key=record.key,
        reason=Reason.GONE_FROM_SOURCE,
        message=f"{kinds.ref(record.key)} {verb}",
        uid=record.uid,
        before=record.live,
    )


def _decide(
    obj: KubeObject,
    key: ObjectKey,
    record: AppliedRecord | None,
    *,
    source: str,
    mode: ApplyMode,
    force: bool,
) -> ApplyEntry:
    ref = kinds.ref(key)
    manifest = obj.body
    sha = manifest_sha256(manifest)
    common: dict[str, Any] = {
        "key": key,
        "last_applied": manifest,
        "last_applied_sha256": sha,
        "origin": origin_of(obj),
    }
    if record is None:
        return ApplyEntry(
            reason=Reason.NEW,
            message=f"{ref} created",
            body=defaults.default_object(copy.deepcopy(manifest)),
            **common,
        )
    common["uid"] = record.uid
    common["before"] = record.live
    if mode is ApplyMode.PLAY and key.kind in PLAY_RUN_KINDS:
        where = f"{key.namespace}/{key.name}" if key.namespace else key.name
        return ApplyEntry(
            reason=Reason.EXISTS,
            message=f"{key.kind.lower()} {where}: already exists",
            **common,
        )
    if record.source != source and not (record.source == "" and not record.owner_uid):
        if mode is not ApplyMode.APPLY or not _adoptable(record):
            return ApplyEntry(
                reason=Reason.OWNED_BY_OTHER_SOURCE,
                message=f"{ref}: not applied: {_managed_by(record)}",
                **common,
            )
        common["taken_from"] = record.source
        if record.source == PLAY_SOURCE:
            common["warning"] = (
                f"{ref} was created by play, not apply: apply takes it over (an apply "
                "--prune of these paths now removes it once it leaves them)"
            )
    fresh = defaults.default_object(dict(manifest))
    if mode is ApplyMode.REPLACE and key.kind in PLAY_RUN_KINDS:
        # play --replace: a stored Pod or workload is made again, changed or not.
        return ApplyEntry(
            reason=Reason.RECREATE,
            message=f"{ref} replaced",
            body=fresh,
            effect=Effect.RECREATE,
            spec_changed=True,
            changed_paths=tuple(diff_paths(_comparable(record.live), _comparable(fresh))),
            **common,
        )
    if sha == record.last_applied_sha256 and mode is not ApplyMode.WATCH:
        # (a watched source merges even so: a field it sets, changed by hand, goes back)
        return ApplyEntry(
            reason=Reason.UNCHANGED,
            message=f"{ref} unchanged",
            body=record.live,
            **common,
        )
    merged = defaults.default_object(three_way_merge(record.last_applied, manifest, record.live))
    live = dict(record.live)
    _keep_allocated(key.kind, merged, live)
    before, after = _comparable(live), _comparable(merged)
    paths = tuple(diff_paths(before, after))
    if not paths:
        return ApplyEntry(
            reason=Reason.UNCHANGED,
            message=f"{ref} unchanged",
            body=merged,
            **common,
        )
    spec_paths = tuple(p for p in paths if p != "metadata" and not p.startswith("metadata."))
    if not spec_paths:
        return ApplyEntry(
            reason=Reason.METADATA_ONLY,
            message=f"{ref} configured",
            body=merged,
            changed_paths=paths,
            **common,
        )
    rule = update_rule(key.kind, before, after)
    # A Pod is recreated without --force (kubelet static pods, and `apply`'s promise).
    forced = force or rule.recreate or _force_annotated(manifest)
    if rule.problems and not (forced and rule.recreatable):
        why = "; ".join(f"{path}: {msg}" for path, msg in rule.problems)
        return ApplyEntry(
            reason=Reason.IMMUTABLE,
            message=f'The {key.kind} "{key.name}" is invalid: {why}',
            body=merged,
            changed_paths=paths,
            **common,
        )
    if rule.problems:
        shown = ", ".join(spec_paths[:3]) + (", ..." if len(spec_paths) > 3 else "")
        return ApplyEntry(
            reason=Reason.RECREATE,
            message=f"{ref} replaced ({shown} changed; {rule.recreate_why})",
            body=fresh,
            effect=Effect.RECREATE,
            spec_changed=True,
            changed_paths=paths,
            **common,
        )
    return ApplyEntry(
        reason=Reason.CHANGED,
        message=f"{ref} configured",
        body=merged,
        effect=rule.effect,
        restart_containers=rule.restart_containers,
        spec_changed=True,
        changed_paths=paths,
        **common,
    )


def _adoptable(record: AppliedRecord) -> bool:
    """Whether `apply` takes the stored object over: one another `apply` or `play` stored
    (kubectl's last writer wins), not a watched source's nor a controller's."""
    if record.owner_uid:
        return False
    return record.source == PLAY_SOURCE or record.source.startswith(APPLY_SOURCE_PREFIX)


def _managed_by(record: AppliedRecord) -> str:
    if record.source.startswith(WATCHED_SOURCE_PREFIX):
        name = record.source.removeprefix(WATCHED_SOURCE_PREFIX)
        return (
            f"managed by watched source {name}, which would put it back (change it there, "
            "or unwatch it)"
        )
    return f"managed by source {record.source}" if record.source else "managed by its owner"


# --- the three-way merge ----------------------------------------------------------------------


_ABSENT = object()


def three_way_merge(
    last_applied: Mapping[str, Any], manifest: Mapping[str, Any], live: Mapping[str, Any]
) -> Body:
    """Live, with every path of `manifest` set and every path `last_applied` had and `manifest`
    lacks removed (back to its default). Lists are atomic: the manifest's list replaces the
    live one whole; maps merge key by key."""
    out = copy.deepcopy(dict(live))
    _merge_into(out, last_applied, manifest)
    return out


# Lists merged item by item on this key, as strategic merge patch does (patchMergeKey "name"),
# so what the API server defaulted on a container (imagePullPolicy from the tag it had) stays
# when only its image changes. Every other list is atomic (a Service's ports are not merged on
# `port`: the same port on TCP and UDP, k8s #39188).
MERGED_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers"})


def _merge_into(out: Body, last: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    for name in last:
        if name not in new:
            out.pop(name, None)
    for name, value in new.items():
        current = out.get(name, _ABSENT)
        before = last.get(name)
        if isinstance(value, dict) and isinstance(current, dict):
            _merge_into(current, before if isinstance(before, dict) else {}, value)
        elif name in MERGED_LISTS and _named(value) and _named(current):
            out[name] = _merge_named(current, before if isinstance(before, list) else [], value)
        else:
            out[name] = copy.deepcopy(value)


def _named(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, dict) and isinstance(item.get("name"), str) for item in value
    )


def _merge_named(live: list[Body], last: list[Body], new: list[Body]) -> list[Body]:
    """The manifest's items in its order, each merged into the live item of its name."""
    live_by = {item["name"]: item for item in live}
    last_by = {item["name"]: item for item in last if isinstance(item, dict) and "name" in item}
    out = []
    for item in new:
        merged = copy.deepcopy(live_by.get(item["name"], {}))
        _merge_into(merged, last_by.get(item["name"], {}), item)
        out.append(merged)
    return out


def _keep_allocated(kind: str, merged: Body, live: Mapping[str, Any]) -> None:
    """What the API server copies from the old object when an update leaves it out: a
    Service's clusterIP(s) and allocated nodePorts (matched by port name, as
    patchAllocatedValues does, k8s #23551)."""
    if kind != "Service":
        return
    old = live.get("spec") or {}
    new = merged.get("spec")
    if not isinstance(new, dict):
        return
    for field_name in ("clusterIP", "clusterIPs", "healthCheckNodePort"):
        if field_name in old and field_name not in new:
            new[field_name] = copy.deepcopy(old[field_name])
    node_ports = ("NodePort", "LoadBalancer")
    if old.get("type") in node_ports and new.get("type") in node_ports:
        by_name = {p.get("name", ""): p.get("nodePort") for p in old.get("ports") or ()}
        used = {p.get("nodePort") for p in new.get("ports") or () if p.get("nodePort")}
        for port in new.get("ports") or ():
            kept = by_name.get(port.get("name", ""))
            if isinstance(port, dict) and not port.get("nodePort") and kept and kept not in used:
                port["nodePort"] = kept


# Maps of resource.Quantity values in the built-in kinds (containers' and claims' resources,
# pod overhead, ResourceQuota, LimitRange, PersistentVolume capacity): compared by value, as
# the API server stores the canonical form (`cpu: 0.5` is `500m`, `1024Mi` is `1Gi`).
QUANTITY_MAPS = frozenset(
    {"limits", "requests", "overhead", "hard", "capacity", "max", "min", "default"}
    | {"defaultRequest", "maxLimitRequestRatio"}
)


def _comparable(body: Mapping[str, Any]) -> Body:
    """What apply compares: a body without status and server-set metadata, and without null,
    empty maps and empty lists (the API server's JSON omits them: `labels: {}`, `env: []` or
    `resources: {}` written out is the same object); quantities of the built-in kinds by
    value."""
    out = {k: v for k, v in body.items() if k != "status"}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        out["metadata"] = {k: v for k, v in meta.items() if k not in SERVER_METADATA}
    builtin = kinds.lookup(kinds.group_of(str(body.get("apiVersion", ""))), str(body.get("kind")))
    pruned = _normalized(out, quantities=builtin is not None)
    return pruned if isinstance(pruned, dict) else {}


def _normalized(value: Any, *, quantities: bool, parent: str = "") -> Any:
    if isinstance(value, dict):
        kept = ((k, _normalized(v, quantities=quantities, parent=k)) for k, v in value.items())
        out = {k: v for k, v in kept if v is not None and v != {} and v != []}
        if quantities and (parent in QUANTITY_MAPS or "sizeLimit" in out):
            for name, item in out.items():
                if parent in QUANTITY_MAPS or name == "sizeLimit":
                    number = parse_quantity(item)
                    out[name] = item if number is None else _canonical(number)
        return out
    if isinstance(value, list):
        return [_normalized(v, quantities=quantities, parent=parent) for v in value]
    return value


def _canonical(number: Any) -> str:
    text = format(number.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def diff_paths(old: Any, new: Any, prefix: str = "", *, name: str = "") -> Iterator[str]:
    """Field paths where `old` and `new` differ, in the manifest's order: deepest where both
    are maps; a list is one field (apply replaces it whole: `spec.containers[0].env`, not
    `env[0].value`), but the lists merged by name (containers) are followed item by item
    when they are as long."""
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(new) + [k for k in old if k not in new]:
            child = f"{prefix}.{key}" if prefix else str(key)
            yield from diff_paths(
                old.get(key, _ABSENT), new.get(key, _ABSENT), child, name=str(key)
            )
        return
    same_length = isinstance(old, list) and isinstance(new, list) and len(old) == len(new)
    if name in MERGED_LISTS and same_length:  # else the list changed (a container added)
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from diff_paths(a, b, f"{prefix}[{index}]")
        return
    yield prefix


# --- per-kind update rules --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpdateRule:
    """What a spec change does for a kind: an effect, or problems the API server refuses."""

    effect: Effect = Effect.NONE
    problems: tuple[tuple[str, str], ...] = ()
    recreate: bool = False  # problems are solved by recreating, without --force (Pods)
    recreatable: bool = True  # False: not even --force recreates it (a claim keeps its data)
    recreate_why: str = "forced"
    restart_containers: tuple[str, ...] = ()


def update_rule(kind: str, live: Mapping[str, Any], merged: Mapping[str, Any]) -> UpdateRule:
    """The API server's update validation and the controllers' reaction for `kind`, on the
    defaulted live and merged bodies as compared (`_comparable`)."""
    rule = _RULES.get(kind)
    return rule(live, merged) if rule is not None else UpdateRule()


def _spec(body: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = body.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _invalid(path: str, value: Any, message: str) -> tuple[str, str]:
    """field.Invalid's rendering: `path: Invalid value: VALUE: message`."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    if len(text) > 80:
        text = text[:77] + "..."
    return path, f"Invalid value: {text}: {message}"


def _pod_rule(live: Mapping[str, Any], merged: Mapping[str, Any]) -> UpdateRule:
    old, new = _spec(live), _spec(merged)
    restart: list[str] = []
    # Mutable: images, a lowered or newly set activeDeadlineSeconds, added tolerations.
    trial = copy.deepcopy(dict(new))
    for group in ("containers", "initContainers"):
        olds = old.get(group) or []
        news = trial.get(group) or []
        if len(olds) != len(news):
            continue
        for before, after in zip(olds, news, strict=True):
            if isinstance(after, dict) and isinstance(before, dict):
                if after.get("image") != before.get("image"):
                    restart.append(str(after.get("name", "")))
                after["image"] = before.get("image")
    deadline_old, deadline_new = old.get("activeDeadlineSeconds"), new.get("activeDeadlineSeconds")
    if deadline_new is not None and (deadline_old is None or deadline_new <= deadline_old):
        if deadline_old is None:
            trial.pop("activeDeadlineSeconds", None)
        else:
            trial["activeDeadlineSeconds"] = deadline_old
    old_tolerations = list(old.get("tolerations") or [])
    if all(t in (new.get("tolerations") or []) for t in old_tolerations):
        if "tolerations" in old:
            trial["tolerations"] = old["tolerations"]
        else:
            trial.pop("tolerations", None)
    if trial == old:
        return UpdateRule(
            effect=Effect.RESTART if restart else Effect.NONE,
            restart_containers=tuple(restart),
        )
    return UpdateRule(
        problems=(("spec", f"Forbidden: {POD_UPDATE_MESSAGE}"),),
        recreate=True,
        recreate_why="pods are immutable",
    )


Rule = Callable[[Mapping[str, Any], Mapping[str, Any]], UpdateRule]


def _config_rule(kind: str) -> Rule:
    def rule(live: Mapping[str, Any], merged: Mapping[str, Any]) -> UpdateRule:
        problems = configdata.immutable_problems(kind, live, merged)
        return UpdateRule(
            problems=tuple((path, f"Forbidden: {msg}") for path, msg in problems),
            recreate_why="forced",
        )

    return rule


def _pvc_rule(live: Mapping[str, Any], merged: Mapping[str, Any]) -> UpdateRule:
    old, new = _spec(live), _spec(merged)
    problems: list[tuple[str, str]] = []
    rest_old = {k: v for k, v in old.items() if k not in ("resources", "volumeAttributesClassName")}
    rest_new = {k: v for k, v in new.items() if k not in ("resources", "volumeAttributesClassName")}
    if rest_old != rest_new:
        problems.append(("spec", f"Forbidden: {PVC_UPDATE_MESSAGE}"))
    before = parse_quantity(((old.get("resources") or {}).get("requests") or {}).get("storage"))
    after = parse_quantity(((new.get("resources") or {}).get("requests") or {}).get("storage"))
    if before is not None and after is not None and after < before:
        problems.append(
            (
                "spec.resources.requests.storage",
                "Forbidden: field can not be less than previous value",
            )
        )
    return UpdateRule(problems=tuple(problems), recreatable=False)


def _selector_problems(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str]]:
    if old.get("selector") != new.get("selector"):
        return [_invalid("spec.selector", new.get("selector"), FIELD_IS_IMMUTABLE)]
    return []


def _template_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    return old.get("template") != new.get("template")


def _deployment_rule(live: Mapping[str, Any], merged: Mapping[str, Any]) -> UpdateRule:
    old, new = _spec(live), _spec(merged)
    return UpdateRule(
        effect=Effect.ROLLOUT if _template_changed(old, new) else Effect.NONE,
        problems=tuple(_selector_problems(old, new)),
    )


def _replicaset_rule(live: Mapping[str, Any], merged: Mapping[str, Any]) -> UpdateRule:
    old, new = _spec(live), _spec(merged)
    return UpdateRule(problems=tuple(_selector_problems(old, new)))


STATEFULSET_MUTABLE = frozenset(
    {
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "revisionHistoryLimit",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    }
)


def _statefulset_rule(live: Mapping[str, Any], merged: Mapping[str, Any]) -> UpdateRule:
    old, new = _spec(live), _spec(merged)
    rest_old = {k: v for k, v in old.items() if k not in STATEFULSET_MUTABLE}
    rest_new = {k: v for k, v in new.items() if k not in STATEFULSET_MUTABLE}
    problems = (
        () if rest_old == rest_new else (("spec", f"Forbidden: {STATEFULSET_UPDATE_MESSAGE}"),)
    )
    return UpdateRule(
        effect=Effect.ROLLOUT if _template_changed(old, new) else Effect.NONE,
        problems=problems,
    )


JOB_MUTABLE = frozenset(
    {
        "parallelism",
        "suspend",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
        "managedBy",
    }
)


def _job_rule(live: Mapping[str, Any], merged: Mapping[str, Any]) -> UpdateRule:
    old, new = _spec(live), _spec(merged)
    problems: list[tuple[str, str]] = []
    elastic = (
        new.get("completionMode") == "Indexed"
        and old.get("completions") == old.get("parallelism")
        and new.get("completions") == new.get("parallelism")
    )
    for name in list(new) + [k for k in old if k not in new]:
        if name in JOB_MUTABLE or old.get(name) == new.get(name):
            continue
        if name == "completions" and elastic:
            continue
        problems.append(_invalid(f"spec.{name}", new.get(name), FIELD_IS_IMMUTABLE))
    return UpdateRule(problems=tuple(problems), recreate_why="forced")


def _service_rule(live: Mapping[str, Any], merged: Mapping[str, Any]) -> UpdateRule:
    old, new = _spec(live), _spec(merged)
    problems: list[tuple[str, str]] = []
    ip_old, ip_new = old.get("clusterIP"), new.get("clusterIP")
    # Changing type to or from ExternalName is how a clusterIP may go or come.
    if ip_old and ip_new != ip_old and new.get("type") != "ExternalName":
        problems.append(_invalid("spec.clusterIPs[0]", [ip_new], "may not change once set"))
    return UpdateRule(problems=tuple(problems), recreate_why="forced")


def _role_binding_rule(live: Mapping[str, Any], merged: Mapping[str, Any]) -> UpdateRule:
    """rbac/validation ValidateRoleBindingUpdate: the roleRef is fixed."""
    if live.get("roleRef") != merged.get("roleRef"):
        return UpdateRule(
            problems=(_invalid("roleRef", merged.get("roleRef"), "cannot change roleRef"),)
        )
    return UpdateRule()


def _priority_class_rule(live: Mapping[str, Any], merged: Mapping[str, Any]) -> UpdateRule:
    """scheduling/validation ValidatePriorityClassUpdate."""
    problems: list[tuple[str, str]] = []
    if live.get("value") != merged.get("value"):
        problems.append(("value", "Forbidden: may not be changed in an update."))
    if live.get("preemptionPolicy") != merged.get("preemptionPolicy"):
        problems.append(
            _invalid("preemptionPolicy", merged.get("preemptionPolicy"), FIELD_IS_IMMUTABLE)
        )
    return UpdateRule(problems=tuple(problems))


def _storage_class_rule(live: Mapping[str, Any], merged: Mapping[str, Any]) -> UpdateRule:
    """storage/validation ValidateStorageClassUpdate."""
    problems: list[tuple[str, str]] = []
    for name in ("parameters", "provisioner", "reclaimPolicy"):
        if live.get(name) != merged.get(name):
            problems.append((name, f"Forbidden: updates to {name} are forbidden."))
    if live.get("volumeBindingMode") != merged.get("volumeBindingMode"):
        problems.append(
            _invalid("volumeBindingMode", merged.get("volumeBindingMode"), FIELD_IS_IMMUTABLE)
        )
    return UpdateRule(problems=tuple(problems))


_RULES: dict[str, Rule] = {
    "Service": _service_rule,
    "RoleBinding": _role_binding_rule,
    "ClusterRoleBinding": _role_binding_rule,
    "PriorityClass": _priority_class_rule,
    "StorageClass": _storage_class_rule,
    "Pod": _pod_rule,
    "ConfigMap": _config_rule("ConfigMap"),
    "Secret": _config_rule("Secret"),
    "PersistentVolumeClaim": _pvc_rule,
    "Deployment": _deployment_rule,
    "DaemonSet": _deployment_rule,
    "ReplicaSet": _replicaset_rule,
    "StatefulSet": _statefulset_rule,
    "Job": _job_rule,
}


# --- diff ---------------------------------------------------------------------------------------


def masked_secrets(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`kubectl diff`'s Masker for two Secret bodies: each value of `data` (and `stringData`)
    becomes `***`, or `*** (before)` / `*** (after)` where the two differ, so a diff shows which
    keys changed and never a value. Other kinds come back as copies."""
    old, new = copy.deepcopy(dict(before)), copy.deepcopy(dict(after))
    if "Secret" not in (old.get("kind"), new.get("kind")):
        return old, new
    for field_name in ("data", "stringData"):
        a, b = old.get(field_name), new.get(field_name)
        a = a if isinstance(a, dict) else None
        b = b if isinstance(b, dict) else None
        for key in set(a or ()) | set(b or ()):
            differ = a is not None and b is not None and key in a and key in b and a[key] != b[key]
            if a is not None and key in a:
                a[key] = "*** (before)" if differ else "***"
            if b is not None and key in b:
                b[key] = "*** (after)" if differ else "***"
    return old, new
