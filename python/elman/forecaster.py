"""elman.Forecaster: many steps ahead from an Elman network, with covariates, pandas and intervals.

How a series becomes training data (every transformation fitted on the series given to `fit`):

1. Each target column is modelled as its changes over a season z_t = y_t - y_(t-m) when its season
   is strong (seasonal naive's in-sample error below SEASONAL_RATIO of persistence's), else as its
   changes z_t = y_t - y_(t-1) when it trends (a straight line explaining at least TREND_R2 of its
   variance), else as its levels z_t = y_t (`difference` chooses: "auto", "seasonal", True, False).
   The first rows (the largest lag, at least one) are dropped, so every column has the same rows.
2. z and the covariates X are standardized with the fitted series' statistics (data.Normalizer).
3. The input at row i is z_i and the covariates of the times the outputs forecast (known in advance):
   those of the next time for "recursive", of the next `horizon` times for "direct".
4. The output at row i forecasts what follows it, so every step of a window is a training position:
   - "recursive": z_(i+1) (one step), fed back `horizon` times when forecasting;
   - "direct": for j = 1..horizon at once, z_(i+j), or for changes over one step z_(i+1) + ... +
     z_(i+j) (the change since the last value).
   likelihood "gaussian" adds a log-variance to every output: the head gives the means, then the
   log-variances, trained with the core's loss "gaussian_nll".
5. Windows of `window` rows, shuffled into batches (data.Loader), train the network (Trainer, Adam,
   a cosine schedule). A forecast runs the last `window` rows of a history and reads the last output.

Validation: the last `validation` fraction of the fitted series is held out at first. Every
VALIDATE_EVERY steps the network forecasts from each origin in it, and training stops when those
forecasts' squared error has not improved for PATIENCE checks; the best weights are kept. Then
(`refit`) a network is trained again from the same seed on the whole series for that many steps.

Intervals: weighted split-conformal prediction (Barber, Candes, Ramdas and Tibshirani, "Conformal
prediction beyond exchangeability", 2023) on the network's own spread. A forecast's spread at step j is
the largest over steps 1..j (so widths grow with the step) of the Gaussian's standard deviation
("direct") or of `num_samples` drawn paths, each step's draw fed back ("recursive"). A past forecast
scores |actual - forecast| / spread at every step whose outcome is known; a coverage-c interval is the
forecast -/+ q * spread, with q (one per column, pooled over the steps) the c-quantile of the scores
known at the forecast's origin, each weighted 2^(-age / HALF_LIFE) by the origins between them, the
forecast's own unknown score weighing 1 (q is then the largest score when there are too few, and the
Gaussian's when there are none). Every score is of a network that had not seen what it forecast: at
fit, those of the held-out tail by the network trained without it; then, when a history continues the
fitted series, those of the final network from the history's origins past the fitted series, joining
as their outcomes become known (as in EnbPI and darts' conformal models), so the widths follow the
recent errors without refitting. HALF_LIFE was chosen on series and seeds benchmarks/forecast.py does
not score (benchmarks/RESULTS.md, "Forecasting").
"""

from __future__ import annotations

import json
import math
import os
import secrets
import sys
import warnings
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from . import _validate as check
from .data import Loader, Normalizer
from .model import RNN, load
from .optim import Adam
from .train import Cosine, Trainer

FORMAT = 1  # of the forecaster's state in the file's metadata (no release has written another)
METADATA_KEY = "forecaster"  # the model file's metadata entry holding the Forecaster's state (JSON)
TREND_R2 = 0.5  # difference="auto" models changes when a straight line explains this much of a column
SEASONAL_RATIO = 0.75  # ... and changes over a season when seasonal naive errs this much less than persistence
STRATEGIES = ("direct", "recursive")
VALIDATE_EVERY = 25  # training steps between validations
PATIENCE = 10  # validations without a better one before training stops
DEFAULT_STRATEGY = "direct"
HALF_LIFE = 8  # origins of age that halve a conformal score's weight (see the module's "Intervals")
AGE_LIMIT = 30 * HALF_LIFE  # scores older than this (weight below 1e-9) are left out

# Seasons of the pandas frequencies (their names' leading letters): the period seasonal naive repeats.
_SEASONS = {"MIN": 60, "H": 24, "D": 7, "B": 5, "W": 52, "SM": 24, "M": 12, "Q": 4, "A": 1, "Y": 1}


def _pandas() -> Any:
    """pandas, when the caller's data came from it (then it is already imported)."""
    return sys.modules.get("pandas")


def _pandas_needed() -> Any:
    """pandas, imported if need be: a forecaster fitted on pandas data (then loaded) gives pandas results."""
    import pandas

    return pandas


def _is_pandas(value: Any) -> bool:
    pd = _pandas()
    return pd is not None and isinstance(value, (pd.Series, pd.DataFrame))


# ------------------------------------------------------------------------------------------ input


@dataclass
class _Table:
    """A series or covariates as (N, k) float64, and what is needed to give results back in kind."""

    values: np.ndarray
    kind: str  # "numpy" or "pandas"
    one_column: bool  # y was (N,) or a Series
    names: list[str] | None  # pandas column names
    index: dict[str, Any] | None  # how the index continues (see _index_info); None for numpy


