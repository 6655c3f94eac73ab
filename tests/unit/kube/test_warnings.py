"""One warning per field per play: a field that means nothing on one host (or is not
implemented) set in several pods, a Deployment's template, several containers or init
containers is warned about once, at its first place, naming the other objects."""

from __future__ import annotations

import textwrap

import pytest

from kubeplay.kube import loader, validate


def _pod(name: str, spec: str) -> str:
    return f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n" + textwrap.indent(
        textwrap.dedent(spec), "  "
    )


def _deployment(name: str, spec: str) -> str:
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n"
        "  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: a}}\n"
        "    spec:\n" + textwrap.indent(textwrap.dedent(spec), "      ")
    )


APP = "containers: [{name: app, image: nginx}]\n"
SELECTOR = "nodeSelector: {disk: ssd}\n"
INIT_HUGEPAGES = (
    "initContainers: [{name: setup, image: busybox, "
    "resources: {limits: {hugepages-2Mi: 2Mi, memory: 2Mi}}}]\n"
)


def _rendered(*docs: str) -> list[str]:
    objects = loader.load_text("---\n".join(docs), source="all.yaml")
    return [w.render() for w in validate.validate(objects)]


@pytest.mark.parametrize(
    ("docs", "expected"),
    [
        pytest.param(
            [_pod("a", SELECTOR + APP), _pod("b", SELECTOR + APP), _pod("c", SELECTOR + APP)],
            [
                "all.yaml: document 1 (Pod a): spec.nodeSelector: no effect on a single host "
                "(also in Pod b, Pod c)"
            ],
            id="node-selector-in-three-pods-once",
        ),
        pytest.param(
            [_pod("a", SELECTOR + APP), _deployment("web", SELECTOR + APP)],
            [
                "all.yaml: document 1 (Pod a): spec.nodeSelector: no effect on a single host "
                "(also in Deployment web)"
            ],
            id="pod-and-deployment-template-are-one-field",
        ),
        pytest.param(
            [_deployment("web", "tolerations: [{operator: Exists}]\n" + APP), _pod("a", APP)],
            [
                "all.yaml: document 1 (Deployment web): spec.template.spec.tolerations: "
                "no effect on a single host"
            ],
            id="deployment-template-field-once-though-it-makes-replicas",
        ),
        pytest.param(
            [_pod("a", INIT_HUGEPAGES + APP), _pod("b", INIT_HUGEPAGES + APP)],
            [
                "all.yaml: document 1 (Pod a): spec.initContainers[0].resources.limits."
                "hugepages-2Mi: not enforced yet (also in Pod b)"
            ],
            id="init-container-field-in-two-pods-once",
        ),
        pytest.param(
            [
                _pod(
                    "a",
                    "containers:\n"
                    "- {name: one, image: nginx, resources: {limits: {hugepages-2Mi: 2Mi}}}\n"
                    "- {name: two, image: nginx, resources: {limits: {hugepages-2Mi: 2Mi}}}\n",
                )
            ],
            [
                "all.yaml: document 1 (Pod a): spec.containers[0].resources.limits."
                "hugepages-2Mi: not enforced yet"
            ],
            id="same-field-in-two-containers-of-a-pod-once",
        ),
        pytest.param(
            [_pod("a", INIT_HUGEPAGES + APP), _deployment("web", INIT_HUGEPAGES + SELECTOR + APP)],
            [
                "all.yaml: document 1 (Pod a): spec.initContainers[0].resources.limits."
                "hugepages-2Mi: not enforced yet (also in Deployment web)",
                "all.yaml: document 2 (Deployment web): spec.template.spec.nodeSelector: "
                "no effect on a single host",
            ],
            id="each-field-once-in-first-place-order",
        ),
        pytest.param(
            [_pod(name, SELECTOR + APP) for name in "abcdefgh"],
            [
                "all.yaml: document 1 (Pod a): spec.nodeSelector: no effect on a single host "
                "(also in Pod b, Pod c, Pod d, Pod e, Pod f and 2 more)"
            ],
            id="many-objects-are-counted",
        ),
        pytest.param(
            [
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n"
                f"metadata: {{name: {name}}}\n"
                for name in ("r1", "r2")
            ],
            [
                "all.yaml: document 1 (Role r1): kind: Role is stored only: "
                "there is no API server whose requests it would authorize (also in Role r2)"
            ],
            id="unsupported-kind-once",
        ),
    ],
)
def test_one_warning_per_field_per_play(docs: list[str], expected: list[str]) -> None:
    assert _rendered(*docs) == expected


def test_merged_warning_keeps_its_first_place_as_data() -> None:
    (warning,) = validate.validate(
        loader.load_text(
            _deployment("web", SELECTOR + APP) + "---\n" + _pod("a", SELECTOR + APP),
            source="all.yaml",
        )
    )
    assert (warning.kind, warning.name, warning.path) == (
        "Deployment",
        "web",
        "spec.template.spec.nodeSelector",
    )
    assert warning.also == ("Pod a",)


def test_unmerged_warnings_are_one_per_object_for_the_apply_to_choose() -> None:
    """`merge=False`: apply shows only the warnings of what it creates or changes, merged
    after it chose them (services.apply.shown_warnings)."""
    objects = loader.load_text(
        _pod("a", SELECTOR + APP) + "---\n" + _pod("b", SELECTOR + APP), source="all.yaml"
    )
    warnings = validate.validate(objects, merge=False)
    assert [(w.name, w.path, w.also) for w in warnings] == [
        ("a", "spec.nodeSelector", ()),
        ("b", "spec.nodeSelector", ()),
    ]
