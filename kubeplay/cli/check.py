"""`kubeplay check`: parsing, rendering (text or JSON) and the exit code; the work is
services.check.

Exit codes: 0 when nothing at or above `--fail-on` (default error) was found, 1 when
something was, 2 for invalid input (as `play`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from kubeplay.errors import UsageError

LEVELS = ("error", "warning", "info")


@click.command("check")
@click.argument("args", nargs=-1)
@click.option("--kube-version", default="", help="Kubernetes version of the cluster (1.30).")
@click.option(
    "--pod-security",
    type=click.Choice(["baseline", "restricted"]),
    default="baseline",
    help="Pod Security level the cluster's namespaces enforce (default baseline).",
)
@click.option(
    "--fail-on",
    type=click.Choice(["warning", "error"]),
    default="error",
    help="Exit 1 when a finding of this level or above is found (default error).",
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--no-resource-checks",
    is_flag=True,
    help="Do not report missing requests, limits, readiness and liveness probes.",
)
@click.option("--running", is_flag=True, help="Check what runs (through generate kube).")
@click.option("-n", "--namespace", default=None, help="With --running: the namespace.")
@click.option("-A", "--all-namespaces", is_flag=True, help="With --running: every namespace.")
def check(
    args: tuple[str, ...],
    kube_version: str,
    pod_security: str,
    fail_on: str,
    output: str,
    no_resource_checks: bool,
    running: bool,
    namespace: str | None,
    all_namespaces: bool,
) -> None:
    """What a cluster will do differently: check FILE... | DIR | -, or --running [POD|KIND/NAME...].

    Offline: no cluster is contacted, nothing is pulled or created.
    """
    from kubeplay import settings as settings_mod
    from kubeplay.services import check as check_mod

    settings = settings_mod.load()
    if running:
        report = check_mod.check_running(
            settings,
            args,
            namespace=None if all_namespaces else namespace or "default",
            kube_version=kube_version,
            pod_security=pod_security,
            resource_checks=not no_resource_checks,
        )
    else:
        if not args:
            raise UsageError("check: name FILE..., a directory or - (or use --running)")
        if namespace or all_namespaces:
            raise UsageError("check: -n and -A go with --running")
        report = check_mod.check(
            settings,
            args,
            kube_version=kube_version,
            pod_security=pod_security,
            resource_checks=not no_resource_checks,
        )
    failed = fails(report.findings, fail_on)
    if output == "json":
        click.echo(render_json(report, fail_on=fail_on))
    else:
        click.echo(render_text(report, fail_on=fail_on), nl=False)
    if failed:
        sys.exit(1)


def fails(findings: Sequence[Any], fail_on: str) -> bool:
    """Whether any finding is at or above `fail_on`."""
    worst = LEVELS[: LEVELS.index(fail_on) + 1]
    return any(f.level in worst for f in findings)


def _where(f: Any) -> str:
    name = f"{f.namespace}/{f.name}" if f.namespace else f.name
    return f"{f.source}:{f.line}: document {f.doc_index} ({f.kind} {name})"


def render_text(report: Any, *, fail_on: str) -> str:
    """One line per finding (file:line, document, object, field path, level, rule, what the
    cluster does), then the summary."""
    lines = []
    for f in report.findings:
        path = f"{f.path}: " if f.path else ""
        lines.append(f"{_where(f)}: {path}{f.level} [{f.rule}]: {f.message}")
    counts = _counts(report.findings)
    what = ", ".join(
        f"{counts[level]} {level if counts[level] == 1 or level == 'info' else level + 's'}"
        for level in LEVELS
    )
    verdict = "fails" if fails(report.findings, fail_on) else "passes"
    lines.append(
        f"check: {what} in {report.objects} "
        f"{'object' if report.objects == 1 else 'objects'} (Kubernetes {report.kube_version}, "
        f"Pod Security {report.pod_security}): {verdict} --fail-on {fail_on}"
    )
    return "\n".join(lines) + "\n"


def _counts(findings: Sequence[Any]) -> dict[str, int]:
    counts = dict.fromkeys(LEVELS, 0)
    for f in findings:
        counts[str(f.level)] += 1
    return counts


def render_json(report: Any, *, fail_on: str) -> str:
    doc = {
        "kubeVersion": report.kube_version,
        "podSecurity": report.pod_security,
        "failOn": fail_on,
        "failed": fails(report.findings, fail_on),
        "summary": {"objects": report.objects, **_counts(report.findings)},
        "findings": [
            {
                "file": f.source,
                "line": f.line,
                "document": f.doc_index,
                "kind": f.kind,
                "namespace": f.namespace,
                "name": f.name,
                "path": f.path,
                "rule": f.rule,
                "level": str(f.level),
                "message": f.message,
            }
            for f in report.findings
        ],
    }
    return json.dumps(doc, indent=2)
