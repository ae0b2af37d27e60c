"""elman.Forecaster: shapes and kinds in and out, trends, covariates, intervals, backtests, files, bad input.

Small networks and few steps keep each fit well under a second."""

from statistics import NormalDist

import numpy as np
import pytest

import elman
from elman.forecaster import HALF_LIFE, Forecaster

pd = pytest.importorskip("pandas")

FAST = {"steps": 150, "hidden_size": 12, "seed": 0}


def seasonal(n=200, seed=0, trend=0.0, noise=0.3):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10 + trend * t + 2 * np.sin(2 * np.pi * t / 12) + noise * rng.normal(size=n)


# ------------------------------------------------------------------------------------------ kinds


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_numpy_in_numpy_out(strategy):
    y = seasonal()
    f = Forecaster(6, strategy=strategy, **FAST).fit(y)
    out = f.predict()
    assert isinstance(out, np.ndarray) and out.shape == (6,)
    two = np.stack([y, 2 * y + 1], axis=1)
    out2 = Forecaster(6, strategy=strategy, **FAST).fit(two).predict()
    assert out2.shape == (6, 2)


def test_pandas_datetime_index_continues():
    index = pd.date_range("2001-01-01", periods=120, freq="MS")
    y = pd.Series(seasonal(120), index=index, name="sales")
    f = Forecaster(5, **FAST).fit(y)
    out = f.predict()
    assert isinstance(out, pd.Series) and out.name == "sales"
    assert list(out.index) == list(pd.date_range("2011-01-01", periods=5, freq="MS"))
    assert f.season_ == 12  # from the monthly frequency
    lower, upper = Forecaster(5, likelihood="gaussian", **FAST).fit(y).predict_interval(coverage=0.8)
    assert list(lower.index) == list(out.index) and (lower.to_numpy() < upper.to_numpy()).all()


def test_pandas_range_index_and_frame():
    frame = pd.DataFrame({"a": seasonal(150), "b": seasonal(150, seed=1)}, index=pd.RangeIndex(10, 160))
    out = Forecaster(4, **FAST).fit(frame).predict()
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["a", "b"]
    assert list(out.index) == [160, 161, 162, 163]
    by_twos = pd.Series(seasonal(100), index=pd.RangeIndex(0, 200, 2))
    assert list(Forecaster(3, **FAST).fit(by_twos).predict().index) == [200, 202, 204]


def test_index_without_frequency_says_so_and_still_forecasts():
    dates = pd.to_datetime(["2020-01-01", "2020-01-03", "2020-01-04"] + [f"2020-02-{d:02d}" for d in range(1, 28)])
    dates = dates.append(pd.date_range("2020-03-01", periods=70, freq="D"))
    y = pd.Series(seasonal(len(dates)), index=dates)
    with pytest.warns(UserWarning, match="no frequency pandas can infer"):
        f = Forecaster(3, **FAST).fit(y)
    out = f.predict()
    assert np.isfinite(out.to_numpy()).all() and list(out.index) == [len(y), len(y) + 1, len(y) + 2]


# ------------------------------------------------------------------------------------ numerics


def test_recursive_forecast_equals_a_plain_loop():
    """The recursive forecast of a differenced series, re-derived by a loop over m.forward: scale the
    changes, run the window, append the prediction, run the window and what was appended again; undo
    the scaling and the differencing."""
    y = seasonal(150, trend=0.2)
    f = Forecaster(5, strategy="recursive", difference=True, window=20, **FAST).fit(y)
    assert list(f.lags_) == [1]
    mean, std = f.z_scaler_.mean, f.z_scaler_.std
    u = list((np.diff(y) - mean) / std)
    level, expected, first = y[-1], [], len(u) - 20
    for _ in range(5):
        out, _ = f.model.forward(np.array(u[first:])[:, None, None])
        u.append(float(out[-1, 0, 0]))
        level += u[-1] * std[0] + mean[0]
        expected.append(level)
    np.testing.assert_allclose(f.predict(), expected, rtol=1e-5)


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_trend_extrapolates(strategy):
    """A trending series is forecast past its range; a model of levels could not leave it."""
    y = seasonal(240, trend=0.5, noise=0.2)
    f = Forecaster(12, strategy=strategy, steps=300, hidden_size=16, seed=0).fit(y[:200])
    assert f.lags_[0] in (1, 12)
    forecast = f.predict()
    assert forecast.max() > y[:200].max() + 2
    assert np.sqrt(np.mean((forecast - y[200:212]) ** 2)) < 1.5


