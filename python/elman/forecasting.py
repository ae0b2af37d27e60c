"""One-step-ahead forecast scoring: a model trained on normalized windows forecasts each value of a
series' test part from the values before it, next to naive baselines, scored by RMSE."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import _validate as check
from .data import Normalizer
from .model import RNN


@dataclass(frozen=True)
class OneStepForecast:
    """Forecasts of series[start:], each from the values before it, in the series' own units.

    actual, forecast, persistence: (N - start,) for a series (N,), else (N - start, F);
    persistence is the naive forecast "the next value equals the last one".
    """

    start: int
    actual: np.ndarray
    forecast: np.ndarray
    persistence: np.ndarray

    @property
    def rmse(self) -> float:
        """The root-mean-squared error of the model's forecasts."""
        return rmse(self.forecast, self.actual)

    @property
    def persistence_rmse(self) -> float:
        """The root-mean-squared error of the persistence baseline."""
        return rmse(self.persistence, self.actual)


def one_step_forecast(model: RNN, series: npt.ArrayLike, normalizer: Normalizer, start: int) -> OneStepForecast:
    """Runs `model` over the whole normalized `series` (N,) or (N, F), the state carried from its first
    value, and takes its prediction of each value t >= start from the values before t.

    The model maps normalized values to the next one (input_size == output_size == F), as trained on
    data.TimeSeries windows; `normalizer` (such as TimeSeries.normalizer) is the training part's.
    """
    if not isinstance(model, RNN):
        raise TypeError(f"model is of type {type(model).__name__}; expected an elman.RNN")
    if not isinstance(normalizer, Normalizer):
        raise TypeError(f"normalizer is of type {type(normalizer).__name__}; expected an elman.data.Normalizer")
    values = check.array("series", series)
    if values.ndim not in (1, 2):
        raise ValueError(f"series has shape {check.shape_str(values.shape)}; expected (N,) or (N, F)")
    columns = values.reshape(values.shape[0], -1)
    features = columns.shape[1]
    if model.input_size != features or model.output_size != features:
        raise ValueError(
            f"series has {features} features but the model has input_size {model.input_size} and output_size "
            f"{model.output_size}; expected both {features}"
        )
    start = check.integer("start", start, 1)
    if start >= values.shape[0]:
        raise ValueError(f"start is {start}; expected less than the series' {values.shape[0]} values")
    y, _ = model.forward(normalizer.transform(columns)[:-1])  # y[t] predicts value t + 1
    forecast = normalizer.inverse_transform(y[start - 1 :])
    if values.ndim == 1:
        forecast = forecast[:, 0]
    return OneStepForecast(start, values[start:], forecast, naive_forecast(values, start))


def naive_forecast(series: npt.ArrayLike, start: int, lag: int = 1) -> np.ndarray:
    """series[t - lag] as the forecast of each value t >= start: persistence for lag 1, the same day
    last week for daily values and lag 7."""
    values = check.array("series", series)
    lag = check.integer("lag", lag, 1)
    start = check.integer("start", start, lag)
    if values.ndim == 0 or start >= values.shape[0]:
        raise ValueError(f"series has shape {check.shape_str(values.shape)}; expected more than start = {start} values")
    return values[start - lag : values.shape[0] - lag]


def rmse(forecast: npt.ArrayLike, actual: npt.ArrayLike) -> float:
    """sqrt(mean((forecast - actual) ** 2)) over every value."""
    f, a = check.array("forecast", forecast), check.array("actual", actual)
    if f.shape != a.shape or f.size == 0:
        raise ValueError(
            f"forecast has shape {check.shape_str(f.shape)} and actual {check.shape_str(a.shape)}; "
            "expected the same non-empty shape"
        )
    return float(np.sqrt(np.mean((f.astype(np.float64) - a) ** 2)))
