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