def test_deterministic_for_a_seed():
    y = seasonal()
    a = Forecaster(4, likelihood="gaussian", strategy="recursive", **FAST).fit(y)
    b = Forecaster(4, likelihood="gaussian", strategy="recursive", **FAST).fit(y)
    np.testing.assert_array_equal(a.predict(), b.predict())
    np.testing.assert_array_equal(a.predict_interval()[0], b.predict_interval()[0])
    c = Forecaster(4, likelihood="gaussian", strategy="recursive", **{**FAST, "seed": 1}).fit(y)
    assert not np.array_equal(a.predict(), c.predict())


def test_predict_from_another_history_without_refitting():
    y = seasonal(200)
    f = Forecaster(6, **FAST).fit(y[:150])
    weights = f.model.params.flat.copy()
    np.testing.assert_array_equal(f.predict(y[:150]), f.predict())
    later = f.predict(y)
    assert later.shape == (6,) and not np.allclose(later, f.predict())
    np.testing.assert_array_equal(f.model.params.flat, weights)


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_covariates_known_in_advance_are_used(strategy):
    rng = np.random.default_rng(3)
    n = 400
    X = rng.normal(size=(n, 1))
    y = 5 + 3 * X[:, 0] + 0.1 * rng.normal(size=n)
    f = Forecaster(4, strategy=strategy, steps=300, hidden_size=16, seed=0).fit(y[:300], X[:300])
    right = [f.predict(y[:o], X_future=X[o : o + 4], X=X[:o]) - y[o : o + 4] for o in range(300, 390, 5)]
    wrong = [f.predict(y[:o], X_future=-X[o : o + 4], X=X[:o]) - y[o : o + 4] for o in range(300, 390, 5)]
    assert np.sqrt(np.mean(np.square(right))) < 0.5 * np.sqrt(np.mean(np.square(wrong)))
    with pytest.raises(ValueError, match="X_future is None; expected the 1 covariates of the 4 times"):
        f.predict()
    with pytest.raises(ValueError, match=r"X_future has shape \(2, 1\); expected \(4, 1\)"):
        f.predict(X_future=X[:2])


# ------------------------------------------------------------------------------------ intervals


