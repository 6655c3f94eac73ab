"""docs/cluster-check.md lists every rule of `kubeplay check` with its id, level and source,
and nothing else (as tests/unit/kube/test_fields.py keeps docs/kubernetes-support.md true)."""

from __future__ import annotations

import re
from pathlib import Path

from kubeplay.plan.check import podsecurity
from kubeplay.plan.check.rules import PSS_BASELINE, PSS_RESTRICTED, RULES

DOC = Path(__file__).resolve().parents[4] / "docs" / "cluster-check.md"
_ROW = re.compile(r"^\| `([a-z0-9_A-Z-]+)` \| ([a-z /]+) \| (.+) \| (.+) \|$")


def _rows() -> dict[str, tuple[str, str, str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        match = _ROW.match(line)
        if match:
            rule, level, summary, source = match.groups()
            assert rule not in rows, f"{rule} listed twice"
            rows[rule] = (level, summary, source)
    return rows


def test_every_rule_is_documented_and_every_documented_rule_exists() -> None:
    assert set(_rows()) == set(RULES)


def test_the_page_gives_each_rule_its_level_summary_and_source() -> None:
    rows = _rows()
    for rule in RULES.values():
        level, summary, source = rows[rule.id]
        pss_check = rule.id.startswith("pss-") and rule.id != "pss-level"
        assert level == ("error / info" if pss_check else str(rule.level)), rule.id
        assert summary == rule.summary, rule.id
        for url in rule.source.split(";"):
            assert url.strip().removeprefix("docs/") in source, rule.id


def test_pod_security_rules_are_the_admissions_checks() -> None:
    pss = {r.removeprefix("pss-") for r in RULES if r.startswith("pss-")} - {"level"}
    assert pss == set(PSS_BASELINE) | set(PSS_RESTRICTED) == set(podsecurity.CHECKS)
