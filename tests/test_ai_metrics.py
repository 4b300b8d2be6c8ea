"""Evaluation metrics: agree with scikit-learn, recover known calibration, rounding follows the interval,
calibration bins never hold fewer than k outcomes or non-outcomes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from ingest.ai import metrics


def _data(n: int = 4000, seed: int = 0, a: float = 0.0, b: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Predictions p and labels drawn from logit P(y) = a + b logit(p)."""
    rng = np.random.default_rng(seed)
    p = special.expit(rng.normal(-1.5, 1.2, n))
    y = (rng.random(n) < special.expit(a + b * special.logit(p))).astype(int)
    return y, p


def test_discrimination_and_brier_agree_with_scikit_learn() -> None:
    y, p = _data()
    p = np.round(p, 2)  # ties, as real submissions have
    assert metrics.auroc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert metrics.auprc(y, p) == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert metrics.brier(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-12)


@pytest.mark.parametrize(("a", "b"), [(0.0, 1.0), (0.7, 1.0), (0.0, 0.5), (-0.5, 1.6)])
def test_calibration_intercept_and_slope_recover_the_truth(a: float, b: float) -> None:
    y, p = _data(n=60_000, seed=1, a=a, b=b)
    assert metrics.calibration_slope(y, p) == pytest.approx(b, abs=0.06)
    if b == 1.0:  # calibration-in-the-large equals the shift only when the slope is 1
        assert metrics.calibration_intercept(y, p) == pytest.approx(a, abs=0.06)


def test_values_are_rounded_to_the_precision_of_their_interval() -> None:
    assert metrics.reported(0.81234, 0.78, 0.83).as_dict() == {
        "value": 0.81,
        "ci_low": 0.78,
        "ci_high": 0.83,
        "decimals": 2,
    }
    assert metrics.reported(0.81234, 0.6, 0.95).decimals == 1
    assert metrics.reported(0.81234, 0.811, 0.8135).value == 0.812
    assert metrics.reported(0.81234, 0.81233, 0.81235).decimals == 3  # never finer than 3 decimals


def test_bootstrap_intervals_cover_the_estimate_and_are_reproducible() -> None:
    y, p = _data(n=1500)
    first = metrics.bootstrap_intervals(y, p, 100, seed=7)
    assert first == metrics.bootstrap_intervals(y, p, 100, seed=7)
    point = metrics.point_metrics(y, p)
    for name in metrics.METRICS:
        low, high = first[name]
        assert low <= point[name] <= high, name


def test_every_calibration_bin_holds_k_outcomes_and_k_non_outcomes() -> None:
    y, p = _data(n=3000, seed=3)
    k = 11
    bins = metrics.calibration_bins(y, p, k)
    assert len(bins) >= 5
    assert sorted(np.concatenate(bins).tolist()) == list(range(len(y)))  # every row in exactly one bin
    for rows in bins:
        assert y[rows].sum() >= k and len(rows) - y[rows].sum() >= k
    curve = metrics.calibration_curve(y, p, k)
    assert [c["observed"] for c in curve] == [round(float(y[rows].mean()), 2) for rows in bins]
    few = np.argsort(p)[:40]  # 40 rows with the lowest predictions: fewer than k outcomes
    assert y[few].sum() < k
    assert metrics.calibration_curve(y[few], p[few], k) == []  # nothing is shown


def test_the_vectorised_bootstrap_gives_each_resample_the_metrics_of_its_rows() -> None:
    """The resample matrix is reduced to counts per distinct prediction: the result must be the metrics
    of the expanded rows, ties included, exactly as `point_metrics` computes them."""
    y, p = _data(n=800, seed=4)
    p = np.round(p, 2)  # ties
    draws = metrics.bootstrap_draws(y, p, 30, seed=11)
    rows = np.random.default_rng(11).integers(0, len(y), (30, len(y)))  # the documented draw: one matrix
    for b in (0, 7, 29):
        expected = metrics.point_metrics(y[rows[b]], p[rows[b]])
        for name in metrics.METRICS:
            assert draws[name][b] == pytest.approx(expected[name], abs=1e-9), (b, name)
    values, group = np.unique(p, return_inverse=True)
    whole = metrics.metrics_from_counts(
        values, np.bincount(group, weights=y, minlength=len(values)), np.bincount(group, weights=1 - y)
    )
    for name, value in metrics.point_metrics(y, p).items():
        assert whole[name][0] == pytest.approx(value, abs=1e-9), name


def test_a_resample_with_one_class_is_left_out_of_the_interval() -> None:
    y = np.zeros(40, dtype=int)
    y[0] = 1  # one outcome: most resamples have none, and the AUROC is undefined on them
    p = np.linspace(0.05, 0.95, 40)
    draws = metrics.bootstrap_draws(y, p, 50, seed=3)
    undefined = np.isnan(draws["auroc"])
    assert 0 < undefined.sum() < 50
    assert np.isnan(draws["brier"][undefined]).all()  # the whole resample is left out, not one metric
    low, high = metrics.bootstrap_intervals(y, p, 50, seed=3)["auroc"]
    assert np.isfinite(low) and np.isfinite(high)


def test_the_bootstrap_slope_converges_when_outcomes_occur_at_a_prediction_of_zero() -> None:
    """A rate-table model predicts 0 for a group that had no outcome in development; a test outcome there
    sits at logit -13.8. Seen in a fresh-clone report: resamples ran away to -7e17 and printed as the
    interval's lower end."""
    rng = np.random.default_rng(2)
    rates = np.array([0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2])
    group = rng.integers(0, len(rates), 435)
    p = rates[group]
    y = (rng.random(435) < np.maximum(p, 0.03)).astype(int)  # outcomes in the p = 0 group too
    assert y[p == 0].sum() >= 1 and 10 <= y.sum() <= 40
    draws = metrics.bootstrap_draws(y, p, 200, seed=123)["calibration_slope"]
    assert np.isfinite(draws).all()
    low, high = metrics.bootstrap_intervals(y, p, 200, seed=123)["calibration_slope"]
    assert low <= metrics.calibration_slope(y, p) <= high and -5 < low and high < 5