def test_intervals_cover_about_their_coverage():
    """80% intervals of a noisy seasonal series cover between 65% and 95% of held-out values."""
    y = seasonal(700, noise=1.0, seed=5)
    for strategy in ("direct", "recursive"):
        f = Forecaster(6, likelihood="gaussian", strategy=strategy, steps=300, hidden_size=16, seed=0).fit(y[:500])
        bt = f.backtest(y, start=500, stride=2)
        inside = (bt.actual >= bt.lower) & (bt.actual <= bt.upper)
        assert 0.65 <= inside.mean() <= 0.95, (strategy, inside.mean())
        lo95, hi95 = f.predict_interval(coverage=0.95)
        lo50, hi50 = f.predict_interval(coverage=0.5)
        assert (hi95 - lo95 > hi50 - lo50).all()


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_intervals_follow_the_held_out_tail(strategy):
    """Noise three times larger from t = 380 on: a network fitted on t < 400 learns the small noise, and
    the widths fitted on the held-out tail (t >= 400) widen its intervals to cover about 80% after t = 500."""
    rng = np.random.default_rng(5)
    t = np.arange(700)
    y = 10 + 2 * np.sin(2 * np.pi * t / 12) + np.where(t < 380, 0.4, 1.2) * rng.normal(size=t.size)
    f = Forecaster(6, likelihood="gaussian", strategy=strategy, steps=300, hidden_size=16, seed=0).fit(y[:500])
    bt = f.backtest(y, start=500, stride=2)
    inside = (bt.actual >= bt.lower) & (bt.actual <= bt.upper)
    assert 0.6 <= inside.mean() <= 0.95, inside.mean()


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_intervals_match_known_quantiles_when_the_noise_doubles(strategy):
    """y is a season plus N(0, sd^2) noise, sd 0.5 in the fitted series and 1.0 after it: the best 80%
    interval is the season -/+ 1.28 sd. The network only saw sd 0.5; its forecasts past the fitted
    series, scored as their outcomes arrive, must widen the intervals to the new known quantiles. Within
    a factor 1.2 (the mean's own error adds about 5%), so intervals 1.3x too wide, or not widened, fail."""
    rng = np.random.default_rng(3)
    t = np.arange(900)
    sd = np.where(t < 600, 0.5, 1.0)
    y = 10 + 2 * np.sin(2 * np.pi * t / 12) + sd * rng.normal(size=t.size)
    f = Forecaster(6, likelihood="gaussian", strategy=strategy, difference=False, steps=300, hidden_size=16, seed=0)
    f.fit(y[:600])
    z = NormalDist().inv_cdf(0.9)
    lower, upper = f.predict_interval()
    assert 1 / 1.2 < np.exp(np.log((upper - lower) / 2 / (z * 0.5)).mean()) < 1.2
    bt = f.backtest(y, start=600)
    later = bt.origins >= 600 + 6 * HALF_LIFE  # older scores weigh under 2%
    half = ((bt.upper - bt.lower) / 2)[later, :, 0]
    known = z * np.stack([sd[o : o + 6] for o in bt.origins[later]])
    assert 1 / 1.2 < np.exp(np.log(half / known).mean()) < 1.2
    inside = (bt.actual >= bt.lower) & (bt.actual <= bt.upper)
    assert 0.72 <= inside[later].mean() <= 0.88
    if strategy == "direct":  # a backtest's interval is predict_interval's from the history before its origin
        i = int(np.argmax(bt.origins == 700))
        lower, upper = f.predict_interval(y[:700])
        np.testing.assert_allclose(bt.lower[i, :, 0], lower)
        np.testing.assert_allclose(bt.upper[i, :, 0], upper)


def test_conformal_quantile_is_the_weighted_one():
    """The spread's multiple against a plain loop over the scores sorted, each weighing 2^(-age /
    HALF_LIFE), the forecast's own unknown score weighing 1 (Barber et al. 2023)."""
    f = Forecaster(3, likelihood="gaussian", **FAST).fit(seasonal(200, noise=1.0))
    scores, origins = f.scores_, f.score_origins_
    assert scores.shape == (len(origins), 3, 1) and np.isfinite(scores).all()
    for at, coverage in ((200, 0.8), (200, 0.5), (230, 0.9)):
        pairs = sorted(
            (scores[i, h, 0], 0.5 ** ((at - o) / HALF_LIFE)) for i, o in enumerate(origins) for h in range(3)
        )
        total = sum(w for _, w in pairs) + 1.0
        running, expected = 0.0, pairs[-1][0]
        for score, w in pairs:
            running += w
            if running / total >= coverage:
                expected = score
                break
        np.testing.assert_allclose(f._quantiles(scores, origins, at, coverage), [expected])
    unscored = Forecaster(3, likelihood="gaussian", validation=0.0, **FAST).fit(seasonal(200, noise=1.0))
    assert len(unscored.scores_) == 0  # nothing held out: the Gaussian's own quantile
    q = unscored._quantiles(unscored.scores_, unscored.score_origins_, 200, 0.8)
    np.testing.assert_allclose(q, [NormalDist().inv_cdf(0.9)])


def test_predict_interval_needs_gaussian():
    f = Forecaster(3, **FAST).fit(seasonal())
    with pytest.raises(ValueError, match="likelihood='gaussian'"):
        f.predict_interval()
    g = Forecaster(3, likelihood="gaussian", **FAST).fit(seasonal())
    with pytest.raises(ValueError, match="coverage is 1.5; expected a probability in"):
        g.predict_interval(coverage=1.5)


# ------------------------------------------------------------------------------------- backtest


