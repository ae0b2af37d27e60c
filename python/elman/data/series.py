"""Time series: `Normalizer`, `read_csv_column`, `windows` and `TimeSeries`, next-step prediction
windows x (W, K, F) and target (W, K, F) for loss "mse"."""

from __future__ import annotations

import csv
import math
import os
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from .. import _validate as check
from ._shared import existing, reals, split_tail


class Normalizer:
    """Per-column standardization, (a - mean) / std, with statistics from the training part only.

    Fitted on (N, F) it transforms any (..., F), such as model outputs (T, B, F); fitted on (N,) it
    has one mean and std for every value. A constant column has std 1 (so it maps to 0).
    """

    def __init__(self) -> None:
        """An unfitted normalizer: call fit(train) or use from_dict(d)."""
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, train: npt.ArrayLike) -> Normalizer:
        """Takes the mean and std of each column of `train` (N,) or (N, F); returns self."""
        train = reals("train", train)
        if train.ndim not in (1, 2) or train.shape[0] == 0:
            raise ValueError(f"train has shape {check.shape_str(train.shape)}; expected (N,) or (N, F) with N >= 1")
        self.mean = train.mean(axis=0, dtype=np.float64)
        std = train.std(axis=0, dtype=np.float64)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def transform(self, a: npt.ArrayLike) -> np.ndarray:
        """(a - mean) / std, for any (..., F) like the fitted data."""
        return (self._columns("a", a) - self.mean) / self.std

    def inverse_transform(self, a: npt.ArrayLike) -> np.ndarray:
        """a * std + mean: normalized values (such as model outputs (T, B, F)) back in the data's units."""
        return self._columns("a", a) * self.std + self.mean

    def _columns(self, name: str, a: npt.ArrayLike) -> np.ndarray:
        if self.mean is None:
            raise ValueError("the Normalizer is not fitted; call fit(train) or from_dict(d) first")
        a = reals(name, a)
        if a.ndim < self.mean.ndim or a.shape[a.ndim - self.mean.ndim :] != self.mean.shape:
            raise ValueError(
                f"{name} has shape {check.shape_str(a.shape)}; expected (..., {self.mean.size}) like the fitted data"
            )
        return a

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable statistics; from_dict restores them exactly."""
        if self.mean is None:
            raise ValueError("the Normalizer is not fitted; call fit(train) first")
        assert self.std is not None  # fitted together with mean
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalizer:
        """The fitted normalizer `to_dict` described."""
        if not isinstance(d, dict) or set(d) != {"mean", "std"}:
            raise ValueError(f"d is {d!r}; expected a dict from Normalizer.to_dict()")
        mean = reals("d['mean']", d["mean"]).astype(np.float64)
        std = reals("d['std']", d["std"]).astype(np.float64)
        if mean.ndim > 1 or mean.shape != std.shape or (std <= 0).any():
            raise ValueError(f"d is {d!r}; expected equal-length 'mean' and 'std' with std > 0")
        normalizer = cls()
        normalizer.mean, normalizer.std = mean, std
        return normalizer


def read_csv_column(path: str | os.PathLike[str], column: str) -> np.ndarray:
    """The values (N,) float64 of the column named `column` of a CSV file with a header row."""
    if not isinstance(column, str):
        raise TypeError(f"column is {column!r} ({type(column).__name__}); expected a column name (str)")
    path = existing("path", path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"path {path!r} is empty; expected a CSV file with a header row")
        if column not in header:
            raise ValueError(f"column is {column!r}, which {path!r} does not have; expected one of {header}")
        index = header.index(column)
        values: list[float] = []
        for row in reader:
            if not row:
                continue
            cell = row[index] if index < len(row) else ""
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise ValueError(
                    f"{path!r} row {len(values) + 1} (line {reader.line_num}), column {column!r}, holds {cell!r}; "
                    "expected a finite number"
                )
            values.append(value)
    if len(values) < 2:
        raise ValueError(f"{path!r} has {len(values)} rows of data; expected at least 2")
    return np.array(values)


def windows(series: npt.ArrayLike, window: int, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Next-step prediction windows: x (W, K, F) and target (W, K, F), with target[t, k] = series[k*stride + t + 1].

    series: (N,) or (N, F) (one feature for (N,)); W = window; window k starts at k*stride, and
    K = (N - 1 - W) // stride + 1. Both are contiguous float arrays, ready for the model.
    """
    return _windows("series", series, window, stride)


class TimeSeries:
    """A series split into training and validation parts (the tail), normalized with the training part's
    statistics.

    series: (N,) or (N, F). `train` (N_train, F) and `val` (N_val, F) are the normalized parts;
    `normalizer` undoes it (for forecasts) and can be stored with to_dict().
    """

    def __init__(self, series: npt.ArrayLike, val_fraction: float = 0.2) -> None:
        series = reals("series", series)
        if series.ndim not in (1, 2):
            raise ValueError(f"series has shape {check.shape_str(series.shape)}; expected (N,) or (N, F)")
        train, val = split_tail("series", series.reshape(series.shape[0], -1), val_fraction)
        self.normalizer = Normalizer().fit(train)
        self.train = self.normalizer.transform(train)
        self.val = self.normalizer.transform(val)

    def train_windows(self, window: int, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """`windows` of the normalized training part: x (W, K, F), target (W, K, F)."""
        return _windows("the training part", self.train, window, stride)

    def val_windows(self, window: int, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """`windows` of the normalized validation part: x (W, K, F), target (W, K, F)."""
        return _windows("the validation part", self.val, window, stride)


def _windows(name: str, series: npt.ArrayLike, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    series = reals(name, series)
    window = check.integer("window", window, 1)
    stride = check.integer("stride", stride, 1)
    if series.ndim not in (1, 2):
        raise ValueError(f"{name} has shape {check.shape_str(series.shape)}; expected (N,) or (N, F)")
    if series.shape[0] < window + 1:
        raise ValueError(f"{name} has {series.shape[0]} steps; expected at least window + 1 = {window + 1}")
    if series.dtype.kind != "f":
        series = series.astype(np.float64)
    columns = series.reshape(series.shape[0], -1)
    spans = sliding_window_view(columns, window + 1, axis=0)[::stride]  # (K, F, W + 1), a view
    spans = spans.transpose(2, 0, 1)  # (W + 1, K, F)
    return np.ascontiguousarray(spans[:-1]), np.ascontiguousarray(spans[1:])
