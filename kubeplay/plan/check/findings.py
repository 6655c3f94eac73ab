"""`compute_findings`: every rule of `kubeplay check` over a set of loaded objects.

Per object, in input order: its apiVersion at the Kubernetes version asked for (`apis`), the
strict schema and the API server's rules (`kube.validate`; a removed apiVersion is not
validated further, an unknown kind is a warning), the workload selector, then for each pod
spec (a Pod's, a workload's template) images, Pod Security, references, resources and
probes, and last what kubeplay did not play (`unplayed`). Services are matched against every
pod template of the files. Pure: the caller gives the image store's names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeplay.kube import validate, workloads
from kubeplay.kube.objects import KubeObject
from kubeplay.plan.check import apis, images, podsecurity, references, resources, unplayed
from kubeplay.plan.check.rules import RULES, Finding, Level

# Where a kind keeps the metadata of its pods (labels, annotations).
POD_META_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("metadata",),
    **{
        kind: (*path[:-1], "metadata")
        for kind, path in validate.POD_SPEC_PATHS.items()
        if kind != "Pod"
    },
}
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION_LABEL = "pod-security.kubernetes.io/enforce-version"
POD_SECURITY_LEVELS = ("baseline", "restricted")
_REFERABLE = ("ConfigMap", "Secret", "PersistentVolumeClaim", "ServiceAccount")
_SELECTOR_MESSAGES = ("`selector` does not match template `labels`", "empty selector is invalid")


@dataclass(frozen=True, slots=True)
class Options:
    schema_version: str  # a bundled schema version, from validate.resolve_schema_version
    pod_security: str = "baseline"  # the level the cluster's namespaces enforce
    resource_checks: bool = True
    local_images: images.LocalImages = field(default_factory=images.LocalImages)


def _dig(body: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = body
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _namespace(obj: KubeObject) -> str:
    return "" if obj.kind in validate.CLUSTER_SCOPED_KINDS else obj.namespace


class _Collector:
    def __init__(self, obj: KubeObject) -> None:
        self.obj = obj
        self.found: list[Finding] = []

    def add(self, rule: str, path: str, message: str, *, level: Level | None = None) -> None:
        obj = self.obj
        self.found.append(
            Finding(
                rule=rule,
                level=level or RULES[rule].level,
                source=obj.source,
                doc_index=obj.doc_index,
                line=obj.line_of(path or "kind"),
                kind=obj.kind,
                namespace=_namespace(obj),
                name=obj.name,
                path=path,
                message=message,
            )
        )


def _enforced_levels(
    objects: Sequence[KubeObject], *, default: str, version: apis.Version
) -> dict[str, tuple[str, apis.Version]]:
    """Namespaces of the files that carry Pod Security enforce labels: their level and the
    version of the checks (`enforce-version: v1.28`; `latest` or none: the cluster's)."""
    levels: dict[str, tuple[str, apis.Version]] = {}
    for obj in objects:
        if obj.kind != "Namespace":
            continue
        labels = _dig(obj.body, ("metadata", "labels"))
        labels = labels if isinstance(labels, dict) else {}
        level = labels.get(ENFORCE_LABEL)
        pinned = str(labels.get(ENFORCE_VERSION_LABEL) or "")
        at = version
        if _PINNED.fullmatch(pinned):
            at = min(version, apis.parse_version(pinned))
        if level in podsecurity.LEVELS or at != version:
            levels[obj.name] = (str(level) if level in podsecurity.LEVELS else default, at)
    return levels


_PINNED = re.compile(r"v\d+\.\d+")


def _pod_templates(objects: Sequence[KubeObject]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(namespace, pod labels) of every Pod and workload template."""
    for obj in objects:
        meta_path = POD_META_PATHS.get(obj.kind)
        if meta_path is not None:
            labels = _dig(obj.body, (*meta_path, "labels"))
            yield obj.namespace, labels if isinstance(labels, dict) else {}


def compute_findings(objects: Sequence[KubeObject], *, options: Options) -> list[Finding]:
    version = apis.parse_version(options.schema_version)
    defined = {(obj.kind, obj.namespace, obj.name) for obj in objects if obj.kind in _REFERABLE}
    enforced = _enforced_levels(objects, default=options.pod_security, version=version)
    templates = list(_pod_templates(objects))
    adopters = [obj for obj in objects if obj.kind in _ADOPTERS]
    found: list[Finding] = []
    for obj in objects:
        out = _Collector(obj)
        valid = _check_api_and_schema(obj, out, options=options, version=version)
        mismatch = references.selector_mismatch(obj.kind, obj.body)
        if mismatch is not None:
            out.add("workload-selector-mismatch", *mismatch)
        spec_path = validate.POD_SPEC_PATHS.get(obj.kind)
        spec = _dig(obj.body, spec_path) if spec_path else None
        if spec_path and isinstance(spec, dict):
            prefix = ".".join(spec_path)
            meta = _dig(obj.body, POD_META_PATHS[obj.kind])
            level, pss_version = enforced.get(obj.namespace, (options.pod_security, version))
            _check_pod_spec(
                obj,
                out,
                spec,
                prefix=prefix,
                meta=meta if isinstance(meta, dict) else {},
                options=options,
                version=pss_version,
                enforced=level,
                defined=defined,
            )
        if obj.kind == "Service":
            _check_service(obj, out, templates)
        if obj.kind == "Pod":
            _check_bare_pod(obj, out, adopters)
        if valid:
            for warning in validate.collect_warnings(obj):
                rule, message = unplayed.describe(warning)
                out.add(rule, warning.path, message)
        found.extend(out.found)
    return found


def _check_api_and_schema(
    obj: KubeObject, out: _Collector, *, options: Options, version: apis.Version
) -> bool:
    """The apiVersion and schema rules; False when the object is not valid at `version`."""
    status = apis.compute_api_status(obj.api_version, obj.kind, version=version)
    if status is not None:
        out.add("api-removed" if status.removed else "api-deprecated", "apiVersion", status.message)
        if status.removed:
            return False
    problems = validate.check_schema(obj, version=options.schema_version)
    unknown = f"unsupported kind {obj.kind} for apiVersion {obj.api_version}"
    if [p.message for p in problems] == [unknown]:
        out.add(
            "kind-unknown",
            "kind",
            f"no schema for {obj.kind} {obj.api_version} in Kubernetes "
            f"{version[0]}.{version[1]}: a cluster serves it only "
            "if a CustomResourceDefinition defines it; not validated",
        )
        return False
    if not problems:
        problems = [
            p
            for p in validate.check_rules(obj)
            if not any(m in p.message for m in _SELECTOR_MESSAGES)
        ]
    rejected = False
    for problem in problems:
        # kube.validate also refuses what only kubeplay cannot run (a Windows pod, a hugepages
        # emptyDir): its message says so, and a cluster accepts it.
        if "kubeplay" in problem.message:
            out.add(
                "field-not-played",
                problem.path,
                f"kubeplay: {problem.message}; cluster: accepted; this run could not test it",
            )
        else:
            out.add("schema-invalid", problem.path, problem.message)
            rejected = True
    return not rejected


def _check_pod_spec(
    obj: KubeObject,
    out: _Collector,
    spec: Mapping[str, Any],
    *,
    prefix: str,
    meta: Mapping[str, Any],
    options: Options,
    version: apis.Version,
    enforced: str,
    defined: set[tuple[str, str, str]],
) -> None:
    for problem in images.check_images(spec, prefix, local=options.local_images):
        out.add(problem.rule, problem.path, problem.message)
    failures = podsecurity.compute_failures(spec, meta, prefix=prefix, version=version)
    for failure in failures:
        if enforced == "restricted" and not podsecurity.enforced_by(failure, enforced, version):
            continue  # replaced by its restricted check, as the admission evaluates it
        rejects = podsecurity.enforced_by(failure, enforced, version)
        policy = f"{enforced if rejects else 'restricted'}:v{version[0]}.{version[1]}"
        verdict = (
            f'violates PodSecurity "{policy}"'
            if rejects
            else f'would violate PodSecurity "{policy}" (the namespace enforces {enforced})'
        )
        out.add(
            f"pss-{failure.check}",
            failure.path,
            f"{verdict}: {failure.message}",
            level=Level.ERROR if rejects else Level.INFO,
        )
    needed = podsecurity.needed_level(failures)
    if needed != "restricted":
        order = podsecurity.LEVELS
        verdict = "rejects" if order.index(enforced) > order.index(needed) else "admits"
        out.add(
            "pss-level",
            prefix,
            f"the pod needs Pod Security level {needed}: a namespace enforcing {enforced} "
            f"{verdict} it",
        )
    for ref in references.compute_references(spec, prefix):
        if (ref.kind, obj.namespace, ref.name) not in defined:
            out.add(
                references.rule_of(ref), ref.path, references.describe_missing(ref, obj.namespace)
            )
    if options.resource_checks:
        for rproblem in resources.check_resources(obj.kind, spec, prefix):
            out.add(rproblem.rule, rproblem.path, rproblem.message)


# The controllers whose ClaimPods adopt a bare pod their selector matches (a Deployment's
# ReplicaSets select their pod-template-hash too: no bare pod has it).
_ADOPTERS = ("ReplicaSet", "StatefulSet", "DaemonSet", "Job")


def _check_bare_pod(obj: KubeObject, out: _Collector, adopters: Sequence[KubeObject]) -> None:
    """A Pod of the files that a ReplicaSet, StatefulSet (by its `<name>-<ordinal>` name),
    DaemonSet or Job with `manualSelector` of its namespace selects: the cluster's controller
    adopts it; kubeplay leaves a pod a file made to its file."""
    meta = obj.body.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    labels = meta.get("labels")
    if meta.get("ownerReferences") or not isinstance(labels, dict) or not labels:
        return
    for owner in adopters:
        spec = owner.body.get("spec")
        spec = spec if isinstance(spec, dict) else {}
        selector = spec.get("selector")
        if owner.namespace != obj.namespace or not isinstance(selector, dict) or not selector:
            continue
        if owner.kind == "Job" and not spec.get("manualSelector"):
            continue  # its selector is made with the Job's own uid
        if owner.kind == "StatefulSet" and not workloads.statefulset_member(owner.name, obj.name):
            continue
        try:
            selected = workloads.selector_matches(selector, labels)
        except (TypeError, AttributeError, ValueError):
            continue  # a malformed selector: the schema's finding says so
        if selected:
            out.add(
                "pod-adopted-by-controller",
                "metadata.labels",
                f"{owner.kind.lower()}/{owner.name} selects these labels: the cluster's "
                f"{owner.kind} controller adopts this pod as one of its own (it counts it, and "
                "may delete it to keep its count); kubeplay leaves it to its file",
            )
            return


def _check_service(
    obj: KubeObject, out: _Collector, templates: Sequence[tuple[str, Mapping[str, Any]]]
) -> None:
    spec = obj.body.get("spec")
    if not isinstance(spec, dict) or spec.get("type") == "ExternalName":
        return
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not selector:
        return
    if any(
        ns == obj.namespace and references.service_selects(selector, labels)
        for ns, labels in templates
    ):
        return
    shown = ", ".join(f"{k}={v}" for k, v in selector.items())
    out.add(
        "service-selector-no-match",
        "spec.selector",
        f"selector {{{shown}}} matches no pod template in these files: the Service has no "
        "endpoints and connections to it fail",
    )
