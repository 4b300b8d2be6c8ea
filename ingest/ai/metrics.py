"""Performance of predicted probabilities against labels: discrimination, calibration, uncertainty.

AUROC (rank form), AUPRC (average precision), Brier score, calibration intercept (calibration-in-the-large:
logistic regression of the outcome with logit(p) as offset) and slope (logistic regression on logit(p)),
after Van Calster et al. (J Clin Epidemiol 2016, "A calibration hierarchy for risk models") and Steyerberg's
*Clinical Prediction Models* (2nd ed., 2019); percentile bootstrap confidence intervals (Efron); a binned
calibration curve whose every bin holds at least k outcomes and k non-outcomes.

`reported` rounds a value and its interval to the precision the interval supports (the first decimal
place at which the interval width shows), so that a metric never carries digits finer than its
uncertainty: the label oracle is coarser (docs/ai-evaluation.md, "The label oracle").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

__all__ = [
    "METRICS",
    "Interval",
    "auroc",
    "bootstrap_intervals",
    "brier",
    "calibration_bins",
    "calibration_curve",
    "calibration_intercept",
    "calibration_slope",
    "point_metrics",
    "reported",
]

METRICS = ("auroc", "auprc", "brier", "calibration_intercept", "calibration_slope")
_EPS = 1e-6  # probabilities are clipped away from 0 and 1 before the logit


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Mann-Whitney form, ties counted one half."""
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return math.nan
    ranks = stats.rankdata(p)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def auprc(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision, as scikit-learn's average_precision_score (a test checks they agree)."""
    if y.sum() == 0:
        return math.nan
    order = np.argsort(-p, kind="stable")
    ps = p[order]
    last_of_tie = np.r_[ps[1:] != ps[:-1], True]
    tp = np.cumsum(y[order])[last_of_tie]
    seen = np.arange(1, len(y) + 1)[last_of_tie]
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * (tp / seen)))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2))


def _logit(p: np.ndarray) -> np.ndarray:
    return special.logit(np.clip(p, _EPS, 1 - _EPS))


def calibration_intercept(y: np.ndarray, p: np.ndarray) -> float:
    """a in logit P(y) = a + logit(p) (offset), by Newton's method; 0 when calibrated in the large."""
    offset = _logit(p)
    a = 0.0
    for _ in range(50):
        mu = special.expit(a + offset)
        step = (y - mu).sum() / max((mu * (1 - mu)).sum(), 1e-12)
        a += step
        if abs(step) < 1e-10:
            break
    return float(a)


def calibration_slope(y: np.ndarray, p: np.ndarray) -> float:
    """b in logit P(y) = a + b logit(p), by iteratively reweighted least squares; 1 when not over-fitted."""
    x = np.column_stack([np.ones(len(p)), _logit(p)])
    beta = np.zeros(2)
    for _ in range(50):
        mu = special.expit(x @ beta)
        w = np.clip(mu * (1 - mu), 1e-12, None)
        hessian = x.T @ (x * w[:, None])
        try:
            step = np.linalg.solve(hessian, x.T @ (y - mu))
        except np.linalg.LinAlgError:
            return math.nan
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return float(beta[1])


def point_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {
        "auroc": auroc(y, p),
        "auprc": auprc(y, p),
        "brier": brier(y, p),
        "calibration_intercept": calibration_intercept(y, p),
        "calibration_slope": calibration_slope(y, p),
    }


def bootstrap_intervals(
    y: np.ndarray, p: np.ndarray, n_boot: int, seed: int, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Percentile intervals over `n_boot` resamples of the rows (resamples with one class are redrawn)."""
    rng = np.random.default_rng(seed)
    n = len(y)
    draws: dict[str, list[float]] = {m: [] for m in METRICS}
    attempts = 0
    while len(draws["auroc"]) < n_boot and attempts < 3 * n_boot:
        attempts += 1
        idx = rng.integers(0, n, n)
        yb = y[idx]
        if yb.min() == yb.max():
            continue
        for name, value in point_metrics(yb, p[idx]).items():
            draws[name].append(value)
    tail = (1 - level) / 2 * 100
    return {
        m: (float(np.nanpercentile(v, tail)), float(np.nanpercentile(v, 100 - tail)))
        if v
        else (math.nan, math.nan)
        for m, v in draws.items()
    }


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float
    decimals: int

    def as_dict(self) -> dict[str, float | int]:
        return {"value": self.value, "ci_low": self.low, "ci_high": self.high, "decimals": self.decimals}


def reported(value: float, low: float, high: float, *, max_decimals: int = 3) -> Interval:
    """Value and interval rounded at the first decimal place the interval width reaches (at least 1, at
    most `max_decimals`): a width of 0.05 gives 2 decimals, 0.004 gives 3."""
    width = high - low
    if not all(math.isfinite(x) for x in (value, low, high)) or width <= 0:
        decimals = 1
    else:
        decimals = min(max(math.ceil(-math.log10(width)), 1), max_decimals)
    return Interval(round(value, decimals), round(low, decimals), round(high, decimals), decimals)


def calibration_bins(y: np.ndarray, p: np.ndarray, k: int, *, max_bins: int = 10) -> list[np.ndarray]:
    """Row indices of each bin, rows sorted by prediction: a bin is cut when it has >= n/max_bins rows and
    at least k outcomes and k non-outcomes; a short tail is merged into the last bin. Empty when the
    whole set has fewer than k of either class."""
    order = np.argsort(p, kind="stable")
    ys = y[order]
    target = max(len(y) // max_bins, 1)
    cuts: list[tuple[int, int]] = []
    start = pos = 0
    for i in range(len(ys)):
        pos += int(ys[i])
        size = i - start + 1
        if size >= target and pos >= k and size - pos >= k:
            cuts.append((start, i + 1))
            start, pos = i + 1, 0
    if start < len(ys) and cuts:
        cuts[-1] = (cuts[-1][0], len(ys))
    return [order[lo:hi] for lo, hi in cuts]


def calibration_curve(y: np.ndarray, p: np.ndarray, k: int, *, max_bins: int = 10) -> list[dict[str, float]]:
    """Mean prediction and observed rate per `calibration_bins` bin, both to 2 decimals."""
    return [
        {"predicted": round(float(p[rows].mean()), 2), "observed": round(float(y[rows].mean()), 2)}
        for rows in calibration_bins(y, p, k, max_bins=max_bins)
    ]
