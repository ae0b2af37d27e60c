"""elman.Forecaster against seasonal naive, statsmodels' ETS and SARIMA, on generated and real series.

    python benchmarks/forecast.py [--series NAME ...] [--seed S]

Every series is split into a training part and a test tail (the last 20%, at least two horizons).
elman fits once on the training part with its defaults (only the horizon, and likelihood="gaussian"
for the intervals) and forecasts from every test origin without refitting; ETS (additive damped
trend, additive season) and SARIMA ((1,1,1)x(0,1,1,m), or (2,0,1) with a constant for a yearly series
without trend) are refitted at every origin, as the benchmark's ambition asks. Scores: RMSE over
every origin and step; the geometric mean of elman's RMSE over the better statsmodels model's; the
share of held-out values inside elman's 80% intervals (at each origin calibrated on the forecasts
whose outcomes are known by then: forecaster.py's "Intervals"). Real series ship with statsmodels
(statsmodels.datasets): nothing is downloaded.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from statsmodels.datasets import co2, elec_equip, macrodata, sunspots
from statsmodels.tsa.holtwinters import ExponentialSmoothing
from statsmodels.tsa.statespace.sarimax import SARIMAX

import elman
from elman.forecaster import Forecaster

MAX_ORIGINS = 12  # statsmodels refits per series and model


def generated_trend_season(seed: int) -> tuple[pd.Series, None, int, int]:
    rng = np.random.default_rng(seed)
    t = np.arange(240)
    y = 50 + 0.3 * t + 8 * np.sin(2 * np.pi * t / 12) + 3 * np.cos(4 * np.pi * t / 12) + rng.normal(0, 1.5, t.size)
    return pd.Series(y, index=pd.date_range("2000-01-01", periods=t.size, freq="MS"), name="generated"), None, 12, 12


def generated_covariates(seed: int) -> tuple[pd.Series, pd.DataFrame, int, int]:
    """Daily values with a weekly season, a slow trend, and two covariates known in advance: a
    promotion flag that adds 6, and a temperature whose every degree adds 0.5."""
    rng = np.random.default_rng(seed + 1)
    t = np.arange(600)
    promo = (rng.random(t.size) < 0.15).astype(float)
    temperature = 15 + 8 * np.sin(2 * np.pi * t / 365) + rng.normal(0, 2, t.size)
    y = 20 + 0.01 * t + 3 * np.sin(2 * np.pi * t / 7) + 6 * promo + 0.5 * temperature + rng.normal(0, 1, t.size)
    index = pd.date_range("2020-01-01", periods=t.size, freq="D")
    X = pd.DataFrame({"promo": promo, "temperature": temperature}, index=index)
    return pd.Series(y, index=index, name="sales"), X, 7, 14


def real_co2(seed: int) -> tuple[pd.Series, None, int, int]:
    weekly = co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate()
    return monthly.rename("co2"), None, 12, 12


def real_elec_equip(seed: int) -> tuple[pd.Series, None, int, int]:
    y = elec_equip.load_pandas().data.iloc[:, 0]
    y.index.freq = "MS"
    return y.rename("elec_equip"), None, 12, 12


def real_sunspots(seed: int) -> tuple[pd.Series, None, int, int]:
    d = sunspots.load_pandas().data
    index = pd.PeriodIndex(d["YEAR"].astype(int).astype(str), freq="Y")
    return pd.Series(d["SUNACTIVITY"].to_numpy(), index=index, name="sunspots"), None, 1, 10


def real_gdp(seed: int) -> tuple[pd.Series, None, int, int]:
    d = macrodata.load_pandas().data
    index = pd.period_range("1959Q1", periods=len(d), freq="Q")
    return pd.Series(d["realgdp"].to_numpy(), index=index, name="realgdp"), None, 4, 8


SERIES = {
    "generated trend+season": generated_trend_season,
    "generated covariates": generated_covariates,
    "co2 (monthly)": real_co2,
    "elec_equip (monthly)": real_elec_equip,
    "sunspots (yearly)": real_sunspots,
    "realgdp (quarterly)": real_gdp,
}


def ets(history: np.ndarray, m: int, horizon: int) -> np.ndarray:
    seasonal = "add" if m > 1 else None
    model = ExponentialSmoothing(
        history, trend="add", damped_trend=True, seasonal=seasonal, seasonal_periods=m if m > 1 else None
    )
    return model.fit().forecast(horizon)


def sarima(history: np.ndarray, exog: np.ndarray | None, future: np.ndarray | None, m: int, horizon: int, trend: bool):
    """SARIMA's mean forecast and its own 80% interval, (horizon,) each."""
    if m > 1:
        model = SARIMAX(history, exog=exog, order=(1, 1, 1), seasonal_order=(0, 1, 1, m))
    elif trend:
        model = SARIMAX(history, exog=exog, order=(1, 1, 1), trend="t")
    else:
        model = SARIMAX(history, exog=exog, order=(2, 0, 1), trend="c")
    result = model.fit(disp=False).get_forecast(horizon, exog=future)
    return result.predicted_mean, result.conf_int(alpha=0.2)