def _table(name: str, value: Any, fill: str | None, require_frequency: bool = True) -> _Table:
    """`value` ((N,) or (N, k) numbers, or a pandas Series / DataFrame) checked and as a _Table."""
    if value is None:
        raise TypeError(f"{name} is None; expected (N,) or (N, k) numbers, or a pandas Series or DataFrame")
    if _is_pandas(value):
        pd = _pandas()
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        for column, dtype in frame.dtypes.items():
            if dtype.kind not in "biuf":
                raise TypeError(f"{name} column {column!r} has dtype {dtype}; expected numbers")
        values = frame.to_numpy(dtype=np.float64)
        names = [str(c) for c in frame.columns]
        table = _Table(values, "pandas", isinstance(value, pd.Series), names, _index_info(name, value.index))
    else:
        a = check.array(name, value)
        if a.ndim not in (1, 2) or a.shape[0] == 0 or a.size == 0:
            raise ValueError(f"{name} has shape {check.shape_str(a.shape)}; expected (N,) or (N, k) with N >= 1")
        values = a.reshape(a.shape[0], -1).astype(np.float64)
        table = _Table(values, "numpy", a.ndim == 1, None, None)
    table.values = _finite(name, table.values, fill)
    return table


def _finite(name: str, values: np.ndarray, fill: str | None) -> np.ndarray:
    """values with no NaN or inf: an error naming the first bad row, or gaps filled as `fill` says."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return values
    if fill is None:
        row = int(np.argwhere(bad)[0][0])
        raise ValueError(
            f"{name} holds {int(bad.sum())} missing or non-finite values (the first in row {row}); expected finite "
            "numbers, or fill='interpolate' (or 'ffill') to fill them"
        )
    out = values.copy()
    t = np.arange(len(values))
    for j in range(values.shape[1]):
        good = ~bad[:, j]
        if not good.any():
            raise ValueError(f"{name} column {j} holds no finite values; expected at least one")
        if fill == "interpolate":
            out[:, j] = np.interp(t, t[good], values[good, j])
        else:  # ffill: the last good value, the first one before it
            last = np.maximum.accumulate(np.where(good, t, -1))
            out[:, j] = values[np.where(last >= 0, last, np.argmax(good)), j]
    return out


def _index_info(name: str, index: Any) -> dict[str, Any]:
    """How a pandas index continues past its end, as JSON values."""
    pd = _pandas()
    if isinstance(index, pd.DatetimeIndex):
        freq = index.freq or (pd.DatetimeIndex(index, freq="infer").freq if len(index) >= 3 else None)
        if freq is not None:
            return {"kind": "datetime", "last": index[-1].isoformat(), "freq": freq.freqstr, "name": index.name}
        warnings.warn(
            f"{name}'s DatetimeIndex has no frequency pandas can infer (its dates are not evenly spaced); "
            "forecasts are indexed by position after its end (pass a series with index.freq set to get dates)",
            UserWarning,
            stacklevel=4,
        )
        return {"kind": "step", "last": len(index) - 1, "step": 1, "name": None}
    if isinstance(index, pd.PeriodIndex):
        return {"kind": "period", "last": str(index[-1]), "freq": index.freqstr, "name": index.name}
    if index.dtype.kind in "iu" and len(index) >= 1:
        steps = np.diff(index.to_numpy())
        if len(index) == 1 or (steps[0] != 0 and (steps == steps[0]).all()):
            step = int(steps[0]) if len(index) > 1 else 1
            return {"kind": "step", "last": int(index[-1]), "step": step, "name": index.name}
    warnings.warn(
        f"{name}'s index is not evenly spaced dates or numbers; forecasts are indexed by position after its end",
        UserWarning,
        stacklevel=4,
    )
    return {"kind": "step", "last": len(index) - 1, "step": 1, "name": None}


def _future_index(info: dict[str, Any], n: int) -> Any:
    """The n index labels after the end of the index `info` describes."""
    pd = _pandas_needed()
    if info["kind"] == "datetime":
        index = pd.date_range(pd.Timestamp(info["last"]), periods=n + 1, freq=info["freq"])[1:]
    elif info["kind"] == "period":
        index = pd.period_range(pd.Period(info["last"], freq=info["freq"]) + 1, periods=n, freq=info["freq"])
    else:
        first = info["last"] + info["step"]
        index = pd.RangeIndex(first, first + n * info["step"], info["step"])
    return index.rename(info["name"])


def _season_of(info: dict[str, Any] | None) -> int | None:
    """The season a pandas frequency implies (12 for monthly data), or None."""
    if info is None or info["kind"] not in ("datetime", "period"):
        return None
    code = "".join(ch for ch in info["freq"].upper() if ch.isalpha())
    for prefix in sorted(_SEASONS, key=len, reverse=True):
        if code.startswith(prefix):
            multiple = "".join(ch for ch in info["freq"] if ch.isdigit())
            return max(1, _SEASONS[prefix] // int(multiple)) if multiple else _SEASONS[prefix]
    return None


def _detect_season(values: np.ndarray) -> int:
    """The lag of the highest autocorrelation peak of the changes (of the first column), if clear; else 1."""
    z = np.diff(values[:, 0])
    n = len(z)
    if n < 12 or z.std() == 0:
        return 1
    z = z - z.mean()
    acf = np.correlate(z, z, "full")[n - 1 :] / (z @ z)
    lags = np.arange(2, n // 3)
    peaks = [lag for lag in lags if acf[lag] >= acf[lag - 1] and acf[lag] >= acf[lag + 1]]
    if not peaks:
        return 1
    best = max(peaks, key=lambda lag: acf[lag])
    return int(best) if acf[best] > 0.3 else 1


def _trending(values: np.ndarray) -> np.ndarray:
    """(k,) whether a straight line explains at least TREND_R2 of each column's variance."""
    t = np.arange(len(values), dtype=np.float64)
    t -= t.mean()
    centered = values - values.mean(axis=0)
    slope = t @ centered / (t @ t)
    explained = slope**2 * (t @ t)
    total = (centered**2).sum(axis=0)
    return np.where(total > 0, explained >= TREND_R2 * np.maximum(total, 1e-300), False)


