"""What kubeplay did not do, as what the cluster will do: play's warnings as findings."""

from __future__ import annotations

import pytest

from kubeplay.kube import fields
from kubeplay.kube.objects import Warning
from kubeplay.plan.check import unplayed


def _warning(kind: str, path: str, message: str) -> Warning:
    return Warning(source="a.yaml", doc_index=1, kind=kind, name="x", path=path, message=message)


@pytest.mark.parametrize(
    ("warning", "rule", "says"),
    [
        pytest.param(
            _warning("Pod", "spec.nodeSelector", fields.NO_EFFECT),
            "field-cluster-only",
            "the scheduler places the pod only on nodes with these labels",
            id="node-selector-is-the-schedulers",
        ),
        pytest.param(
            _warning("Deployment", "spec.template.spec.tolerations", fields.NO_EFFECT),
            "field-cluster-only",
            "taints",
            id="tolerations-in-a-deployment-template",
        ),
        pytest.param(
            _warning("Pod", "spec.containers[0].resizePolicy", fields.NOT_SUPPORTED),
            "field-not-played",
            "this run did not test it",
            id="unimplemented-container-field",
        ),
        pytest.param(
            _warning("Pod", "spec.readinessGates", fields.NOT_SUPPORTED),
            "field-not-played",
            "the pod is Ready only once these conditions are True",
            id="readiness-gates-are-the-clusters",
        ),
        pytest.param(
            _warning("Pod", "metadata.ownerReferences", "no garbage collector on a single host"),
            "field-cluster-only",
            "garbage collector",
            id="owner-references-are-the-garbage-collectors",
        ),
        pytest.param(
            _warning("NetworkPolicy", "kind", "NetworkPolicy is not supported yet, ignored"),
            "kind-not-played",
            "drops the pod traffic the policy does not allow",
            id="network-policy-is-enforced-by-the-network-plugin",
        ),
        pytest.param(
            _warning("Ingress", "kind", "Ingress is not supported yet, ignored"),
            "kind-not-played",
            "ingress controller",
            id="ingress-is-the-ingress-controllers",
        ),
        pytest.param(
            _warning("Widget", "kind", "Widget is not supported yet, ignored"),
            "kind-not-played",
            "its controllers act on it",
            id="any-other-kind",
        ),
    ],
)
def test_describe(warning: Warning, rule: str, says: str) -> None:
    found_rule, message = unplayed.describe(warning)
    assert found_rule == rule
    assert says in message
