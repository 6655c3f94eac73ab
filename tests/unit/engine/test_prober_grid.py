"""The probes' wake grid (engine.prober.grid_deadline): a sleep ends on the nearest 50 ms step
of the loop's clock, so probes with one period wake the loop together."""

from __future__ import annotations

import pytest

from kubeplay.engine.prober import grid_deadline


@pytest.mark.parametrize(
    ("now", "seconds", "at"),
    [
        pytest.param(100.0, 1.0, 101.0, id="on-the-grid-stays"),
        pytest.param(100.003, 1.0, 101.0, id="a-quick-probe-keeps-its-step"),
        pytest.param(100.02, 1.0, 101.0, id="rounded-down-within-half-a-step"),
        pytest.param(100.03, 1.0, 101.05, id="a-slow-probe-slips-one-step"),
        pytest.param(100.0, 10.0, 110.0, id="period-10s"),
        pytest.param(100.01, 0.01, 100.02, id="never-at-or-before-now"),
    ],
)
def test_grid_deadline(now: float, seconds: float, at: float) -> None:
    assert grid_deadline(now, seconds, 0.05) == pytest.approx(at)
