"""`kubeplay image ...`, `kubeplay login` and `kubeplay logout`: parsing and rendering only.

Registered on the main group by kubeplay.cli.main (by name, imported when run). Pull progress
goes to stderr (a bar per pull on a terminal, a line per layer otherwise); results go to stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from kubeplay import settings as settings_mod


def _settings() -> settings_mod.Settings:
    return settings_mod.load()


def tls_option(fn: Any) -> Any:
    return click.option(
        "--tls-verify",
        type=click.BOOL,
        default=None,
        help="Require HTTPS and verify certificates (default: as registries.conf says).",
    )(fn)


def authfile_option(fn: Any) -> Any:
    return click.option(
        "--authfile",
        default="",
        envvar="REGISTRY_AUTH_FILE",
        help="Auth file (default: REGISTRY_AUTH_FILE, then the containers auth.json).",
    )(fn)


def cert_dir_option(fn: Any) -> Any:
    return click.option(
        "--cert-dir",
        default="",
        help="Certificates (*.crt CAs, *.cert/*.key client pairs) for the registries.",
    )(fn)


def pull_options(tls_verify: bool | None, authfile: str, cert_dir: str = "") -> Any:
    from kubeplay.image.transport import Options

    return Options(tls_verify=tls_verify, authfile=authfile, cert_dir=cert_dir)


def size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.3g} {unit}"
        value /= 1000
    return f"{value:.3g} GB"


@click.group()
def image() -> None:
    """Manage images in kubeplay's store."""


@image.command("import")
@click.argument("tarball", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("reference")
@click.option("-c", "--change", "changes", multiple=True, help="ENV, CMD, ENTRYPOINT, ...")
def image_import(tarball: Path, reference: str, changes: tuple[str, ...]) -> None:
    """Create an image from a rootfs tarball (as podman import)."""
    from kubeplay.services import images

    rec = images.import_rootfs(_settings(), tarball, reference, changes=changes)
    click.echo(rec.image_id)


@image.command("load")
@click.option(
    "-i", "--input", "archive", required=True, type=click.Path(exists=True, path_type=Path)
)
def image_load(archive: Path) -> None:
    """Load images from a docker-archive or oci-archive file."""
    from kubeplay.services import images

    for rec in images.load(_settings(), archive):
        click.echo(f"Loaded image: {', '.join(rec.names) or rec.image_id}")


@image.command("pull")
@click.argument("reference")
@tls_option
@authfile_option
@cert_dir_option
@click.option("-q", "--quiet", is_flag=True, help="No progress, only the image id.")
def image_pull(
    reference: str, tls_verify: bool | None, authfile: str, cert_dir: str, quiet: bool
) -> None:
    """Pull an image from a registry (or podman's storage, for localhost/ names)."""
    from kubeplay.cli import progress as progress_mod
    from kubeplay.services import images

    options = pull_options(tls_verify, authfile, cert_dir)
    if quiet:
        rec = images.pull(_settings(), reference, options=options)
    else:
        with progress_mod.for_stderr() as renderer:
            rec = images.pull(_settings(), reference, options=options, progress=renderer)
    click.echo(rec.image_id)


@image.command("ls")
@click.option("-q", "--quiet", is_flag=True)
@click.option("-o", "--output", type=click.Choice(["json"]), default=None)
def image_ls(quiet: bool, output: str | None) -> None:
    """List images, their sizes and the pods that use them."""
    from kubeplay.cli import render
    from kubeplay.services import images

    views = images.list_images(_settings())
    if quiet:
        for view in views:
            click.echo(view.record.image_id.removeprefix("sha256:")[:12])
        return
    if output == "json":
        docs = [
            {
                "Id": v.record.image_id.removeprefix("sha256:"),
                "Names": list(v.record.names),
                "Digests": list(v.record.digests),
                "Created": v.record.created,
                "Size": v.record.size,
                "UsedBy": list(v.used_by),
            }
            for v in views
        ]
        click.echo(json.dumps(docs, indent=2))
        return
    rows = []
    for view in views:
        rec = view.record
        for ref in rec.names or ("<none>:<none>",):
            repo, _, tag = ref.rpartition(":")
            rows.append(
                [
                    repo,
                    tag,
                    rec.image_id.removeprefix("sha256:")[:12],
                    rec.created,
                    size(rec.size),
                    ",".join(view.used_by) or "-",
                ]
            )
    headers = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "USED BY"]
    click.echo(render.table(headers, rows))


