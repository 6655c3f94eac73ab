"""Golden test: `kubeplay check` text and JSON output for a realistic multi-document
application (golden/app.yaml: Namespace enforcing restricted, Deployments, Services, Ingress,
removed API versions, a privileged debug pod, a custom resource), byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

from kubeplay.cli import check as check_cli
from kubeplay.kube import loader
from kubeplay.plan.check import findings
from kubeplay.plan.check.images import LocalImages
from kubeplay.services.check import CheckReport

GOLDEN = Path(__file__).parent / "golden"


def _report() -> CheckReport:
    objects = loader.load_text((GOLDEN / "app.yaml").read_text(), source="app.yaml")
    local = LocalImages(
        pulled=frozenset({"registry.example/shop/web:1.4.2"}),
        local_only=frozenset({"localhost/demo:1", "localhost/shop/api:dev"}),
    )
    options = findings.Options(schema_version="1.30.0", local_images=local)
    found = findings.compute_findings(objects, options=options)
    return CheckReport(
        findings=tuple(found), kube_version="1.30", pod_security="baseline", objects=len(objects)
    )


def test_text_output_is_the_golden_file() -> None:
    text = check_cli.render_text(_report(), fail_on="error")
    assert text == (GOLDEN / "app.txt").read_text()


def test_json_output_is_the_golden_file() -> None:
    text = check_cli.render_json(_report(), fail_on="warning")
    assert json.loads(text) == json.loads((GOLDEN / "app.json").read_text())
    assert text + "\n" == (GOLDEN / "app.json").read_text()


def test_the_application_fails_on_error_and_every_level_appears() -> None:
    report = _report()
    assert check_cli.fails(report.findings, "error")
    assert {str(f.level) for f in report.findings} == {"error", "warning", "info"}
