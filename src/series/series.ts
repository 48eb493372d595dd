import { InputError } from '../util/errors.js';

/**
 * A regularly spaced time series. `values[i]` is the value of the interval starting at
 * `startMs + i * stepMs`; a gap (no data) is `NaN`, never 0. Values are rates (requests per second) unless a
 * caller says otherwise; the loaders convert counts per interval into rates.
 */
export interface Series {
  readonly startMs: number;
  readonly stepMs: number;
  readonly values: Float64Array;
}

export function makeSeries(startMs: number, stepMs: number, values: ArrayLike<number>): Series {
  if (!Number.isFinite(startMs)) throw new InputError(`series start must be a finite time, ${startMs} given`);
  if (!(stepMs > 0) || !Number.isInteger(stepMs)) {
    throw new InputError(`series step must be a positive whole number of milliseconds, ${stepMs} given`);
  }
  return { startMs, stepMs, values: Float64Array.from(values) };
}

export function timeAt(s: Series, i: number): number {
  return s.startMs + i * s.stepMs;
}

/** One past the last interval: the time the next value would start at. */
export function endMs(s: Series): number {
  return s.startMs + s.values.length * s.stepMs;
}

/** Points [from, to) by index, sharing nothing with the input. */
export function sliceSeries(s: Series, from: number, to: number = s.values.length): Series {
  const a = Math.max(0, from);
  const b = Math.min(s.values.length, to);
  return { startMs: timeAt(s, a), stepMs: s.stepMs, values: s.values.slice(a, Math.max(a, b)) };
}

/** Points whose interval starts in [fromMs, toMs). */
export function sliceByTime(s: Series, fromMs: number, toMs: number): Series {
  return sliceSeries(s, Math.ceil((fromMs - s.startMs) / s.stepMs), Math.ceil((toMs - s.startMs) / s.stepMs));
}

export function countGaps(s: Series): number {
  let n = 0;
  for (const v of s.values) if (Number.isNaN(v)) n++;
  return n;
}

/**
 * Resamples to a coarser step by the mean of the present values in each bucket; a bucket with none is a gap.
 * Buckets are aligned to multiples of `stepMs` since the epoch so that series from different sources line up.
 */
export function resampleMean(s: Series, stepMs: number): Series {
  if (stepMs === s.stepMs && s.startMs % stepMs === 0) return s;
  if (stepMs < s.stepMs || stepMs % s.stepMs !== 0) {
    throw new InputError(`can only resample to a whole multiple of the step ${s.stepMs} ms, ${stepMs} ms given`);
  }
  const first = Math.floor(s.startMs / stepMs) * stepMs;
  const n = Math.ceil((endMs(s) - first) / stepMs);
  const sum = new Float64Array(n);
  const cnt = new Float64Array(n);
  // Runs every cycle over days of history: walk the buckets instead of dividing per point.
  const per = stepMs / s.stepMs;
  let b = Math.floor((s.startMs - first) / stepMs);
  // Points still to come in the first bucket: those at offsets o, o + step, … below stepMs (o need not be a multiple of the step).
  let left = Math.ceil((stepMs - (s.startMs - first - b * stepMs)) / s.stepMs);
  for (let i = 0; i < s.values.length; i++) {
    const v = s.values[i];
    if (!Number.isNaN(v)) {
      sum[b] += v;
      cnt[b]++;
    }
    if (--left === 0) {
      b++;
      left = per;
    }
  }
  const out = new Float64Array(n);
  for (let b = 0; b < n; b++) out[b] = cnt[b] > 0 ? sum[b] / cnt[b] : NaN;
  return { startMs: first, stepMs, values: out };
}

/**
 * Fills gaps by linear interpolation between the neighbouring present values (flat at the ends). Used for
 * model input only: gaps are never scored. Throws when there is nothing to interpolate from.
 */
export function fillGaps(s: Series): Series {
  const v = new Float64Array(s.values);
  let prev = -1;
  for (let i = 0; i <= v.length; i++) {
    if (i < v.length && Number.isNaN(v[i])) continue;
    if (i - prev > 1) {
      if (prev < 0 && i >= v.length) throw new InputError('series has no values at all, only gaps');
      const a = prev < 0 ? v[i] : v[prev];
      const b = i >= v.length ? v[prev] : v[i];
      for (let j = prev + 1; j < i; j++) v[j] = a + ((b - a) * (j - prev)) / (i - prev);
    }
    prev = i;
  }
  return { startMs: s.startMs, stepMs: s.stepMs, values: v };
}

/** Appends `next` to `s`; `next` must continue at the same step, with any missing intervals left as gaps. */
export function concatSeries(s: Series, next: Series): Series {
  if (next.stepMs !== s.stepMs) throw new InputError(`cannot join series with steps ${s.stepMs} and ${next.stepMs} ms`);
  const offset = (next.startMs - endMs(s)) / s.stepMs;
  if (!Number.isInteger(offset) || offset < 0) {
    throw new InputError(`series to append must start at or after ${new Date(endMs(s)).toISOString()} on the step grid`);
  }
  const out = new Float64Array(s.values.length + offset + next.values.length).fill(NaN);
  out.set(s.values, 0);
  out.set(next.values, s.values.length + offset);
  return { startMs: s.startMs, stepMs: s.stepMs, values: out };
}

/** Mean of the present values whose interval starts in [fromMs, toMs); NaN when there is none. */
export function meanOver(s: Series, fromMs: number, toMs: number): number {
  const a = Math.max(0, Math.ceil((fromMs - s.startMs) / s.stepMs));
  const b = Math.min(s.values.length, Math.ceil((toMs - s.startMs) / s.stepMs));
  let sum = 0;
  let n = 0;
  for (let i = a; i < b; i++) {
    if (Number.isFinite(s.values[i])) {
      sum += s.values[i];
      n++;
    }
  }
  return n > 0 ? sum / n : NaN;
}

/**
 * What a model sees of a history, in training and in forecasting alike: the history resampled to the model's step,
 * whole buckets only (the bucket still filling at `untilMs` would read low, and so would the first one when the
 * history starts inside it), gaps filled.
 */
export function modelInput(history: Series, stepMs: number, untilMs: number = endMs(history)): Series {
  const r = resampleMean(history, stepMs);
  const a = Math.max(0, Math.ceil((history.startMs - r.startMs) / stepMs));
  const b = Math.max(a, Math.min(r.values.length, Math.floor((Math.floor(untilMs / stepMs) * stepMs - r.startMs) / stepMs)));
  // A view: fillGaps makes the one copy.
  return fillGaps({ startMs: r.startMs + a * stepMs, stepMs, values: r.values.subarray(a, b) });
}
