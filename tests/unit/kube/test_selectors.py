"""kube.selectors: `get -l` label selectors, as apimachinery's labels.Parse reads them."""

from __future__ import annotations

import pytest

from kubeplay.errors import UsageError
from kubeplay.kube import selectors

LABELS = {"app": "web", "tier": "front", "env": "prod"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("app=web", True, id="equality-based-match"),
        pytest.param("app==web", True, id="double-equals-is-equality"),
        pytest.param("app=db", False, id="equality-based-mismatch"),
        pytest.param("app!=db", True, id="inequality-matches-other-value"),
        pytest.param("missing!=x", True, id="inequality-matches-missing-label"),
        pytest.param("app=web,tier=back", False, id="requirements-are-anded"),
        pytest.param("env in (prod, staging)", True, id="set-based-in"),
        pytest.param("env notin (prod)", False, id="set-based-notin"),
        pytest.param("tier", True, id="exists"),
        pytest.param("!tier", False, id="does-not-exist"),
        pytest.param("!legacy,app in (web,api)", True, id="set-and-existence-combined"),
        pytest.param("", True, id="empty-selector-selects-everything"),
    ],
)
def test_label_selector(text: str, expected: bool) -> None:
    assert selectors.matches(selectors.parse(text), LABELS) is expected


def test_bad_selector_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unable to parse requirement"):
        selectors.parse("app=web,=x")


# Field selectors: fields.ParseSelector of apimachinery, on the fields the API server selects
# events by (AddFieldLabelConversionsForEvent).
EVENT = {
    "involvedObject.kind": "Deployment",
    "involvedObject.name": "web",
    "type": "Normal",
    "reason": "ScalingReplicaSet",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("involvedObject.kind=Deployment", True, id="equality"),
        pytest.param("involvedObject.kind==Deployment", True, id="double-equals"),
        pytest.param("involvedObject.kind=Pod", False, id="equality-mismatch"),
        pytest.param("type!=Warning", True, id="inequality"),
        pytest.param("involvedObject.kind=Deployment,involvedObject.name=api", False, id="anded"),
        pytest.param("involvedObject.fieldPath=", True, id="empty-value-matches-unset"),
        pytest.param("", True, id="empty-selects-everything"),
    ],
)
def test_field_selector(text: str, expected: bool) -> None:
    wanted = selectors.parse_fields(text, supported=selectors.EVENT_FIELDS)
    assert selectors.fields_match(wanted, EVENT) is expected


def test_field_selector_escapes_commas_and_equals() -> None:
    (req,) = selectors.parse_fields(r"reason=a\,b\=c", supported=selectors.EVENT_FIELDS)
    assert req == selectors.FieldRequirement("reason", "=", "a,b=c")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("spec.nodeName=x", "field label not supported: spec.nodeName", id="field"),
        pytest.param("type", "invalid selector: 'type'; can't understand 'type'", id="no-op"),
    ],
)
def test_bad_field_selector_is_a_usage_error(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        selectors.parse_fields(text, supported=selectors.EVENT_FIELDS)
