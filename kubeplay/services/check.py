"""`kubeplay check`: an offline report of what a cluster will do differently with the files.

Loads the files as `play` does (same errors, exit 2), or with `--running` takes what runs
back through `generate kube`, reads which images exist only in kubeplay's store (index only;
registries.conf for short names), and hands everything to `plan.check.findings`. Contacts no
cluster, pulls nothing, creates nothing: no host directory is made, no store is opened for
writing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kubeplay.errors import NotFoundError, UsageError
from kubeplay.kube.objects import KubeObject
from kubeplay.plan.check import findings as findings_mod
from kubeplay.plan.check.images import LocalImages
from kubeplay.plan.check.rules import Finding
from kubeplay.settings import Settings

RUNNING_SOURCE = "<running>"


@dataclass(frozen=True, slots=True)
class CheckReport:
    findings: tuple[Finding, ...]
    kube_version: str  # "1.37"
    pod_security: str
    objects: int


def check(
    settings: Settings,
    paths: Sequence[str],
    *,
    kube_version: str = "",
    pod_security: str = "baseline",
    resource_checks: bool = True,
) -> CheckReport:
    """Check the manifests at `paths` (files, directories, `-`)."""
    from kubeplay.kube import loader

    version = schema_version(kube_version or settings.kube_version)
    objects = loader.load(paths)
    return _report(settings, objects, version, pod_security, resource_checks)


def check_running(
    settings: Settings,
    names: Sequence[str],
    *,
    namespace: str | None,
    kube_version: str = "",
    pod_security: str = "baseline",
    resource_checks: bool = True,
) -> CheckReport:
    """Check what runs (`names`, or every object of `namespace`; None: of every namespace),
    as `generate kube` gives it back (Secrets included, so that references resolve)."""
    from kubeplay.kube import loader
    from kubeplay.plan import generate
    from kubeplay.services import generate as generate_mod

    version = schema_version(kube_version or settings.kube_version)
    if not settings.state_db.exists():  # nothing was ever played: do not make an install
        if names:
            raise NotFoundError(f"{names[0]}: not found (nothing was played on this host)")
        return _report(settings, [], version, pod_security, resource_checks)
    report = generate_mod.generate_kube(
        settings,
        names,
        namespace=namespace,
        options=generate.Options(include_secrets=True),
    )
    objects = loader.load_text(report.yaml, source=RUNNING_SOURCE)
    return _report(settings, objects, version, pod_security, resource_checks)


def _report(
    settings: Settings,
    objects: Sequence[KubeObject],
    version: str,
    pod_security: str,
    resource_checks: bool,
) -> CheckReport:
    options = findings_mod.Options(
        schema_version=version,
        pod_security=pod_security,
        resource_checks=resource_checks,
        local_images=local_images(settings),
    )
    found = findings_mod.compute_findings(objects, options=options)
    major, minor = version.split(".")[:2]
    return CheckReport(
        findings=tuple(found),
        kube_version=f"{major}.{minor}",
        pod_security=pod_security,
        objects=len(objects),
    )


def schema_version(kube_version: str) -> str:
    """The bundled schema for `kube_version` ("" = newest); an unknown version is a usage
    error listing the versions kubeplay has schemas for."""
    from kubernetes_validate import utils

    from kubeplay.kube import validate

    try:
        return validate.resolve_schema_version(kube_version)
    except UsageError as err:
        have = sorted({".".join(str(v).split(".")[:2]) for v in utils.all_versions()}, key=_key)
        raise UsageError(
            f"Kubernetes version {kube_version}: kubeplay has no schema for it "
            f"(it has {', '.join(have)})"
        ) from err


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def local_images(settings: Settings) -> LocalImages:
    """The names of kubeplay's image store, split into those a registry gave (a digest of
    their own repository) and those made here; reads the index only."""
    from kubeplay.image import registries
    from kubeplay.image.store import ImageStore

    pulled: set[str] = set()
    local: set[str] = set()
    for record in ImageStore(settings.images_dir, skopeo=settings.skopeo).list():
        repos = {digest.split("@", 1)[0] for digest in record.digests}
        for name in record.names:
            repo = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
            (pulled if repo in repos else local).add(name)
    return LocalImages(
        pulled=frozenset(pulled), local_only=frozenset(local), registries=registries.load()
    )
