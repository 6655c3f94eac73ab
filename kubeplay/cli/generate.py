"""`kubeplay generate kube` (and the `generate` group, with `generate systemd` of cli.supervise):
parsing and output of the command; the work is services.generate."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kubeplay.cli import supervise as supervise_cli
from kubeplay.errors import KubeplayError


@click.command("kube")
@click.argument("names", nargs=-1)
@click.option("-n", "--namespace", default=None, help="Namespace (default: default).")
@click.option(
    "-A", "--all-namespaces", is_flag=True, help="Every object of every namespace (no NAME)."
)
@click.option(
    "-t",
    "--type",
    "kind",
    type=click.Choice(["pod", "deployment", "daemonset", "job"]),
    default=None,
    help="Emit every pod or workload as this kind.",
)
@click.option("-r", "--replicas", type=click.IntRange(min=0), default=None, help="A Deployment's.")
@click.option("-s", "--service", is_flag=True, help="Add a Service selecting the pods.")
@click.option(
    "--service-type",
    type=click.Choice(["ClusterIP", "NodePort"]),
    default=None,
    help="ClusterIP (default) or NodePort (host ports become node ports); implies --service.",
)
@click.option("--include-secrets", is_flag=True, help="Emit the Secrets the pods reference.")
@click.option(
    "-f",
    "--filename",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the YAML to this file instead of stdout.",
)
@click.option(
    "--kube-version",
    default="",
    help="Kubernetes version whose strict schema the output must pass (default: the "
    "settings'; neither: not checked).",
)
def kube(
    names: tuple[str, ...],
    namespace: str | None,
    all_namespaces: bool,
    kind: str | None,
    replicas: int | None,
    service: bool,
    service_type: str | None,
    include_secrets: bool,
    filename: Path | None,
    kube_version: str,
) -> None:
    """YAML for running pods and what they use: generate kube [POD|KIND/NAME...].

    With no NAME, every pod, workload, ConfigMap and PVC of the namespace (-A: of every
    namespace). A pod a Deployment made is emitted as that Deployment. With --kube-version, the
    output passes that version's strict schema, or nothing is printed and the command fails.
    """
    from kubeplay import settings as settings_mod
    from kubeplay.plan import generate
    from kubeplay.services import generate as generate_mod

    options = generate.Options(
        type=kind or "",
        replicas=replicas,
        service=service or service_type is not None,
        service_type=service_type or "ClusterIP",
        include_secrets=include_secrets,
    )
    report = generate_mod.generate_kube(
        settings_mod.load(),
        names,
        namespace=None if all_namespaces else namespace or "default",
        options=options,
        kube_version=kube_version,
    )
    for line in report.warnings:
        click.echo(f"warning: {line}", err=True)
    if filename is None:
        sys.stdout.write(report.yaml)
        return
    try:
        filename.write_text(report.yaml)
    except OSError as err:
        raise KubeplayError(f"{filename}: cannot write: {err.strerror or err}") from err


@click.group()
def generate() -> None:
    """Generate manifests (and more) from what runs."""


generate.add_command(kube)
generate.add_command(supervise_cli.generate_systemd)