def test_backtest_errors_and_baselines():
    y = seasonal(200)
    f = Forecaster(3, **FAST).fit(y[:150])
    bt = f.backtest(y)
    assert list(bt.origins) == list(range(150, 198))
    o = 160
    i = list(bt.origins).index(o)
    np.testing.assert_array_equal(bt.actual[i, :, 0], y[o : o + 3])
    np.testing.assert_array_equal(bt.seasonal_naive[i, :, 0], y[o - 12 : o - 9])
    np.testing.assert_array_equal(bt.persistence[i, :, 0], [y[o - 1]] * 3)
    np.testing.assert_allclose(bt.forecast[i, :, 0], f.predict(y[:o]))
    frame = bt.frame
    assert list(frame.index) == ["1", "2", "3", "all"]
    e = np.abs(bt.persistence - bt.actual)
    np.testing.assert_allclose(frame.loc["2", "persistence_mae"], e[:, 1].mean())
    scale = np.abs(y[12:150] - y[:138]).mean()
    np.testing.assert_allclose(frame.loc["all", "persistence_mase"], e.mean() / scale)
    assert "elman_rmse" in bt.table() and len(bt.table().splitlines()) == 5
    with pytest.raises(ValueError, match=r"start is 3; expected an origin in \["):
        f.backtest(y, start=3)


# ---------------------------------------------------------------------------------------- files


def test_save_and_load_give_the_same_forecasts(tmp_path):
    index = pd.date_range("2001-01-01", periods=120, freq="MS")
    X = pd.DataFrame(
        {"x": np.random.default_rng(0).normal(size=130)}, index=pd.date_range("2001-01-01", periods=130, freq="MS")
    )
    y = pd.Series(seasonal(120), index=index, name="v")
    f = Forecaster(4, likelihood="gaussian", strategy="recursive", **FAST).fit(y, X.iloc[:120])
    path = tmp_path / "f.safetensors"
    f.save(path)
    g = Forecaster.load(path)
    future = X.iloc[120:124]
    pd.testing.assert_series_equal(g.predict(X_future=future), f.predict(X_future=future))
    for a, b in zip(g.predict_interval(X_future=future), f.predict_interval(X_future=future)):
        pd.testing.assert_series_equal(a, b)
    assert elman.load(path).metadata["forecaster"]  # an ordinary elman model file
    elman.RNN(1, 2, 1, seed=0).save(tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match="without a forecaster"):
        Forecaster.load(tmp_path / "plain.safetensors")


# ------------------------------------------------------------------------------------ bad input


def test_bad_input_is_named():
    y = seasonal(100)
    with pytest.raises(ValueError, match="horizon is 0; expected an integer >= 1"):
        Forecaster(0)
    holed = y.copy()
    holed[40] = np.nan
    with pytest.raises(ValueError, match=r"y holds 1 missing or non-finite values \(the first in row 40\).*fill="):
        Forecaster(3, **FAST).fit(holed)
    filled = Forecaster(3, fill="interpolate", **FAST).fit(holed)
    np.testing.assert_allclose(filled.tail_[-1], y[-1])
    X = np.ones((100, 1))
    X[5] = np.inf
    with pytest.raises(ValueError, match="X holds 1 missing or non-finite"):
        Forecaster(3, **FAST).fit(y, X)
    with pytest.raises(ValueError, match=r"y has 20 values; expected at least window \+ horizon \+ 1 = 29"):
        Forecaster(3, window=25, **FAST).fit(y[:20])
    with pytest.raises(TypeError, match="y column 'name' has dtype"):
        Forecaster(3, **FAST).fit(pd.DataFrame({"v": y, "name": ["a"] * 100}))
    with pytest.raises(TypeError, match="y has dtype <U1; expected real numbers"):
        Forecaster(3, **FAST).fit(np.array(["a"] * 50))
    with pytest.raises(ValueError, match="X has 99 rows; expected 100"):
        Forecaster(3, **FAST).fit(y, np.ones((99, 1)))
    with pytest.raises(ValueError, match="strategy is 'both'"):
        Forecaster(3, strategy="both")
    with pytest.raises(ValueError, match="not fitted"):
        Forecaster(3).predict()
