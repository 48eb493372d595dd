"""Python peers for bench:forecast (protocol v2 of docs/benchmark-protocol.md, step 10). A benchmark tool: prescale
never imports it. scripts/bench-forecast.ts writes one trace, resampled and split by prescale's own code, with the
rolling origins; this driver fits every peer on the training part once and forecasts every origin from the causal
context y[0..t] (never refitting on test data), then writes p50 and p90 per origin and step. The TypeScript bench
scores them with the same code as prescale's methods.

    python run_peers.py INPUT.json OUTPUT.json [--peers naive,lightgbm,...]

Input (JSON): trace, startMs, stepMs, horizon, season, trainEnd, origins, actual (null = missing), filled (linear
interpolation of actual), train (the training part filled on its own, what prescale's methods fit on).
Output (JSON): {"format": "prescale-peers/1", "trace", "horizon", "origins", "packages", "peers": {name: {"probabilistic",
"fitSeconds", "predictSeconds", "p50": [[H] per origin], "p90": [[H] per origin], "note"}}, "failed": {name: message}}.
"""
import argparse
import json
import math
import os
import sys
import time
import traceback
from importlib import metadata

import numpy as np

THREADS = int(os.environ.get('PRESCALE_PEERS_THREADS', '2'))
PEERS = ['naive', 'seasonal-naive', 'mstl-ets', 'mstl-arima', 'lightgbm', 'nhits']
PACKAGES = ['statsforecast', 'lightgbm', 'neuralforecast', 'torch', 'numpy', 'pandas']


def log(msg):
    print(f'peers: {msg}', file=sys.stderr, flush=True)


class Data:
    def __init__(self, j):
        self.trace = j['trace']
        self.start_ms = int(j['startMs'])
        self.step_ms = int(j['stepMs'])
        self.h = int(j['horizon'])
        self.m = int(j['season'])
        self.train_end = int(j['trainEnd'])
        self.origins = [int(t) for t in j['origins']]
        self.actual = np.array([math.nan if v is None else float(v) for v in j['actual']])
        self.filled = np.array(j['filled'], dtype=float)
        self.train = np.array(j['train'], dtype=float)
        # last[t]: the last index <= t with a present actual (-1 when none): the causal context holds it flat after.
        present = ~np.isnan(self.actual)
        idx = np.where(present, np.arange(len(self.actual)), -1)
        self.last = np.maximum.accumulate(idx)

    def context(self, t):
        """y[0..t] as prescale's causalContext gives it: interpolated gaps, held flat after the last present point."""
        ctx = self.filled[:t + 1].copy()
        last = self.last[t]
        if 0 <= last < t:
            ctx[last + 1:] = self.actual[last]
        return ctx

    def weekly(self):
        """Weekly season only with at least two full weeks of training (what STL needs)."""
        return self.train_end >= 2 * 7 * self.m


def point(rows):
    a = np.array(rows, dtype=float)
    return a, a


class Naive:
    probabilistic = False
    note = 'last value'

    def fit(self, d):
        pass

    def predict(self, d):
        return point([np.full(d.h, d.context(t)[-1]) for t in d.origins])


class SeasonalNaive:
    probabilistic = False
    note = 'the value a day earlier'

    def fit(self, d):
        pass

    def predict(self, d):
        rows = []
        for t in d.origins:
            ctx = d.context(t)
            rows.append(np.array([ctx[t + 1 + k - d.m] for k in range(d.h)]))
        return point(rows)


class Mstl:
    """statsforecast's MSTL fitted on the training part (daily, and weekly with two weeks of data), its trend
    forecaster's level-80 interval giving the p90. At each origin the fitted trend forecaster runs `forward` (its
    fitted parameters, no refit) on the context less the seasonal components, which continue by seasonal naive
    from the fit as MSTL's own predict continues them. MSTL.forward would re-run the decomposition at every origin:
    25–35 s each on these traces (statsmodels STL with a weekly period), some 8 hours per trace."""
    probabilistic = True

    def __init__(self, trend):
        self.trend = trend

    def fit(self, d):
        from statsforecast.models import MSTL, AutoARIMA, AutoETS
        seasons = [d.m, 7 * d.m] if d.weekly() else [d.m]
        self.note = f'seasons {seasons}, trend {self.trend}'
        tf = AutoETS(model='ZZN') if self.trend == 'AutoETS' else AutoARIMA()
        self.model = MSTL(season_length=seasons, trend_forecaster=tf).fit(d.train)
        comps = self.model.model_
        n = len(d.actual)
        seas = np.zeros(n)
        # The library's own naming: 'seasonal' for one season, 'seasonal288', 'seasonal2016' for several (sorted).
        for p, col in zip(seasons, comps.filter(regex='seasonal*').columns):
            c = comps[col].values
            s = np.empty(n)
            s[:d.train_end] = c
            s[d.train_end:] = c[d.train_end - p + (np.arange(n - d.train_end) % p)]
            seas += s
        self.seas = seas

    def predict(self, d):
        p50, p90 = [], []
        for t in d.origins:
            x_sa = d.context(t) - self.seas[:t + 1]
            r = self.model.trend_forecaster.forward(y=x_sa, h=d.h, level=[80])
            s = self.seas[t + 1:t + 1 + d.h]
            p50.append(np.asarray(r['mean']) + s)
            p90.append(np.asarray(r['hi-80']) + s)
        return np.array(p50), np.array(p90)


