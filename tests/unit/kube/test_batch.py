"""Jobs and CronJobs the API server refuses (batch/validation), through `validate`: exit 2,
the file, document and field path, nothing created."""

from __future__ import annotations

import textwrap

import pytest

from kubeplay.errors import ManifestError
from kubeplay.kube import loader, validate

POD = "{restartPolicy: Never, containers: [{name: c, image: busybox}]}"


def _job(spec: str, pod: str = POD) -> str:
    head = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n"
    return f"{head}  template: {{spec: {pod}}}\n{spec}"


def _cronjob(spec: str, pod: str = POD) -> str:
    return (
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cj}\nspec:\n"
        f"  jobTemplate: {{spec: {{template: {{spec: {pod}}}}}}}\n{spec}"
    )


def _errors(text: str) -> str:
    with pytest.raises(ManifestError) as caught:
        validate.validate(loader.load_text(textwrap.dedent(text), source="b.yaml"))
    assert caught.value.exit_code == 2
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _job("  completions: -1\n"),
            "spec.completions: Invalid value: -1: must be greater than or equal to 0",
            id="negative-completions",
        ),
        pytest.param(
            _job("", pod="{containers: [{name: c, image: busybox}]}"),
            'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
            id="restart-policy-required",
        ),
        pytest.param(
            _job("", pod="{restartPolicy: Always, containers: [{name: c, image: busybox}]}"),
            'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: '
            '"OnFailure", "Never"',
            id="restart-policy-always",
        ),
        pytest.param(
            _job("  completionMode: Indexed\n  parallelism: 2\n"),
            "spec.completions: Required value: when completion mode is Indexed",
            id="indexed-needs-completions",
        ),
        pytest.param(
            _job(
                "  podFailurePolicy: {rules: [{action: Ignore, onExitCodes: {operator: In, "
                "values: [42]}}]}\n",
                pod="{restartPolicy: OnFailure, containers: [{name: c, image: busybox}]}",
            ),
            'spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is '
            "supported when podFailurePolicy is specified",
            id="pod-failure-policy-needs-never",
        ),
        pytest.param(
            _cronjob("  schedule: '0 0 * * 7'\n"),
            'spec.schedule: Invalid value: "0 0 * * 7": end of range (7) above maximum (6): 7',
            id="cron-day-of-week-7",
        ),
        pytest.param(
            _cronjob("  schedule: '0 0 L * *'\n"),
            'spec.schedule: Invalid value: "0 0 L * *": failed to parse int from L',
            id="cron-L",
        ),
        pytest.param(
            _cronjob("  schedule: 'TZ=Europe/Berlin 0 3 * * *'\n"),
            'spec.schedule: Invalid value: "TZ=Europe/Berlin 0 3 * * *": cannot use TZ or '
            "CRON_TZ in schedule, use timeZone field instead",
            id="cron-tz-in-schedule",
        ),
        pytest.param(
            _cronjob("  schedule: '@hourly'\n  timeZone: Mars/Olympus\n"),
            'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus',
            id="unknown-time-zone",
        ),
        pytest.param(
            _cronjob("  schedule: '@hourly'\n  timeZone: Local\n"),
            "timeZone must be an explicit time zone",
            id="local-time-zone",
        ),
        pytest.param(
            _cronjob(
                "  schedule: '@hourly'\n",
                pod="{restartPolicy: Always, containers: [{name: c, image: busybox}]}",
            ),
            'spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: "Always"',
            id="cron-job-template-restart-policy",
        ),
        pytest.param(
            _cronjob("  schedule: '@hourly'\n  startingDeadlineSeconds: -5\n"),
            "spec.startingDeadlineSeconds: Invalid value: -5",
            id="negative-starting-deadline",
        ),
    ],
)
def test_refused(text: str, expected: str) -> None:
    message = _errors(text)
    assert "b.yaml" in message
    assert expected in message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_cronjob("  schedule: '@every 5m'\n"), id="every"),
        pytest.param(_cronjob("  schedule: '30 2 * * *'\n  timeZone: Europe/Berlin\n"), id="zone"),
        pytest.param(_cronjob("  schedule: '0 9 ? * MON-FRI'\n"), id="question-mark-and-names"),
        pytest.param(_job("  completions: 3\n  parallelism: 2\n"), id="job"),
    ],
)
def test_accepted(text: str) -> None:
    validate.validate(loader.load_text(textwrap.dedent(text), source="b.yaml"))


def test_template_fields_and_unsupported_job_fields_are_warned() -> None:
    text = _job(
        "  successPolicy: {rules: [{succeededCount: 1}]}\n",
        pod="{restartPolicy: Never, containers: [{name: c, image: busybox}], "
        "nodeSelector: {disk: ssd}}",
    )
    warnings = [w.render() for w in validate.validate(loader.load_text(text, source="b.yaml"))]
    assert any("spec.successPolicy: success policies not supported yet" in w for w in warnings)
    assert any("spec.template.spec.nodeSelector" in w for w in warnings)
