#!/usr/bin/python3
"""How low can the window-peak overshoot go at a given under-forecast rate? A research check, not part of prescale.

Protocol v1 scores a forecaster's p90 on the window peak: UFR (share of test windows whose forecast peak is below
0.9 x the actual peak) and peak ratio (mean forecast peak / actual peak). Any forecaster's window peak is one
number per origin computed from the history, so a model fitted *directly* to the window peak, by quantile loss, at
several quantile levels, traces the trade-off that the history's information allows. This script fits such a
model (scikit-learn's HistGradientBoostingRegressor, quantile loss, on the same kind of inputs as prescale's gbdt:
24 lags, the level, the same window 1, 2 and 7 days back, time of day, day of week) on the first 70 % of a trace and
scores it on protocol v1's test windows.

Needs Debian's python3-sklearn (`apt-get install python3-sklearn`); CI does not run it.
Usage: scripts/research/peak_frontier.py TRACE.csv VALUE_COLUMN
"""
import csv
import datetime as dt
import math
import sys

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor


def load(path, col):
    """Protocol v1 step 1: counts per interval -> per-minute rate, resampled to max(native, 5 min) by the mean."""
    with open(path, newline='') as fh:
        rows = list(csv.DictReader(fh))
    first = list(rows[0].keys())[0]
    if first == 'minute_offset':
        ts = np.array([int(r[first]) * 60 for r in rows])
    else:
        ts = np.array([int(dt.datetime.fromisoformat(r[first]).replace(tzinfo=dt.timezone.utc).timestamp()) for r in rows])
    vs = np.array([float(r[col]) if r[col] != '' else math.nan for r in rows])
    native = np.median(np.diff(ts)) / 60
    res = int(max(native, 5))
    rate = vs / native
    bucket = ((ts - ts[0]) // (res * 60)).astype(int)
    total = np.zeros(bucket.max() + 1)
    count = np.zeros(bucket.max() + 1)
    ok = ~np.isnan(rate)
    np.add.at(total, bucket[ok], rate[ok])
    np.add.at(count, bucket[ok], 1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan), res, int(ts[0])


def main(path, col):
    y, res, t0 = load(path, col)
    n, horizon, day = len(y), 30 // res, 1440 // res
    idx = np.arange(n)
    ok = ~np.isnan(y)
    z = np.log1p(np.interp(idx, idx[ok], y[ok]))  # model input only; gaps are never scored
    train_end = int(n * 0.7)

    def inputs(t):
        last = z[t]
        x = [z[t - lag] - last for lag in range(1, 25)] + [last]
        for d in (1, 2, 7):
            x += [z[t + 1 - d * day:t + 1 + horizon - d * day].max() - last, z[t - d * day] - last] if t - d * day - 1 >= 0 else [np.nan, np.nan]
        sec = t0 + (t + 1) * res * 60
        return x + [(sec % 86400) / 86400, ((sec // 86400) + 4) % 7]

    xs, ys = [], []
    for t in range(max(24, day + 1), train_end - horizon):
        w = y[t + 1:t + 1 + horizon]
        if not np.isnan(w).any():
            xs.append(inputs(t))
            ys.append(np.log1p(w.max()) - z[t])
    test_x, peaks, levels = [], [], []
    for t in range(train_end - 1, n - horizon - 1, horizon):  # protocol v1's origins
        w = y[t + 1:t + 1 + horizon]
        if not np.isnan(w).any() and w.max() > 0:
            test_x.append(inputs(t))
            peaks.append(w.max())
            levels.append(z[t])
    xs, ys, test_x, peaks, levels = map(np.array, (xs, ys, test_x, peaks, levels))
    print(f'{path.split("/")[-1]}: {len(ys)} training origins, {len(peaks)} test windows')
    for alpha in (0.5, 0.7, 0.8, 0.85, 0.9, 0.95):
        model = HistGradientBoostingRegressor(loss='quantile', quantile=alpha, max_iter=300, learning_rate=0.05, max_leaf_nodes=31,
                                              min_samples_leaf=20, early_stopping=True, validation_fraction=0.15, random_state=0)
        model.fit(xs, ys)
        forecast = np.expm1(model.predict(test_x) + levels)
        print(f'  window-peak quantile {alpha:.2f}: UFR {np.mean(forecast < 0.9 * peaks):.3f}  peak ratio {np.mean(forecast / peaks):.3f}')


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