def _lags(values: np.ndarray, season: int, difference: str | bool) -> np.ndarray:
    """(k,) the lag each column is differenced at: 0 (levels), 1 (changes) or season (seasonal changes)."""
    k = values.shape[1]
    if difference is True or difference is False:
        return np.full(k, int(difference))
    if difference == "seasonal":
        return np.full(k, season)
    seasonal = np.zeros(k, dtype=bool)
    if season > 1 and len(values) > 2 * season:
        seasonal_naive = np.abs(values[season:] - values[:-season]).mean(axis=0)
        persistence = np.abs(np.diff(values, axis=0)).mean(axis=0)
        seasonal = seasonal_naive < SEASONAL_RATIO * persistence
    return np.where(seasonal, season, _trending(values).astype(int))


# --------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Backtest:
    """Rolling-origin forecasts of a series and their errors, next to seasonal naive and persistence.

    origins: (n,) how many values each forecast saw; forecast, actual, seasonal_naive, persistence:
    (n, horizon, k) in the series' units; lower, upper: the `coverage` interval (None without a
    likelihood). `frame` and `table()` give MAE, RMSE and MASE per horizon step.
    """

    origins: np.ndarray
    forecast: np.ndarray
    actual: np.ndarray
    seasonal_naive: np.ndarray
    persistence: np.ndarray
    lower: np.ndarray | None
    upper: np.ndarray | None
    coverage: float
    season: int
    scale: np.ndarray  # (k,) the fitted series' in-sample seasonal-naive MAE, MASE's denominator

    def errors(self) -> dict[str, np.ndarray]:
        """Per horizon step (horizon,) and then over all steps (the last entry): every metric."""
        out: dict[str, np.ndarray] = {}
        for who, f in (
            ("elman", self.forecast),
            ("seasonal_naive", self.seasonal_naive),
            ("persistence", self.persistence),
        ):
            e = f - self.actual  # (n, H, k)
            mae = np.abs(e).mean(axis=(0, 2))
            rmse = np.sqrt((e**2).mean(axis=(0, 2)))
            mase = (np.abs(e) / self.scale).mean(axis=(0, 2))
            out[f"{who}_mae"] = np.append(mae, np.abs(e).mean())
            out[f"{who}_rmse"] = np.append(rmse, np.sqrt((e**2).mean()))
            out[f"{who}_mase"] = np.append(mase, (np.abs(e) / self.scale).mean())
        if self.lower is not None and self.upper is not None:
            inside = (self.actual >= self.lower) & (self.actual <= self.upper)
            out["coverage"] = np.append(inside.mean(axis=(0, 2)), inside.mean())
        return out

    @property
    def frame(self) -> Any:
        """A pandas DataFrame: one row per horizon step (1..horizon) and "all", one column per metric."""
        pd = _pandas_needed()
        horizon = self.forecast.shape[1]
        return pd.DataFrame(self.errors(), index=pd.Index([*map(str, range(1, horizon + 1)), "all"], name="step"))

    def table(self) -> str:
        """The errors as a fixed-width text table."""
        errors = self.errors()
        horizon = self.forecast.shape[1]
        names = list(errors)
        lines = ["step  " + "  ".join(f"{n:>20}" for n in names)]
        for i, label in enumerate([*map(str, range(1, horizon + 1)), "all"]):
            lines.append(f"{label:>4}  " + "  ".join(f"{errors[n][i]:>20.4g}" for n in names))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


# ------------------------------------------------------------------------------------ forecaster


