"""setHostnameAsFQDN: the kubelet's 64-character limit on the FQDN kernel hostname, refused at
validation with the kubelet's message for Pods and Deployments' pods."""

from __future__ import annotations

import textwrap

import pytest

from kubeplay.errors import ManifestError
from kubeplay.kube import hostnames, loader, validate


def _pod(spec: str, *, name: str = "web", namespace: str = "default") -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {namespace}}}\n"
        f"spec:\n{textwrap.indent(textwrap.dedent(spec), '  ')}"
        "  containers: [{name: app, image: nginx}]\n"
    )


def _deployment(name: str, spec: str) -> str:
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n"
        "  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: a}}\n"
        f"    spec:\n{textwrap.indent(textwrap.dedent(spec), '      ')}"
        "      containers: [{name: app, image: nginx}]\n"
    )


# 35 characters of domain: ".s.default.svc.cluster.local" is 28.
LONG = "h" * 36  # 36 + 28 = 64: the longest FQDN that fits


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            _pod(f"hostname: {LONG}\nsubdomain: s\nsetHostnameAsFQDN: true\n"),
            id="fqdn-of-64-characters-fits",
        ),
        pytest.param(
            _pod(f"hostname: {LONG}x\nsubdomain: s\n"),
            id="long-fqdn-without-set-hostname-as-fqdn-is-fine",
        ),
        pytest.param(
            _pod("setHostnameAsFQDN: true\n", name="n" * 63),
            id="no-subdomain-means-no-fqdn",
        ),
        pytest.param(
            _pod(f"hostname: {LONG}x\nsubdomain: s\nsetHostnameAsFQDN: true\nhostNetwork: true\n"),
            id="host-network-keeps-the-node-name",
        ),
    ],
)
def test_fqdn_that_fits_is_valid(text: str) -> None:
    validate.validate(loader.load_text(text, source="p.yaml"))


@pytest.mark.parametrize(
    ("text", "path", "fqdn"),
    [
        pytest.param(
            _pod(f"hostname: {LONG}x\nsubdomain: s\nsetHostnameAsFQDN: true\n"),
            "spec.setHostnameAsFQDN",
            f"{LONG}x.s.default.svc.cluster.local",
            id="fqdn-of-65-characters-is-refused",
        ),
        pytest.param(
            _pod("subdomain: s\nsetHostnameAsFQDN: true\n", name="p" * 40),
            "spec.setHostnameAsFQDN",
            f"{'p' * 40}.s.default.svc.cluster.local",
            id="pod-name-is-the-hostname",
        ),
        pytest.param(
            _pod(
                f"hostname: {LONG}\nsubdomain: s\nsetHostnameAsFQDN: true\n", namespace="production"
            ),
            "spec.setHostnameAsFQDN",
            f"{LONG}.s.production.svc.cluster.local",
            id="namespace-is-part-of-the-fqdn",
        ),
        pytest.param(
            _deployment("d" * 25, "subdomain: s\nsetHostnameAsFQDN: true\n"),
            "spec.template.spec.setHostnameAsFQDN",
            None,
            id="deployment-replica-name-is-the-hostname",
        ),
    ],
)
def test_fqdn_too_long_is_the_kubelet_error(text: str, path: str, fqdn: str | None) -> None:
    with pytest.raises(ManifestError) as caught:
        validate.validate(loader.load_text(text, source="p.yaml"))
    err = caught.value
    assert err.path == path
    assert "failed to construct FQDN from pod hostname and cluster domain, FQDN " in err.message
    assert "is too long (64 characters is the max, " in err.message
    if fqdn is not None:
        assert err.message.endswith(
            f"FQDN {fqdn} is too long (64 characters is the max, {len(fqdn)} characters requested)"
        )


@pytest.mark.parametrize(
    ("name", "spec", "expected"),
    [
        pytest.param("web", {}, "web", id="pod-name"),
        pytest.param("web", {"hostname": "box"}, "box", id="spec-hostname-wins"),
        pytest.param("a" * 62 + "-b", {}, "a" * 62, id="long-name-cut-to-63-without-trailing-dash"),
    ],
)
def test_pod_hostname(name: str, spec: dict[str, str], expected: str) -> None:
    assert hostnames.pod_hostname(name, spec) == expected
