"""One-step-ahead forecasting of a noisy seasonal series with elman's Trainer.

    python examples/forecast.py

Generates four years of daily values (trend, a weekly and a yearly cycle, noise), trains on the first
80% with windows of 60 days, and forecasts the last 20% one day ahead, next to the persistence
baseline ("tomorrow equals today") and the weekly baseline ("equals a week ago").
"""

import numpy as np

import elman
from elman import data
from elman.forecasting import naive_forecast, one_step_forecast, rmse


def main():
    rng = np.random.default_rng(0)
    days = np.arange(4 * 365)
    series = 10 + 0.004 * days + 2 * np.sin(2 * np.pi * days / 7) + 3 * np.sin(2 * np.pi * days / 365.25)
    series += 0.4 * rng.normal(size=days.size)

    ts = data.TimeSeries(series, val_fraction=0.2)
    train = data.Loader(ts.train_windows(60, stride=2), batch_size=32, seed=0)
    model = elman.RNN(1, 48, 1, seed=0)
    trainer = elman.Trainer(model, elman.optim.Adam(model, lr=5e-3), clip_norm=1.0, schedule=elman.Cosine(1500, 5e-4))
    trainer.fit(train, 1500)

    result = one_step_forecast(model, series, ts.normalizer, start=ts.train.shape[0])
    print(f"test RMSE over {result.actual.size} days:")
    print(f"  elman        {result.rmse:.3f}")
    print(f"  persistence  {result.persistence_rmse:.3f}")
    print(f"  a week ago   {rmse(naive_forecast(series, result.start, lag=7), result.actual):.3f}")
    print(f"  noise floor  {0.4:.3f} (the noise's standard deviation)")


if __name__ == "__main__":
    main()