class LightGbm:
    """LightGBM direct multi-step: one booster per step and quantile (0.5, 0.9, objective 'quantile') on log1p
    values relative to the last one: 24 lags, the level, the target step's value 1 and 7 days back, the last hour's
    max, time of day and day of week of the target step. Early stopping on the last 15 % of the training part."""
    probabilistic = True
    note = 'direct, quantile objective 0.5 and 0.9, 24 lags + day/week-ago + calendar, log1p'
    LAGS = 24

    def features(self, z, t, k, d):
        """Inputs for the value k+1 steps after origin t from z[0..t] (log1p of the context)."""
        last = z[t]
        x = [z[t - lag] - last for lag in range(1, self.LAGS + 1)]
        x.append(last)
        for days in (1, 7):
            i = t + 1 + k - days * d.m
            x.append(z[i] - last if i >= 0 else math.nan)
        x.append(z[t - 11:t + 1].max() - last)
        sec = (d.start_ms + (t + 1 + k) * d.step_ms) // 1000
        x += [(sec % 86400) / 86400, ((sec // 86400) + 4) % 7]  # 1970-01-01 was a Thursday: 0 = Monday
        return x

    def fit(self, d):
        import lightgbm as lgb
        z = np.log1p(np.maximum(d.train, 0))
        y = d.actual
        start = max(self.LAGS + 1, 7 * d.m if d.weekly() else d.m)
        self.models = {}
        for k in range(d.h):
            ts = [t for t in range(start, d.train_end - 1 - k) if not math.isnan(y[t + 1 + k])]
            x = np.array([self.features(z, t, k, d) for t in ts])
            target = np.log1p(np.maximum(y[[t + 1 + k for t in ts]], 0)) - z[ts]
            cut = int(len(ts) * 0.85)
            for q in (0.5, 0.9):
                params = {'objective': 'quantile', 'alpha': q, 'learning_rate': 0.05, 'num_leaves': 31, 'min_data_in_leaf': 20,
                          'feature_fraction': 0.9, 'num_threads': THREADS, 'verbose': -1, 'seed': 42}
                train = lgb.Dataset(x[:cut], target[:cut])
                valid = lgb.Dataset(x[cut:], target[cut:], reference=train)
                self.models[(k, q)] = lgb.train(params, train, num_boost_round=600, valid_sets=[valid],
                                                callbacks=[lgb.early_stopping(40, verbose=False)])

    def predict(self, d):
        p50 = np.zeros((len(d.origins), d.h))
        p90 = np.zeros((len(d.origins), d.h))
        for k in range(d.h):
            rows, levels = [], []
            for t in d.origins:
                z = np.log1p(np.maximum(d.context(t), 0))
                rows.append(self.features(z, t, k, d))
                levels.append(z[t])
            x, levels = np.array(rows), np.array(levels)
            p50[:, k] = np.expm1(levels + self.models[(k, 0.5)].predict(x))
            p90[:, k] = np.expm1(levels + self.models[(k, 0.9)].predict(x))
        return p50, np.maximum(p90, p50)


class Nhits:
    """neuralforecast's NHITS with a multi-quantile loss (median and the level-80 interval: its upper bound is the
    p90), input two days, robust scaling, at most 500 steps with early stopping on the end of the training part,
    CPU. All origins are forecast in one call, each origin's context as its own series (no refit)."""
    probabilistic = True
    MAX_STEPS = int(os.environ.get('PRESCALE_PEERS_NHITS_STEPS', '500'))

    def fit(self, d):
        import logging
        import pandas as pd
        import torch
        from neuralforecast import NeuralForecast
        from neuralforecast.losses.pytorch import MQLoss
        from neuralforecast.models import NHITS
        logging.getLogger('pytorch_lightning').setLevel(logging.ERROR)
        logging.getLogger('lightning.pytorch').setLevel(logging.ERROR)
        torch.set_num_threads(THREADS)
        self.input_size = 2 * d.m
        self.note = f'input {self.input_size} steps, MQLoss level 80, ≤ {self.MAX_STEPS} steps, early stopping'
        val = max(d.h, min(2 * d.m, len(d.train) // 10))
        model = NHITS(h=d.h, input_size=self.input_size, loss=MQLoss(level=[80]), max_steps=self.MAX_STEPS, scaler_type='robust',
                      early_stop_patience_steps=5, val_check_steps=25, batch_size=32, windows_batch_size=256, random_seed=42,
                      enable_progress_bar=False, enable_model_summary=False, logger=False, accelerator='cpu')
        self.nf = NeuralForecast(models=[model], freq=1)
        df = pd.DataFrame({'unique_id': 'train', 'ds': np.arange(len(d.train)), 'y': d.train})
        self.nf.fit(df=df, val_size=val)

    def predict(self, d):
        import pandas as pd
        parts = []
        for k, t in enumerate(d.origins):
            ctx = d.context(t)[-self.input_size:]
            parts.append(pd.DataFrame({'unique_id': k, 'ds': np.arange(t + 1 - len(ctx), t + 1), 'y': ctx}))
        out = self.nf.predict(df=pd.concat(parts, ignore_index=True)).sort_values(['unique_id', 'ds'])
        p50 = out['NHITS-median'].to_numpy().reshape(len(d.origins), d.h)
        p90 = out['NHITS-hi-80'].to_numpy().reshape(len(d.origins), d.h)
        return p50, p90


def make(name):
    return {
        'naive': Naive,
        'seasonal-naive': SeasonalNaive,
        'mstl-ets': lambda: Mstl('AutoETS'),
        'mstl-arima': lambda: Mstl('AutoARIMA'),
        'lightgbm': LightGbm,
        'nhits': Nhits,
    }[name]()


def versions():
    out = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def rows(a, name, what, d):
    a = np.asarray(a, dtype=float)
    if a.shape != (len(d.origins), d.h):
        raise ValueError(f'{name}: {what} has shape {a.shape}, expected {(len(d.origins), d.h)}')
    if not np.isfinite(a).all():
        raise ValueError(f'{name}: {what} holds {int((~np.isfinite(a)).sum())} non-finite values')
    # Full precision (json writes the shortest repr that reads back exactly): rounding to 6 decimals moved point
    # forecasts off ties with the actual peak (AMZN's naive: window-peak coverage 0.167 against prescale's 0.169).
    return [[float(v) for v in r] for r in a]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('input')
    ap.add_argument('output')
    ap.add_argument('--peers', default=','.join(PEERS))
    a = ap.parse_args()
    with open(a.input) as fh:
        d = Data(json.load(fh))
    names = [p for p in a.peers.split(',') if p]
    unknown = [p for p in names if p not in PEERS]
    if unknown:
        sys.exit(f'unknown peers {unknown}; known: {PEERS}')
    out = {'format': 'prescale-peers/1', 'trace': d.trace, 'horizon': d.h, 'origins': d.origins, 'packages': versions(), 'peers': {}, 'failed': {}}
    for name in names:
        log(f'{d.trace}: {name} fitting on {d.train_end} points…')
        try:
            peer = make(name)
            t0 = time.perf_counter()
            peer.fit(d)
            t1 = time.perf_counter()
            p50, p90 = peer.predict(d)
            t2 = time.perf_counter()
            out['peers'][name] = {'probabilistic': peer.probabilistic, 'fitSeconds': round(t1 - t0, 3), 'predictSeconds': round(t2 - t1, 3),
                                  'note': getattr(peer, 'note', ''), 'p50': rows(p50, name, 'p50', d), 'p90': rows(p90, name, 'p90', d)}
            log(f'{d.trace}: {name} fit {t1 - t0:.1f} s, {len(d.origins)} origins {t2 - t1:.1f} s')
        except Exception as e:  # one peer failing must not lose the others; the bench shows the message
            traceback.print_exc(file=sys.stderr)
            out['failed'][name] = f'{type(e).__name__}: {e}'
    tmp = f'{a.output}.tmp'
    with open(tmp, 'w') as fh:
        json.dump(out, fh)
    os.replace(tmp, a.output)


if __name__ == '__main__':
    main()
