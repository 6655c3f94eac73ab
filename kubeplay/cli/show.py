"""`kubeplay get` and `kubeplay describe`: parsing and rendering, nothing else (the services
read the store). `get pods` is the command run most, so what only other kinds need is imported
where they are handled."""

from __future__ import annotations

import time
from typing import Any

import click

from kubeplay.cli import sources as sources_cli
from kubeplay.cli import supervise as supervise_cli
from kubeplay.cli.common import OUTPUTS
from kubeplay.cli.common import ns as _ns
from kubeplay.cli.common import settings as _settings


@click.command()
@click.argument("resource")
@click.argument("names", nargs=-1)
@click.option("-n", "--namespace", default=None)
@click.option("-A", "--all-namespaces", is_flag=True)
@click.option("-o", "--output", type=OUTPUTS, default=None)
@click.option("-w", "--watch", is_flag=True, help="After the list, print changes as they come.")
@click.option("-l", "--selector", default="", help="Label selector (app=web,tier!=db).")
@click.option(
    "--field-selector",
    default="",
    help="Events only: involvedObject.kind=Pod,involvedObject.name=web,type!=Normal ...",
)
@click.option("--for", "for_object", default="", help="Events only: of KIND/NAME (deploy/web).")
def get(
    resource: str,
    names: tuple[str, ...],
    namespace: str | None,
    all_namespaces: bool,
    output: str | None,
    watch: bool,
    selector: str,
    field_selector: str,
    for_object: str,
) -> None:
    """Show objects: get KIND [NAME...] [-n NS | -A] [-l SEL] [-o wide|json|yaml|name] [-w];
    get events [--for KIND/NAME] [--field-selector F]."""
    from kubeplay.cli import objects as objects_cli
    from kubeplay.cli import render
    from kubeplay.errors import UsageError

    if resource.lower() in ("events", "event", "ev"):
        involved = _involved(_settings(), for_object) if for_object else None
        supervise_cli.revive_supervisor()
        return supervise_cli.get_events(
            None if all_namespaces else _ns(namespace),
            watch=watch,
            involved=involved,
            field_selector=field_selector,
        )
    if field_selector or for_object:
        flag = "--field-selector" if field_selector else "--for"
        raise UsageError(f"get {resource}: {flag} is only supported for events")
    if sources_cli.handles(resource):
        supervise_cli.revive_supervisor()  # a source shown must be followed
        return sources_cli.get(names, output=output)
    s = _settings()
    get_all = resource.lower() == "all"
    listed = None  # `get po,sa`: the kinds of a list, shown as `get all` shows its kinds
    if "," in resource:
        from kubeplay.services import resources

        if names or watch:
            raise UsageError(f"get {resource}: a list of kinds takes no NAME and no -w here")
        listed = resources.resolve_list(s, resource)
        get_all = True
    if objects_cli.handles(resource) and not selector:
        return objects_cli.get(
            s,
            resource,
            names,
            namespace=_ns(namespace),
            all_namespaces=all_namespaces,
            output=output,
        )
    if resource.lower() not in ("pod", "pods", "po") and not get_all:
        return objects_cli.get_any(
            s,
            resource,
            names,
            namespace=_ns(namespace),
            all_namespaces=all_namespaces,
            output=output,
            selector=selector,
            watch=watch,
        )
    supervise_cli.revive_supervisor()
    if watch:
        ns = None if all_namespaces else _ns(namespace)
        return supervise_cli.watch_pods(ns, names=names, wide=output == "wide")
    from kubeplay.services import pods

    if names:
        views = [pods.get_pod(s, _ns(namespace), n) for n in names]
    else:
        views = pods.get_pods(s, namespace=None if all_namespaces else _ns(namespace))
    if selector:
        from kubeplay.kube import selectors

        wanted = selectors.parse(selector)
        views = [
            v
            for v in views
            if selectors.matches(
                wanted, (v.record.manifest.get("metadata") or {}).get("labels") or {}
            )
        ]
    if get_all:
        if listed is not None and all(k.kind != "Pod" for k in listed):
            views = []
        sections = objects_cli.get_all(
            s,
            namespace=_ns(namespace),
            all_namespaces=all_namespaces,
            selector=selector,
            kinds=listed,
        )
        now = time.time()
        if views:
            headers = render.pod_headers(namespaces=all_namespaces, wide=False)
            rows = [render.pod_row(v, now, namespaces=all_namespaces, wide=False) for v in views]
            for row in rows:
                row[1 if all_namespaces else 0] = "pod/" + row[1 if all_namespaces else 0]
            sections.insert(0, render.table(headers, rows))
        if not sections:
            render.echo_none_found(None if all_namespaces else _ns(namespace))
            return
        click.echo("\n\n".join(sections))
        return
    if render.echo_listing(
        output,
        views,
        to_kube=lambda v: v.to_kube(),
        ref=lambda v: f"pod/{v.record.name}",
        single=len(names) == 1,
    ):
        return
    if not views:
        render.echo_none_found(None if all_namespaces else _ns(namespace))
        return
    now = time.time()
    wide = output == "wide"
    headers = render.pod_headers(namespaces=all_namespaces, wide=wide)
    rows = [render.pod_row(v, now, namespaces=all_namespaces, wide=wide) for v in views]
    click.echo(render.table(headers, rows))