@image.command("inspect")
@click.argument("references", nargs=-1, required=True)
def image_inspect(references: tuple[str, ...]) -> None:
    """Show images as JSON (config, layers, digests, size, the pods that use them)."""
    from kubeplay.services import images

    click.echo(json.dumps(images.inspect(_settings(), references), indent=2))


@image.command("rm")
@click.argument("references", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True)
def image_rm(references: tuple[str, ...], force: bool) -> None:
    """Remove images (refused while a pod uses one, unless --force)."""
    from kubeplay.services import images

    for rec in images.remove(_settings(), references, force=force):
        click.echo(f"Untagged/removed: {rec.image_id}")


@image.command("prune")
@click.option(
    "-a", "--all", "all_images", is_flag=True, help="Every unused image, not only unnamed."
)
def image_prune(all_images: bool) -> None:
    """Remove images no pod uses (unnamed ones, or all with -a) and orphaned layers."""
    from kubeplay.services import images

    report = images.prune(_settings(), all_images=all_images)
    for rec in report.removed:
        click.echo(rec.image_id)
    click.echo(
        f"pruned {len(report.removed)} images, {report.blobs} blobs, {report.layers} layers",
        err=True,
    )


@image.command("tag")
@click.argument("source")
@click.argument("targets", nargs=-1, required=True)
def image_tag(source: str, targets: tuple[str, ...]) -> None:
    """Give an image more names."""
    from kubeplay.services import images

    images.tag(_settings(), source, targets)


@image.command("save")
@click.argument("references", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def image_save(references: tuple[str, ...], output: Path) -> None:
    """Write images to an oci-archive file (load it with `image load` or podman load)."""
    from kubeplay.services import images

    images.save(_settings(), references, output)


@click.command()
@click.argument("registry")
@click.option("-u", "--username", default=None)
@click.option("-p", "--password", default=None, help="Prefer --password-stdin.")
@click.option("--password-stdin", is_flag=True)
@tls_option
@authfile_option
@cert_dir_option
def login(
    registry: str,
    username: str | None,
    password: str | None,
    password_stdin: bool,
    tls_verify: bool | None,
    authfile: str,
    cert_dir: str,
) -> None:
    """Log in to a registry: checks the credentials, then stores them in the auth file."""
    from kubeplay.services import images

    if password_stdin:
        password = sys.stdin.read().rstrip("\n")
    if username is None:
        username = click.prompt("Username")
    if password is None:
        password = click.prompt("Password", hide_input=True)
    images.login(
        _settings(),
        registry,
        username=username,
        password=password,
        options=pull_options(tls_verify, authfile, cert_dir),
    )
    click.echo("Login Succeeded!")


@click.command()
@click.argument("registry", required=False, default="")
@click.option("-a", "--all", "all_registries", is_flag=True)
@authfile_option
def logout(registry: str, all_registries: bool, authfile: str) -> None:
    """Remove a registry's credentials from the auth file."""
    from kubeplay.errors import UsageError
    from kubeplay.services import images

    if not registry and not all_registries:
        raise UsageError("logout: name a registry or use --all")
    images.logout(
        _settings(),
        registry,
        options=pull_options(None, authfile),
        all_registries=all_registries,
    )
    click.echo(f"Removed login credentials for {registry or 'all registries'}")