def run(name: str, make, seed: int) -> dict:
    y, X, m, H = make(seed)
    N = len(y)
    n_test = max(int(round(0.2 * N)), 2 * H)
    n_train = N - n_test
    origins = np.arange(n_train, N - H + 1)
    origins = origins[np.linspace(0, len(origins) - 1, min(MAX_ORIGINS, len(origins))).round().astype(int)]
    values = y.to_numpy()
    exog = None if X is None else X.to_numpy()

    start = time.perf_counter()
    f = Forecaster(H, likelihood="gaussian", seed=seed)
    f.fit(y.iloc[:n_train], None if X is None else X.iloc[:n_train])
    fit_seconds = time.perf_counter() - start
    bt = f.backtest(y, X, start=n_train)
    chosen = np.isin(bt.origins, origins)
    elman_f, actual = bt.forecast[chosen, :, 0], bt.actual[chosen, :, 0]
    inside = (bt.actual >= bt.lower) & (bt.actual <= bt.upper)

    trend = name.startswith("realgdp")
    ets_f, sarima_f, sarima_bounds, naive_f = [], [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for o in origins:
            history = values[:o]
            ets_f.append(ets(history, m, H))
            past = None if exog is None else exog[:o]
            future = None if exog is None else exog[o : o + H]
            mean, bounds = sarima(history, past, future, m, H, trend)
            sarima_f.append(mean)
            sarima_bounds.append(bounds)
            naive_f.append(values[o - m + (np.arange(H) % m)])

    bounds = np.asarray(sarima_bounds)  # (origins, H, 2)

    def rmse(forecast) -> float:
        return float(np.sqrt(np.mean((np.asarray(forecast) - actual) ** 2)))

    return {
        "series": name,
        "N": N,
        "horizon": H,
        "season": m,
        "elman": rmse(elman_f),
        "seasonal naive": rmse(naive_f),
        "ETS": rmse(ets_f),
        "SARIMA": rmse(sarima_f),
        "coverage": float(inside.mean()),
        # both models' 80% intervals at the origins statsmodels is refitted at, for comparison
        "coverage_origins": float(inside[chosen].mean()),
        "sarima_coverage": float(np.mean((actual >= bounds[..., 0]) & (actual <= bounds[..., 1]))),
        "fit_s": fit_seconds,
        "strategy": f.strategy,
        "window": f.window_,
        "lag": int(f.lags_[0]),
        "steps": f.steps_,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--series", nargs="*", choices=list(SERIES), default=list(SERIES))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    elman.set_num_threads(1)
    rows = [run(name, SERIES[name], args.seed) for name in args.series]
    print(f"elman {elman.__version__}, Forecaster defaults (likelihood='gaussian'), seed {args.seed}\n")
    print(
        "| series | N | horizon | elman | seasonal naive | ETS | SARIMA | elman / best statsmodels | 80% coverage "
        "| the same at SARIMA's origins | SARIMA's 80% coverage |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    ratios = []
    for r in rows:
        best = min(r["ETS"], r["SARIMA"])
        ratios.append(r["elman"] / best)
        print(
            f"| {r['series']} | {r['N']} | {r['horizon']} | {r['elman']:.4g} | {r['seasonal naive']:.4g} | "
            f"{r['ETS']:.4g} | {r['SARIMA']:.4g} | {r['elman'] / best:.3f} | {r['coverage']:.1%} | "
            f"{r['coverage_origins']:.1%} | {r['sarima_coverage']:.1%} |"
        )
    print(f"\ngeometric mean of elman / best statsmodels RMSE: {np.exp(np.mean(np.log(ratios))):.3f}")
    beats = sum(r["elman"] < r["seasonal naive"] for r in rows)
    print(f"elman beats seasonal naive on {beats} of {len(rows)} series")
    print("coverage of the 80% intervals, each series: " + ", ".join(f"{r['coverage']:.1%}" for r in rows))
    for r in rows:
        print(
            f"  {r['series']}: strategy {r['strategy']}, window {r['window']}, lag {r['lag']}, "
            f"{r['steps']} steps, fit {r['fit_s']:.1f} s"
        )


if __name__ == "__main__":
    main()
