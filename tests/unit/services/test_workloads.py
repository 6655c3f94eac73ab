"""What `scale` warns about a field the applying source's manifest sets."""

from __future__ import annotations

import pytest

from kubeplay.services.workloads import source_warnings
from kubeplay.state.objects import ObjectRecord


def deployment(source: str, replicas: int | None) -> ObjectRecord:
    spec = {} if replicas is None else {"replicas": replicas}
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": spec}
    return ObjectRecord(
        uid="u1",
        api_group="apps",
        kind="Deployment",
        namespace="default",
        name="web",
        body={**manifest, "spec": {"replicas": 5}},
        source=source,
        origin="/srv/manifests/web.yaml#0",
        last_applied=manifest,
    )


@pytest.mark.parametrize(
    ("source", "replicas", "expected"),
    [
        (
            "source:app",
            2,
            "deployment.apps/web is managed by source app: its replicas is set there "
            "(file /srv/manifests/web.yaml) and the source will revert it "
            "(change the source, or unwatch it)",
        ),
        (
            "apply:/srv/manifests",
            2,
            "deployment.apps/web replicas is set by source apply:/srv/manifests "
            "(file /srv/manifests/web.yaml); the next apply of a changed manifest reverts it",
        ),
        ("source:app", None, None),  # replicas left out of the file: a scale survives
        ("", 2, None),
    ],
)
def test_scaling_a_field_the_source_sets_warns(
    source: str, replicas: int | None, expected: str | None
) -> None:
    warnings = source_warnings(deployment(source, replicas), ["spec.replicas"])
    assert warnings == ([expected] if expected else [])
