"""elman.forecasting: one-step forecasts against a forward pass from scratch for every value, the
naive baselines and RMSE against plain numpy."""

import numpy as np
import pytest

import elman
from elman import data
from elman.forecasting import naive_forecast, one_step_forecast, rmse


def series_of(shape, seed=0):
    return np.random.default_rng(seed).normal(3.0, 2.0, size=shape).cumsum(axis=0)


@pytest.mark.parametrize("shape", [(40,), (40, 2)])
def test_each_forecast_is_the_model_reading_everything_before_it(shape):
    series = series_of(shape)
    features = 1 if len(shape) == 1 else shape[1]
    model = elman.RNN(features, 6, features, dtype="float64", seed=1)
    normalizer = data.Normalizer().fit(series[:30])
    result = one_step_forecast(model, series, normalizer, 30)
    columns = series.reshape(40, -1)
    for i, t in enumerate(range(30, 40)):  # value t from values 0..t-1, each pass from a zero state
        y, _ = model.forward((columns[:t] - normalizer.mean) / normalizer.std)
        expected = y[-1] * normalizer.std + normalizer.mean
        np.testing.assert_allclose(result.forecast[i], expected if features > 1 else expected[0], rtol=1e-12)
    assert result.start == 30 and result.forecast.shape == result.actual.shape == (10,) + shape[1:]
    np.testing.assert_array_equal(result.actual, series[30:])
    np.testing.assert_array_equal(result.persistence, series[29:39])
    assert result.rmse == pytest.approx(np.sqrt(np.mean((result.forecast - series[30:]) ** 2)), rel=1e-12)
    assert result.persistence_rmse == pytest.approx(np.sqrt(np.mean((series[29:39] - series[30:]) ** 2)), rel=1e-12)


def test_naive_forecasts_and_rmse():
    series = np.arange(20.0) ** 2
    np.testing.assert_array_equal(naive_forecast(series, 15), series[14:19])
    np.testing.assert_array_equal(naive_forecast(series, 15, lag=7), series[8:13])
    assert rmse([1.0, 2.0], [1.0, 4.0]) == pytest.approx(np.sqrt(2.0))
    with pytest.raises(ValueError, match="start is 3; expected an integer >= 7"):
        naive_forecast(series, 3, lag=7)
    with pytest.raises(ValueError, match=r"forecast has shape \(2,\) and actual \(3,\); expected the same"):
        rmse([1.0, 2.0], [1.0, 2.0, 3.0])


def test_models_and_arguments_that_do_not_fit():
    series = series_of((40,))
    normalizer = data.Normalizer().fit(series[:30])
    with pytest.raises(ValueError, match="series has 1 features but the model has input_size 2 and output_size 1"):
        one_step_forecast(elman.RNN(2, 4, 1), series, normalizer, 30)
    with pytest.raises(ValueError, match="start is 40; expected less than the series' 40 values"):
        one_step_forecast(elman.RNN(1, 4, 1), series, normalizer, 40)
    with pytest.raises(ValueError, match="start is 0"):
        one_step_forecast(elman.RNN(1, 4, 1), series, normalizer, 0)
    with pytest.raises(TypeError, match="normalizer is of type dict"):
        one_step_forecast(elman.RNN(1, 4, 1), series, normalizer.to_dict(), 30)