class Forecaster:
    """Forecasts `horizon` steps past the end of a series with an Elman network.

    horizon: steps to forecast (>= 1). window: rows of history the network reads (default: three
    seasons, at least the horizon and 24, at most what leaves half the series for windows).
    likelihood: None (point forecasts, loss "mse") or "gaussian" (a mean and a log-variance per output,
    loss "gaussian_nll", for predict_interval: the network's spread, its width calibrated by weighted
    split-conformal prediction on forecasts of outcomes it had not seen; module docstring, "Intervals").
    strategy: "direct" (every step at once) or "recursive" (one step, fed back). difference: "auto"
    (see the module's step 1), "seasonal" (changes over a season), True (changes) or False (levels).
    season: the period seasonal naive repeats and the default window counts in (default: from the pandas
    index's frequency, else the clearest autocorrelation peak, else 1). fill: None (NaN or inf is an
    error), "interpolate" or "ffill". validation: the fraction of the fitted series' tail held out to
    choose the training length and to score the forecasts that calibrate the intervals (0: train
    `steps` steps; intervals from the Gaussian until a history past the fitted series scores some).
    refit: train again on the whole series for the chosen number of steps.
    hidden_size, num_layers, steps, batch_size, lr: the network and its training. num_samples: the
    paths "recursive" draws for intervals. seed: the same seed gives the same forecasts. progress:
    a tqdm bar during fit (None: when stderr is a terminal).
    """

    def __init__(
        self,
        horizon: int,
        *,
        window: int | None = None,
        likelihood: str | None = None,
        seed: int | None = None,
        strategy: str = DEFAULT_STRATEGY,
        difference: str | bool = "auto",
        season: int | None = None,
        fill: str | None = None,
        validation: float = 0.2,
        refit: bool = True,
        hidden_size: int = 32,
        num_layers: int = 1,
        steps: int = 800,
        batch_size: int = 32,
        lr: float = 5e-3,
        num_samples: int = 500,
        progress: bool | None = None,
    ) -> None:
        self.horizon = check.integer("horizon", horizon, 1)
        self.window = None if window is None else check.integer("window", window, 1)
        if likelihood is not None:
            check.choice("likelihood", likelihood, ("gaussian",))
        self.likelihood = likelihood
        self.seed = secrets.randbits(32) if seed is None else check.integer("seed", seed, 0)
        self.strategy = check.choice("strategy", strategy, STRATEGIES)
        if not (difference in ("auto", "seasonal") or isinstance(difference, (bool, np.bool_))):
            raise ValueError(f"difference is {difference!r}; expected 'auto', 'seasonal', True or False")
        self.difference = difference if isinstance(difference, str) else bool(difference)
        self.season = None if season is None else check.integer("season", season, 1)
        if fill is not None:
            check.choice("fill", fill, ("interpolate", "ffill"))
        self.fill = fill
        self.validation = check.real("validation", validation, 0.0, 0.5)
        self.refit = check.flag("refit", refit)
        self.hidden_size = check.integer("hidden_size", hidden_size, 1)
        self.num_layers = check.integer("num_layers", num_layers, 1)
        self.steps = check.integer("steps", steps, 1)
        self.batch_size = check.integer("batch_size", batch_size, 1)
        self.lr = check.real("lr", lr, 0.0)
        self.num_samples = check.integer("num_samples", num_samples, 2)
        self.progress = progress
        self.model: RNN | None = None
        self.history: list[dict[str, Any]] = []

    # --------------------------------------------------------------------------------- settings

    def _settings(self) -> dict[str, Any]:
        keys: tuple[str, ...] = (
            "horizon",
            "window",
            "likelihood",
            "seed",
            "strategy",
            "difference",
            "season",
            "fill",
            "validation",
            "refit",
        )
        keys += ("hidden_size", "num_layers", "steps", "batch_size", "lr", "num_samples")
        return {k: getattr(self, k) for k in keys}

    def __repr__(self) -> str:
        fitted = "fitted" if self.model is not None else "not fitted"
        return (
            f"Forecaster(horizon={self.horizon}, strategy={self.strategy!r}, likelihood={self.likelihood!r}; {fitted})"
        )

    def _needs_fit(self) -> RNN:
        if self.model is None:
            raise ValueError("the Forecaster is not fitted; call fit(y) first (or Forecaster.load(path))")
        return self.model

    @property
    def _per_row(self) -> int:
        """How many future times a row's output covers (and whose covariates its input holds)."""
        return self.horizon if self.strategy == "direct" else 1

    def min_length(self) -> int:
        """The fewest values fit needs: window + horizon + the rows differencing drops (the season
        for seasonal changes, else 1); a history to forecast from needs window + those rows."""
        return self.window_ + self.horizon + self.drop_

    # -------------------------------------------------------------------------------------- fit

    def fit(self, y: Any, X: Any = None) -> Forecaster:
        """Trains on the series y ((N,) or (N, k) numbers, or a pandas Series / DataFrame) and its
        covariates X ((N, c) numbers known in advance, or a DataFrame), if any. Returns self."""
        target = _table("y", y, self.fill)
        values = target.values
        N, k = values.shape
        covariates = None if X is None else self._covariates("X", X, N)
        self.season_ = self.season or _season_of(target.index) or _detect_season(values)
        if self.season_ >= N // 2:
            self.season_ = 1
        self.lags_ = _lags(values, self.season_, self.difference)
        self.drop_ = max(1, int(self.lags_.max()))
        self.window_ = self.window or self._default_window(N)
        if N < self.min_length():
            raise ValueError(
                f"y has {N} values; expected at least window + horizon + {self.drop_} = {self.min_length()} (window "
                f"{self.window_}, horizon {self.horizon}, {self.drop_} dropped by differencing); pass a smaller "
                "window or a longer series"
            )
        self.targets_, self.covariates_ = k, 0 if covariates is None else covariates.shape[1]
        self.kind_, self.one_column_, self.names_ = target.kind, target.one_column, target.names
        self.index_ = target.index
        self.scale_ = _naive_scale(values, self.season_)
        self.fitted_length_ = N

        hold = max(int(round(N * self.validation)), 2 * self.horizon) if self.validation else 0
        if N - hold < self.min_length():
            hold = 0  # too short to hold anything out: fixed steps, raw widths
        self.scores_, self.score_origins_ = np.empty((0, self.horizon, k)), np.empty(0, dtype=np.int64)
        head = None if covariates is None else covariates[: N - hold]
        self.steps_ = self._train(values[: N - hold], head, (values, covariates, N - hold) if hold else None)
        if hold and self.likelihood:
            if self.refit and self.steps_ < self.steps:
                # the final network runs its whole schedule in steps_ steps: scores from one trained so too
                self._train(values[: N - hold], head, None, self.steps_)
            self.score_origins_ = np.arange(max(N - hold, N - AGE_LIMIT), N - self.horizon + 1)
            self.scores_ = self._scores(values, covariates, self.score_origins_)
        if hold and self.refit:
            self._train(values, covariates, None, self.steps_)
        self._keep_tail(values, covariates)
        return self

    def _default_window(self, N: int) -> int:
        wanted = max(3 * self.season_, self.horizon, 24)
        room = (N - self.drop_ - self.horizon) // 2  # at least half the rows start a window
        return max(1, min(wanted, room))

    def _covariates(self, name: str, X: Any, rows: int) -> np.ndarray:
        table = _table(name, X, self.fill)
        if table.values.shape[0] != rows:
            raise ValueError(f"{name} has {table.values.shape[0]} rows; expected {rows}, one per value of y")
        if hasattr(self, "covariates_") and self.model is not None and table.values.shape[1] != self.covariates_:
            raise ValueError(
                f"{name} has {table.values.shape[1]} columns; expected {self.covariates_}, as in the X given to fit"
            )
        return table.values

    def _transform(self, values: np.ndarray) -> np.ndarray:
        """(N, k) values -> (N - drop, k) levels or changes over each column's lag, unscaled."""
        n, d = len(values), self.drop_
        behind = np.stack(
            [values[d - lag : n - lag, j] if lag else np.zeros(n - d) for j, lag in enumerate(self.lags_)], 1
        )
        return values[d:] - behind

    def _levels(self, z: np.ndarray, before: np.ndarray) -> np.ndarray:
        """Forecast z (B, H, k) in z's units back to values, given the last `drop` values (B, drop, k)
        of each history: y_(n+j) = z_j + y_(n+j-lag)."""
        d = self.drop_
        out = np.concatenate([before, np.zeros_like(z)], axis=1)
        for j in range(z.shape[1]):
            behind = np.stack(
                [out[:, d + j - lag, c] if lag else np.zeros(len(z)) for c, lag in enumerate(self.lags_)], 1
            )
            out[:, d + j] = z[:, j] + behind
        return out[:, d:]

    def _rows(self, values: np.ndarray, covariates: np.ndarray | None) -> np.ndarray:
        """The network's inputs (rows, I) for a history of values (N, k) and covariates (N + extra, c):
        row i holds scaled z_i and the scaled covariates of the next _per_row times, as far as known."""
        u = self.z_scaler_.transform(self._transform(values))
        if covariates is None or self.x_scaler_ is None:
            return u
        c = self.x_scaler_.transform(covariates[self.drop_ :])  # row j: the time of z_j
        rows = min(len(u), len(c) - self._per_row)
        # covariates of times i+1..i+per_row for row i: c[i+1 .. i+per_row]
        future = np.stack([c[1 + j : 1 + j + rows] for j in range(self._per_row)], axis=1).reshape(rows, -1)
        return np.concatenate([u[:rows], future], axis=1)

    def _targets(self, u: np.ndarray) -> np.ndarray:
        """(rows, per_row * k) training targets of the scaled z (M, k): see the module's docstring."""
        rows = len(u) - self._per_row
        ahead = np.stack([u[1 + j : 1 + j + rows] for j in range(self._per_row)], axis=1)  # (rows, per_row, k)
        if self.strategy == "direct":
            ahead = np.where(self.lags_ == 1, np.cumsum(ahead, axis=1), ahead)
        return ahead.reshape(rows, -1)

    def _train(
        self,
        values: np.ndarray,
        covariates: np.ndarray | None,
        val: tuple[np.ndarray, np.ndarray | None, int] | None,
        steps: int | None = None,
    ) -> int:
        """Fits the scalers and trains a new network on values (and covariates) for `steps` steps (default
        self.steps), stopping early on `val` = (the whole series, its covariates, the first held-out
        origin) when given. Returns the number of steps of the weights kept."""
        self.z_scaler_ = Normalizer().fit(self._transform(values))
        self.x_scaler_ = None if covariates is None else Normalizer().fit(covariates)
        inputs = self._rows(values, covariates)
        targets = self._targets(self.z_scaler_.transform(self._transform(values)))
        rows = min(len(inputs), len(targets))
        inputs, targets = inputs[:rows], targets[:rows]
        W = min(self.window_, rows)
        starts = np.arange(rows - W + 1)
        x = np.stack([inputs[s : s + W] for s in starts], axis=1)  # (W, K, I)
        t = np.stack([targets[s : s + W] for s in starts], axis=1)  # (W, K, per_row * k)
        outputs = t.shape[2] * (2 if self.likelihood else 1)
        self.model = RNN(x.shape[2], self.hidden_size, outputs, num_layers=self.num_layers, seed=self.seed)
        trainer = Trainer(
            self.model,
            Adam(self.model, lr=self.lr),
            loss="gaussian_nll" if self.likelihood else "mse",
            clip_norm=1.0,
            schedule=Cosine(steps or self.steps, self.lr / 10),
            progress=self.progress,
            log_every=VALIDATE_EVERY,
            gradient_flow=False,
        )
        best: dict[str, Any] = {"score": math.inf, "step": steps or self.steps, "params": None}
        if val is not None:
            series, series_covariates, first = val
            origins = np.arange(first, len(series) - self.horizon + 1)
            histories = [self._cut(series, series_covariates, int(o)) for o in origins]
            actual = np.stack([series[o : o + self.horizon] for o in origins])

            def validate(t: Trainer, record: dict[str, Any]) -> None:
                levels, _, _ = self._forecast(histories)
                score = float((((levels - actual) / self.scale_) ** 2).mean())
                record["val_error"] = score
                if score < best["score"]:
                    best.update(score=score, step=t.step, params=t.model.params.flat.copy())
                elif t.step - best["step"] >= PATIENCE * VALIDATE_EVERY:
                    t.stop()

            trainer.callbacks.append(validate)
        loader = Loader((x.astype(np.float32), t.astype(np.float32)), min(self.batch_size, len(starts)), seed=self.seed)
        self.history = trainer.fit(loader, steps or self.steps)
        if best["params"] is not None:
            self.model.params.flat[:] = best["params"]
        return int(best["step"])

    # ---------------------------------------------------------------------------------- predict

    def _keep_tail(self, values: np.ndarray, covariates: np.ndarray | None) -> None:
        """The end of the fitted series (what predict() without y forecasts from), kept in files too."""
        keep = self.window_ + self.drop_
        self.tail_ = values[-keep:].copy()
        self.tail_covariates_ = None if covariates is None else covariates[-keep:].copy()

    def _history(self, y: Any, X: Any, X_future: Any) -> tuple[np.ndarray, np.ndarray | None, _Table | None]:
        """(values (n, k), covariates (n + horizon, c) or None, the table of y or None) for a forecast."""
        self._needs_fit()
        if y is None:
            values, past, table = self.tail_, self.tail_covariates_, None
            if X is not None:
                raise ValueError("X is given without y; pass the history y with its covariates X, or neither")
        else:
            table = _table("y", y, self.fill)
            values = table.values
            if values.shape[1] != self.targets_:
                raise ValueError(f"y has {values.shape[1]} columns; expected {self.targets_}, as in fit")
            if len(values) < self.window_ + self.drop_:
                raise ValueError(
                    f"y has {len(values)} values; expected at least window + {self.drop_} = "
                    f"{self.window_ + self.drop_} to forecast from"
                )
            past = None
            if self.covariates_:
                if X is None:
                    raise ValueError(
                        f"X is None but the Forecaster was fitted with {self.covariates_} covariates; pass X for y"
                    )
                past = self._covariates("X", X, len(values))
            elif X is not None:
                raise ValueError("X is given but the Forecaster was fitted without covariates; leave X out")
        if not self.covariates_:
            if X_future is not None:
                raise ValueError("X_future is given but the Forecaster was fitted without covariates; leave it out")
            return values, None, table
        if X_future is None:
            raise ValueError(
                f"X_future is None; expected the {self.covariates_} covariates of the {self.horizon} times to "
                "forecast, "
                f"({self.horizon}, {self.covariates_})"
            )
        future = _table("X_future", X_future, self.fill).values
        if future.shape[0] < self.horizon or future.shape[1] != self.covariates_:
            raise ValueError(
                f"X_future has shape {check.shape_str(future.shape)}; expected ({self.horizon}, {self.covariates_}): "
                "the covariates of every time forecast"
            )
        assert past is not None
        return values, np.concatenate([past, future[: self.horizon]]), table

    def _forecast(
        self, histories: list[tuple[np.ndarray, np.ndarray | None]], samples: int = 0
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Forecasts from the end of each history (values (n, k), covariates (n + horizon, c) or None):
        means (B, H, k) in the series' units and, with a likelihood, the standard deviation of each
        step (direct) or the sample paths (B, samples, H, k) (recursive)."""
        model = self._needs_fit()
        W, H, k = self.window_, self.horizon, self.targets_
        x = np.stack([self._rows(v, c)[-W:] for v, c in histories], axis=1)  # (W, B, I)
        before = np.stack([v[-self.drop_ :] for v, _ in histories])  # (B, drop, k)
        last = before[:, -1]
        y, h_n = model.forward(x.astype(model.dtype))
        out = y[-1].astype(np.float64)  # (B, O)
        std, mean = self.z_scaler_.std, self.z_scaler_.mean
        assert std is not None and mean is not None  # fitted
        B = len(histories)
        if self.strategy == "direct":
            mu = out[:, : H * k].reshape(B, H, k)
            steps = np.arange(1, H + 1)[None, :, None]
            cumulative = last[:, None, :] + mu * std + steps * mean
            levels = np.where(self.lags_ == 1, cumulative, self._levels(mu * std + mean, before))
            spread = None
            if self.likelihood:
                spread = np.exp(0.5 * out[:, H * k :].reshape(B, H, k)) * std
            return levels, spread, None
        # recursive: the mean path, and sample paths when asked
        future_c = None
        if self.x_scaler_ is not None:
            future_c = np.stack(
                [self.x_scaler_.transform(c[-H:]) for _, c in histories if c is not None], axis=1
            )  # (H, B, c)
        levels = self._paths(out, h_n, before, future_c, None)
        paths = None
        if samples:
            rng = np.random.default_rng([self.seed, 1])
            paths = self._paths(out, h_n, before, future_c, (samples, rng))
        return levels, None, paths

    def _paths(
        self,
        out: np.ndarray,
        h_n: np.ndarray,
        before: np.ndarray,
        future_c: np.ndarray | None,
        draw: tuple[int, np.random.Generator] | None,
    ) -> np.ndarray:
        """Recursive paths from the first outputs out (B, O) and states h_n: the means fed back (B, H, k),
        or `draw` = (S, rng): S draws per history fed back, (B, S, H, k)."""
        model = self._needs_fit()
        H, k = self.horizon, self.targets_
        B = out.shape[0]
        S = 1 if draw is None else draw[0]
        out = np.repeat(out, S, axis=0)  # (B*S, O)
        h = np.repeat(h_n, S, axis=1)
        u = np.empty((B * S, H, k))
        for j in range(H):
            mu = out[:, :k]
            if draw is not None:
                mu = mu + np.exp(0.5 * out[:, k:]) * draw[1].standard_normal(mu.shape)
            u[:, j] = mu
            if j + 1 == H:
                break
            x_t = mu if future_c is None else np.concatenate([mu, np.repeat(future_c[j + 1], S, axis=0)], axis=1)
            y_t, h = model.step(x_t.astype(model.dtype), h)
            out = y_t.astype(np.float64)
        z = u * self.z_scaler_.std + self.z_scaler_.mean
        levels = self._levels(z, np.repeat(before, S, axis=0))
        return levels.reshape(B, H, k) if draw is None else levels.reshape(B, S, H, k)

    def _spread(self, spread: np.ndarray | None, paths: np.ndarray | None) -> np.ndarray:
        """(B, H, k) the spread of each step (see the module's "Intervals"): the largest so far of the
        Gaussian's standard deviation (direct) or of the sample paths' (recursive)."""
        s = paths.std(axis=1) if spread is None and paths is not None else spread
        assert s is not None
        return np.maximum.accumulate(np.maximum(s, 1e-12), axis=1)

    def _scores(self, values: np.ndarray, covariates: np.ndarray | None, origins: np.ndarray) -> np.ndarray:
        """(n, H, k) conformal scores |actual - forecast| / spread of the forecasts from each origin of
        values, NaN where the outcome lies past the end of values."""
        histories = [self._cut(values, covariates, int(o)) for o in origins]
        levels, spread, paths = self._forecast(histories, samples=self.num_samples)
        actual = np.full_like(levels, np.nan)
        for i, o in enumerate(origins):
            known = values[o : o + self.horizon]
            actual[i, : len(known)] = known
        return np.abs(actual - levels) / self._spread(spread, paths)

    def _quantiles(self, scores: np.ndarray, origins: np.ndarray, at: int, coverage: float) -> np.ndarray:
        """(k,) the weighted `coverage` quantile of the scores (n, H, k) of forecasts from `origins` whose
        outcomes are known at origin `at`: the spread's multiple that makes a coverage interval there."""
        age = at - origins
        steps = np.arange(1, self.horizon + 1)
        known = (origins[:, None] + steps <= at) & (age[:, None] <= AGE_LIMIT)  # (n, H)
        weight = np.broadcast_to((0.5 ** (age / HALF_LIFE))[:, None], known.shape)[known]
        out = np.full(scores.shape[2], NormalDist().inv_cdf(0.5 + coverage / 2))
        if not weight.size:
            return out
        for j in range(scores.shape[2]):
            s = scores[:, :, j][known]
            order = np.argsort(s, kind="stable")
            cumulative = np.cumsum(weight[order]) / (weight.sum() + 1.0)  # the forecast's own score weighs 1
            out[j] = s[order[min(int(np.searchsorted(cumulative, coverage)), len(s) - 1)]]
        return out

    def _intervals(
        self,
        values: np.ndarray,
        covariates: np.ndarray | None,
        origins: np.ndarray,
        coverage: float,
        continues: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(forecast, lower, upper), each (B, H, k): the forecasts from each origin of values and their
        `coverage` intervals, calibrated on the fit's scores and, when values `continues` the fitted
        series, on those of the forecasts from its origins past the fitted series known by then."""
        histories = [self._cut(values, covariates, int(o)) for o in origins]
        levels, spread, paths = self._forecast(histories, samples=self.num_samples)
        scores, score_origins = self.scores_, self.score_origins_
        fitted = self.fitted_length_
        if continues and origins.max() > fitted:
            new = np.arange(max(fitted, int(origins.min()) - AGE_LIMIT), int(origins.max()))
            scores = np.concatenate([scores, self._scores(values, covariates, new)])
            score_origins = np.concatenate([score_origins, new])
        q = np.stack([self._quantiles(scores, score_origins, max(int(o), fitted), coverage) for o in origins])
        half = q[:, None, :] * self._spread(spread, paths)
        return levels, levels - half, levels + half

    def _continues(self, values: np.ndarray) -> bool:
        """Whether values holds the fitted series' last values where the fitted series had them."""
        fitted, keep = self.fitted_length_, len(self.tail_)
        return len(values) > fitted and np.array_equal(values[fitted - keep : fitted], self.tail_)

    def _cut(
        self, values: np.ndarray, covariates: np.ndarray | None, origin: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The history before `origin` (and its covariates up to origin + horizon)."""
        start = max(0, origin - self.window_ - self.drop_)
        c = None if covariates is None else covariates[start : origin + self.horizon]
        return values[start:origin], c

    def _result(self, a: np.ndarray, table: _Table | None, name: str | None = None) -> Any:
        """(horizon, k) in kind: numpy (horizon,) or (horizon, k), or pandas with the index continued."""
        kind = self.kind_ if table is None else table.kind
        one = self.one_column_ if table is None else table.one_column
        if kind == "numpy":
            return a[:, 0] if one else a
        info = self.index_ if table is None else table.index
        assert info is not None
        pd = _pandas_needed()
        index = _future_index(info, self.horizon)
        names = self.names_ if table is None else table.names
        if one:
            label = names[0] if names and name is None else name
            return pd.Series(a[:, 0], index=index, name=label)
        columns = names if name is None else [f"{n}_{name}" for n in names or []]
        return pd.DataFrame(a, index=index, columns=columns)

    def predict(self, y: Any = None, X_future: Any = None, *, X: Any = None) -> Any:
        """The next `horizon` values after the end of y (default: the fitted series), without refitting:
        (horizon,) or (horizon, k), or a pandas Series / DataFrame indexed where y's index continues.
        X: y's covariates and X_future those of the times forecast, when fitted with covariates."""
        values, covariates, table = self._history(y, X, X_future)
        levels, _, _ = self._forecast([(values, covariates)])
        return self._result(levels[0], table)

    def predict_interval(
        self, y: Any = None, X_future: Any = None, coverage: float = 0.8, *, X: Any = None
    ) -> tuple[Any, Any]:
        """(lower, upper): the bounds that the next values fall between with probability `coverage`,
        shaped like predict's result. Needs likelihood="gaussian". When y continues the fitted series,
        the forecasts from its origins past the fitted series calibrate the widths too (module docstring)."""
        if self.likelihood is None:
            raise ValueError("predict_interval needs a Forecaster(likelihood='gaussian'); this one has likelihood None")
        coverage = check.real("coverage", coverage, 0.0)
        if not 0 < coverage < 1:
            raise ValueError(f"coverage is {coverage}; expected a probability in (0, 1), such as 0.8")
        values, covariates, table = self._history(y, X, X_future)
        continues = y is not None and self._continues(values)
        _, lower, upper = self._intervals(values, covariates, np.array([len(values)]), coverage, continues)
        return self._result(lower[0], table, "lower"), self._result(upper[0], table, "upper")

    # --------------------------------------------------------------------------------- backtest

    def backtest(
        self, y: Any, X: Any = None, *, start: int | None = None, stride: int = 1, coverage: float = 0.8
    ) -> Backtest:
        """Forecasts from every origin start, start + stride, ... (how many values of y each sees) up to
        len(y) - horizon, without refitting, scored against what followed. start defaults to the length
        of the fitted series (y then holds it and what came after). The intervals are predict_interval's
        from y[:origin]: those past the fitted series calibrated on the outcomes known by then too."""
        self._needs_fit()
        values = _table("y", y, self.fill).values
        if values.shape[1] != self.targets_:
            raise ValueError(f"y has {values.shape[1]} columns; expected {self.targets_}, as in fit")
        covariates = None
        if self.covariates_:
            if X is None:
                raise ValueError(f"X is None but the Forecaster was fitted with {self.covariates_} covariates")
            covariates = self._covariates("X", X, len(values))
        elif X is not None:
            raise ValueError("X is given but the Forecaster was fitted without covariates; leave X out")
        N = len(values)
        start = self.fitted_length_ if start is None else check.integer("start", start, 1)
        stride = check.integer("stride", stride, 1)
        lowest = max(self.window_ + self.drop_, self.season_)
        if start < lowest or start > N - self.horizon:
            raise ValueError(
                f"start is {start}; expected an origin in [{lowest}, {N - self.horizon}] (at least window + "
                f"{self.drop_} and the "
                f"season of history before it, and horizon {self.horizon} values after it in y's {N})"
            )
        origins = np.arange(start, N - self.horizon + 1, stride)
        lower = upper = None
        if self.likelihood:
            levels, lower, upper = self._intervals(values, covariates, origins, coverage, self._continues(values))
        else:
            levels, _, _ = self._forecast([self._cut(values, covariates, int(o)) for o in origins])
        H, m = self.horizon, self.season_
        actual = np.stack([values[o : o + H] for o in origins])
        naive = np.stack([values[o - m + (np.arange(H) % m)] for o in origins])
        persistence = np.stack([np.repeat(values[o - 1 : o], H, axis=0) for o in origins])
        return Backtest(origins, levels, actual, naive, persistence, lower, upper, coverage, m, self.scale_)

    # ------------------------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike[str]) -> None:
        """One elman model file (safetensors): the network, and under metadata key "forecaster" every
        setting, scaler and the tail of the fitted series, so that load(path).predict() needs nothing else."""
        model = self._needs_fit()
        state = {
            "format": FORMAT,
            "settings": self._settings(),
            "season": self.season_,
            "window": self.window_,
            "targets": self.targets_,
            "covariates": self.covariates_,
            "lags": self.lags_.tolist(),
            "z_scaler": self.z_scaler_.to_dict(),
            "x_scaler": None if self.x_scaler_ is None else self.x_scaler_.to_dict(),
            "scale": self.scale_.tolist(),
            "scores": self.scores_.tolist(),
            "score_origins": self.score_origins_.tolist(),
            "kind": self.kind_,
            "one_column": self.one_column_,
            "names": self.names_,
            "index": self.index_,
            "fitted_length": self.fitted_length_,
            "tail": self.tail_.tolist(),
            "tail_covariates": None if self.tail_covariates_ is None else self.tail_covariates_.tolist(),
        }
        model.save(path, metadata={METADATA_KEY: json.dumps(state)})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Forecaster:
        """The Forecaster `save` wrote, ready to predict (a file damaged or not written by save raises)."""
        model = load(path)
        text = model.metadata.get(METADATA_KEY)
        if text is None:
            raise ValueError(
                f"{os.fspath(path)!r} is an elman model file without a forecaster; expected one "
                "written by Forecaster.save"
            )
        try:
            state = json.loads(text)
            if state["format"] > FORMAT:
                raise ValueError(f"forecaster format {state['format']} is newer than this elman's ({FORMAT})")
            f = cls(**state["settings"])
            f.season_, f.window_ = int(state["season"]), int(state["window"])
            f.targets_, f.covariates_ = int(state["targets"]), int(state["covariates"])
            f.lags_ = np.array(state["lags"], dtype=np.int64)
            f.drop_ = max(1, int(f.lags_.max()))
            f.z_scaler_ = Normalizer.from_dict(state["z_scaler"])
            f.x_scaler_ = None if state["x_scaler"] is None else Normalizer.from_dict(state["x_scaler"])
            f.scale_ = np.array(state["scale"], dtype=np.float64)
            f.scores_ = np.array(state["scores"], dtype=np.float64).reshape(-1, f.horizon, f.targets_)
            f.score_origins_ = np.array(state["score_origins"], dtype=np.int64)
            f.kind_, f.one_column_, f.names_ = state["kind"], bool(state["one_column"]), state["names"]
            f.index_, f.fitted_length_ = state["index"], int(state["fitted_length"])
            f.tail_ = np.array(state["tail"], dtype=np.float64).reshape(-1, f.targets_)
            tc = state["tail_covariates"]
            f.tail_covariates_ = None if tc is None else np.array(tc, dtype=np.float64).reshape(-1, f.covariates_)
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as e:
            raise ValueError(f"{os.fspath(path)!r} holds a damaged forecaster ({type(e).__name__}: {e})") from None
        expected_out = (f.horizon if f.strategy == "direct" else 1) * f.targets_ * (2 if f.likelihood else 1)
        if model.output_size != expected_out or f.lags_.shape != (f.targets_,):
            raise ValueError(f"{os.fspath(path)!r} holds a forecaster that does not fit its network")
        f.model = model
        return f


def _naive_scale(values: np.ndarray, season: int) -> np.ndarray:
    """MASE's denominator per column: the mean absolute change over one season of the fitted series."""
    lag = season if len(values) > season else 1
    scale = np.abs(values[lag:] - values[:-lag]).mean(axis=0)
    return np.where(scale > 0, scale, 1.0)
