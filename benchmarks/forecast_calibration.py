"""How forecaster.HALF_LIFE was chosen: 80% coverage of elman's intervals on series the forecasting
benchmark does not score, for several half-lives.

    python benchmarks/forecast_calibration.py [--half-lives 4 6 8 10 12 16]

The series (61): benchmarks/forecast.py's generated ones with seeds 1-5 (it scores seed 0), a generated
trend+season whose noise is four times larger for 18 months somewhere in its second half (seeds
1-5), and its real ones cut where their scored test tail begins and at 85% of that (network seeds 0
and 1): each split as forecast.py splits a series (the last 20% is the test tail). Then shorter
horizons (1, 3, 6) on the generated series (seeds 1-3) and the cut co2 and sunspots (seeds 0, 1).
Each is fitted once with the defaults and backtested from every test origin, as forecast.py does;
the half-life only changes the intervals. Printed: per half-life, the mean distance of the coverage
from 80% and how many series fall outside 70-90%.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from forecast import generated_covariates, generated_trend_season, real_co2, real_elec_equip, real_gdp, real_sunspots

import elman
from elman import forecaster
from elman.forecaster import Forecaster


def volatile_year(seed: int) -> tuple[pd.Series, None, int, int]:
    """Monthly trend and season with noise sd 1.5, and 6.0 for 18 months starting between months 130 and 175."""
    rng = np.random.default_rng(100 + seed)
    t = np.arange(240)
    start = int(rng.integers(130, 175))
    sd = np.where((t >= start) & (t < start + 18), 6.0, 1.5)
    y = 50 + 0.3 * t + 8 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, t.size) * sd
    return pd.Series(y, index=pd.date_range("2000-01-01", periods=t.size, freq="MS")), None, 12, 12


def test_size(n: int, horizon: int) -> int:
    return max(int(round(0.2 * n)), 2 * horizon)  # as benchmarks/forecast.py splits


def cases():
    """(name, y, X, horizon, seed): every series, none reaching into a scored test tail."""
    for seed in range(1, 6):
        for make in (generated_trend_season, generated_covariates, volatile_year):
            y, X, _, H = make(seed)
            yield f"{make.__name__} seed {seed}", y, X, H, seed
    for make in (real_co2, real_elec_equip, real_sunspots, real_gdp):
        y, _, _, H = make(0)
        scored_start = len(y) - test_size(len(y), H)
        for share in (1.0, 0.85):
            for seed in (0, 1):
                cut = y.iloc[: round(scored_start * share)]
                yield f"{make.__name__} to {share:.0%} of its training part, seed {seed}", cut, None, H, seed
    for H in (1, 3, 6):
        for seed in (1, 2, 3):
            for make in (generated_trend_season, generated_covariates):
                y, X, _, _ = make(seed)
                yield f"{make.__name__} horizon {H} seed {seed}", y, X, H, seed
        for make, full_H in ((real_co2, 12), (real_sunspots, 10)):
            y, _, _, _ = make(0)
            scored_start = len(y) - test_size(len(y), full_H)
            for seed in (0, 1):
                yield f"{make.__name__} horizon {H} seed {seed}", y.iloc[:scored_start], None, H, seed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--half-lives", nargs="*", type=int, default=[4, 6, 8, 10, 12, 16])
    args = p.parse_args()
    elman.set_num_threads(1)
    chosen = forecaster.HALF_LIFE
    coverage: dict[int, list[float]] = {h: [] for h in args.half_lives}
    for name, y, X, H, seed in cases():
        n_train = len(y) - test_size(len(y), H)
        forecaster.AGE_LIMIT = 30 * max(args.half_lives)  # keep every score the longest half-life uses
        f = Forecaster(H, likelihood="gaussian", seed=seed)
        f.fit(y.iloc[:n_train], None if X is None else X.iloc[:n_train])
        row = []
        for h in args.half_lives:
            forecaster.HALF_LIFE, forecaster.AGE_LIMIT = h, 30 * h
            bt = f.backtest(y, X, start=n_train)
            coverage[h].append(float(((bt.actual >= bt.lower) & (bt.actual <= bt.upper)).mean()))
            row.append(f"{coverage[h][-1]:.1%}")
        print(f"{name}: " + ", ".join(row), flush=True)
    print(f"\nhalf-life (origins) | mean |coverage - 80%| | outside 70-90% (of {len(coverage[args.half_lives[0]])})")
    for h in args.half_lives:
        c = np.array(coverage[h])
        mark = " (forecaster.HALF_LIFE)" if h == chosen else ""
        print(f"{h}{mark} | {np.abs(c - 0.8).mean():.3f} | {int(((c < 0.7) | (c > 0.9)).sum())}")


if __name__ == "__main__":
    main()