def _involved(settings: Any, text: str) -> tuple[str, str]:
    """`--for KIND/NAME` (kubectl events): the involved object's kind and name."""
    from kubeplay.errors import UsageError
    from kubeplay.services import resources

    word, _, name = text.partition("/")
    if not word or not name or "/" in name:
        raise UsageError(f"--for: {text} must be in the format TYPE/NAME")
    return resources.resolve(settings, word).kind, name


@click.command()
@click.argument("resource")
@click.argument("name")
@click.option("-n", "--namespace", default=None)
def describe(resource: str, name: str, namespace: str | None) -> None:
    """Show one object for people, with its events: describe KIND NAME."""
    from kubeplay.cli import describe as describe_mod
    from kubeplay.services import jobs, pods

    if resource.lower() in ("svc", "service", "services"):
        from kubeplay.services import resources

        service = resources.describe_service(_settings(), _ns(namespace), name)
        text = describe_mod.describe_service(service.body, service.slices, service.no_endpoints)
        click.echo(text, nl=False)
        click.echo(supervise_cli.describe_events(service.uid))
        return
    if sources_cli.handles(resource):
        supervise_cli.revive_supervisor()
        return sources_cli.describe(name)
    if resource.lower() in (*jobs.JOB_RESOURCES, *jobs.CRONJOB_RESOURCES):
        batch = jobs.describe(_settings(), resource, _ns(namespace), name)
        none = not batch.events
        if batch.body.get("kind") == "Job":
            text = describe_mod.describe_job(batch.body, batch.phases, no_events=none)
        else:
            text = describe_mod.describe_cronjob(batch.body, batch.next_at, no_events=none)
        click.echo(text)
        if batch.events:
            source = "job-controller" if batch.body.get("kind") == "Job" else "cronjob-controller"
            click.echo(supervise_cli.render_events(batch.events, source=source))
        return
    if resource.lower() in describe_mod.SET_RESOURCES:
        return _describe_set(resource, name, _ns(namespace))
    if resource.lower() not in ("pod", "pods", "po"):
        uid, text = describe_mod.describe_object(_settings(), resource, name, _ns(namespace))
        click.echo(text)
        click.echo(supervise_cli.describe_events(uid))
        return
    supervise_cli.revive_supervisor()
    view = pods.get_pod(_settings(), _ns(namespace), name)
    click.echo(describe_mod.describe_pod(view.to_kube()))
    click.echo(supervise_cli.describe_supervision())
    click.echo(supervise_cli.describe_events(view.record.uid))


def _describe_set(resource: str, name: str, namespace: str) -> None:
    from kubeplay.cli import describe as describe_mod
    from kubeplay.services import resources

    settings = _settings()
    view = resources.describe_set(settings, resources.resolve(settings, resource), namespace, name)
    kind = view.body.get("kind")
    none = not view.events  # kubectl aligns `Events: <none>` with the lines above it
    if kind == "Deployment":
        text = describe_mod.describe_deployment(view.body, list(view.replicasets), no_events=none)
    elif kind == "ReplicaSet":
        text = describe_mod.describe_replicaset(view.body, view.phases, no_events=none)
    else:
        text, none = describe_mod.describe_set(view.body, view.phases), False
    click.echo(text)
    if not none:
        click.echo(supervise_cli.render_events(view.events))
