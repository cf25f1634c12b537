"""Forecasts of stored series with intervals: ETS (Holt-Winters) or SARIMA via statsmodels.

- :mod:`~setpoint.analyze.forecasting.base`: what a forecast is, and the errors;
- :mod:`~setpoint.analyze.forecasting.series`: stored samples and roll-ups as a
  regular series;
- :mod:`~setpoint.analyze.forecasting.models`: fitting (slow) and updating (cheap);
- :mod:`~setpoint.analyze.forecasting.forecaster`: the policy and one-shot forecasts;
- :mod:`~setpoint.analyze.forecasting.keeper`: the agent's background refits.

statsmodels (the ``ml`` extra) is imported only when a model is fitted.
"""
