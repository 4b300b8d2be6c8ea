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
    "bootstrap_draws",
    "bootstrap_intervals",
    "brier",
    "calibration_bins",
    "calibration_curve",
    "calibration_intercept",
    "calibration_slope",
    "metrics_from_counts",
    "point_metrics",
    "reported",
]

METRICS = ("auroc", "auprc", "brier", "calibration_intercept", "calibration_slope")
_EPS = 1e-6  # probabilities are clipped away from 0 and 1 before the logit
# A Newton fit whose last step is larger than this did not converge (separation): its value is NaN.
_CONVERGED = 1e-6


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
    return float(a) if abs(step) < _CONVERGED else math.nan


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
    return float(beta[1]) if np.abs(step).max() < _CONVERGED else math.nan


def point_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {
        "auroc": auroc(y, p),
        "auprc": auprc(y, p),
        "brier": brier(y, p),
        "calibration_intercept": calibration_intercept(y, p),
        "calibration_slope": calibration_slope(y, p),
    }


def _tie_groups(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct predictions ascending, each row's group): every metric here depends on the rows only
    through how many outcomes and non-outcomes share each distinct prediction."""
    values, group = np.unique(p, return_inverse=True)
    return values, group.ravel()


def _dot(rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Each row's dot product with `vector`. Not `@`: BLAS wakes its threads for each call, which on a
    busy machine was measured at 60 ms a call against well under 1 ms here."""
    return np.einsum("ij,j->i", rows, vector)


def metrics_from_counts(
    values: np.ndarray, pos: np.ndarray, neg: np.ndarray, *, logits: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The five metrics of B weighted samples at once: `values` are the G distinct predictions in
    ascending order, `pos` and `neg` (B, G) how many times each sample holds an outcome or a non-outcome
    at each of them (a bootstrap resample's counts). Equal to `point_metrics` on the expanded rows.
    `logits`: the clipped logit of `values`, when the caller has it already."""
    pos, neg = np.atleast_2d(pos).astype(float), np.atleast_2d(neg).astype(float)
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        # AUROC: each outcome beats the non-outcomes below it, and half of those tied with it.
        below = np.cumsum(neg, axis=1)
        below -= 0.5 * neg
        auroc_ = np.einsum("ij,ij->i", pos, below) / (n_pos * n_neg)
        # Average precision, thresholds at each distinct prediction from the top (ties taken together).
        tp = np.cumsum(pos[:, ::-1], axis=1)[:, ::-1]
        seen = tp + np.cumsum(neg[:, ::-1], axis=1)[:, ::-1]
        precision = np.divide(tp, seen, out=np.zeros_like(tp), where=seen > 0)
        auprc_ = np.einsum("ij,ij->i", pos, precision) / n_pos
        brier_ = (_dot(pos, (values - 1) ** 2) + _dot(neg, values**2)) / (n_pos + n_neg)
        auroc_[(n_pos == 0) | (n_neg == 0)] = np.nan
        auprc_[n_pos == 0] = np.nan
        x = _logit(values) if logits is None else logits
        weight = pos + neg
        intercept = _weighted_intercept(x, pos, weight)
        slope = _weighted_slope(x, pos, weight)
    return {
        "auroc": auroc_,
        "auprc": auprc_,
        "brier": brier_,
        "calibration_intercept": intercept,
        "calibration_slope": slope,
    }


def _weighted_intercept(x: np.ndarray, pos: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """`calibration_intercept` of each weighted sample (Newton's method, all samples together)."""
    # expit(a + x) = 1 / (1 + exp(-a) exp(-x)): one exp per sample and iteration, not per cell.
    e = np.exp(-x)
    observed = pos.sum(axis=1)
    a = np.zeros(len(pos))
    for _ in range(50):
        mu = np.exp(-a)[:, None] * e
        mu += 1
        np.reciprocal(mu, out=mu)
        expected = np.einsum("ij,ij->i", weight, mu)
        mu *= mu
        information = expected - np.einsum("ij,ij->i", weight, mu)
        step = (observed - expected) / np.maximum(information, 1e-12)
        a += step
        if np.nanmax(np.abs(step), initial=0.0) < 1e-10:
            break
    return np.where(np.abs(step) < _CONVERGED, a, np.nan)


def _weighted_slope(x: np.ndarray, pos: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """`calibration_slope` of each weighted sample (IRLS, the 2x2 normal equations solved in closed form)."""
    observed0, observed1 = pos.sum(axis=1), _dot(pos, x)
    x2 = x * x
    inverse_weight = np.divide(1.0, weight, out=np.zeros_like(weight), where=weight > 0)
    # Started from zero, as the scalar fit: from the identity (0, 1), a resample with outcomes at a
    # prediction of 0 (logit -13.8) was seen to overshoot and run away.
    b0, b1 = np.zeros(len(pos)), np.zeros(len(pos))
    for _ in range(50):
        mu = b1[:, None] * x
        mu += b0[:, None]
        special.expit(mu, out=mu)
        mu *= weight  # expected counts
        g0, g1 = observed0 - mu.sum(axis=1), observed1 - _dot(mu, x)
        mu -= mu * mu * inverse_weight  # weight * p * (1 - p)
        s0, s1, s2 = np.maximum(mu.sum(axis=1), 1e-12), _dot(mu, x), _dot(mu, x2)
        det = s0 * s2 - s1 * s1
        d0, d1 = (s2 * g0 - s1 * g1) / det, (s0 * g1 - s1 * g0) / det
        b0, b1 = b0 + d0, b1 + d1
        if not np.nanmax(np.abs(np.r_[d0, d1]), initial=0.0) >= 1e-10:
            break
    # A sample whose fit runs away (outcomes only above some prediction: no finite maximum) has no slope.
    return np.where(np.abs(d1) < _CONVERGED, b1, np.nan)


# Resamples drawn and reduced together: small enough (about 2 MB a matrix)
# for the temporaries to stay in cache: 32 MB ones were measured 8 times slower (page faults).
_CELLS_PER_CHUNK = 250_000


def bootstrap_draws(y: np.ndarray, p: np.ndarray, n_boot: int, seed: int) -> dict[str, np.ndarray]:
    """Each metric on `n_boot` resamples of the rows (drawn with replacement, all resamples of a chunk
    in one matrix); a resample with one class only gives NaN for the metrics it leaves undefined."""
    values, group = _tie_groups(y, p)
    # One bin per (distinct prediction, label): a resample's counts are a bincount of its drawn rows.
    cell = group * 2 + y.astype(np.int64)
    rng = np.random.default_rng(seed)
    n, cells, logits = len(y), 2 * len(values), _logit(values)
    chunk = max(1, min(n_boot, _CELLS_PER_CHUNK // max(n, 1)))
    out: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        drawn = cell[rng.integers(0, n, (size, n))] + (np.arange(size) * cells)[:, None]
        counts = np.bincount(drawn.ravel(), minlength=size * cells).reshape(size, len(values), 2)
        pos, neg = counts[:, :, 1], counts[:, :, 0]
        one_class = (pos.sum(axis=1) == 0) | (neg.sum(axis=1) == 0)
        for name, value in metrics_from_counts(values, pos, neg, logits=logits).items():
            value[one_class] = np.nan  # as the point estimate's sample has both classes
            out[name].append(value)
    return {m: np.concatenate(v) for m, v in out.items()}


def bootstrap_intervals(
    y: np.ndarray, p: np.ndarray, n_boot: int, seed: int, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Percentile intervals over `n_boot` resamples of the rows (resamples where a metric is undefined,
    one class only, are left out of its interval)."""
    draws = bootstrap_draws(y, p, n_boot, seed)
    tail = (1 - level) / 2 * 100
    intervals: dict[str, tuple[float, float]] = {}
    for m, v in draws.items():
        v = v[np.isfinite(v)]
        intervals[m] = (
            (float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail)))
            if len(v)
            else (math.nan, math.nan)
        )
    return intervals


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
