import { makeSeries, type Series } from '../series/series.js';
import { MINUTE_MS } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import { mulberry32 } from '../util/prng.js';

/**
 * Synthetic e-commerce traffic for tests and docs: one value per minute in requests per second, with a
 * daily shape (night trough, lunch bump, evening peak ≈ 30k QPS), a weekly shape (busier Friday to Sunday),
 * correlated noise, and promo days whose flash sale ramps to ≈ 120k QPS in about 20 minutes. Deterministic for
 * a given seed.
 */

export type SynthProfile = 'promo';
export const SYNTH_PROFILES: readonly SynthProfile[] = ['promo'];

export interface SynthOptions {
  readonly profile: SynthProfile;
  readonly days: number;
  readonly seed: number;
  /** First minute, default Monday 2026-01-05T00:00Z. */
  readonly startMs?: number;
  /** Day indexes with a promo; default every 7th day from day 6 (days 6, 13, 20, ...). */
  readonly promoDays?: readonly number[];
}

/** A flash sale in the synthetic trace (what `synth --events-out` writes). */
export interface PromoEvent {
  readonly name: string;
  /** Start of the ramp. */
  readonly startMs: number;
  /** End of the decay back to normal. */
  readonly endMs: number;
  /** Peak load over the normal load at the peak time. */
  readonly multiplier: number;
  readonly peakQps: number;
}

export interface SynthResult {
  readonly series: Series;
  readonly events: readonly PromoEvent[];
}

const DEFAULT_START = Date.UTC(2026, 0, 5);
const DAILY_PEAK_QPS = 30_000;
const PROMO_PEAK_QPS = 120_000;
const RAMP_MIN = 20;
/** Monday first; a weekly peak near 1 keeps the daily peak ≈ 30k. */
const WEEKDAY = [0.93, 0.95, 0.95, 0.97, 1.02, 1.05, 1.0];

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

const bump = (h: number, centre: number, width: number): number => Math.exp(-0.5 * ((h - centre) / width) ** 2);

/** Daily shape in [0.12, 1]: trough near 04:00, a lunch bump and the evening peak near 20:30 (UTC here). */
function dailyShape(hour: number): number {
  const raw = 0.12 + 0.5 * bump(hour, 12.5, 2.5) + 0.88 * bump(hour, 20.5, 2.2) + 0.88 * bump(hour, 20.5 - 24, 2.2);
  return Math.min(1, raw);
}

/** Multiplier of a promo at minute `m` after the ramp start: 20 min ramp, hold, 40 min decay. */
function promoFactor(m: number, holdMin: number, peak: number): number {
  if (m < 0) return 1;
  if (m < RAMP_MIN) return 1 + ((peak - 1) * m) / RAMP_MIN;
  if (m < RAMP_MIN + holdMin) return peak;
  const d = m - RAMP_MIN - holdMin;
  return d < 40 ? peak - ((peak - 1) * d) / 40 : 1;
}

export function synth(o: SynthOptions): SynthResult {
  if (!(Number.isInteger(o.days) && o.days >= 1 && o.days <= 366)) throw new InputError(`synth: days must be a whole number in 1..366, ${o.days} given`);
  if (!Number.isInteger(o.seed)) throw new InputError(`synth: seed must be an integer, ${o.seed} given`);
  switch (o.profile) {
    case 'promo':
      return promo(o);
    default: {
      const never: never = o.profile;
      throw new InputError(`synth: unknown profile ${JSON.stringify(never)} (known: ${SYNTH_PROFILES.join(', ')})`);
    }
  }
}

function promo(o: SynthOptions): SynthResult {
  const rand = mulberry32(o.seed);
  const start = o.startMs ?? DEFAULT_START;
  const n = o.days * 1440;
  const promoDays = o.promoDays ?? Array.from({ length: Math.floor((o.days + 1) / 7) }, (_, i) => 6 + 7 * i);
  const values = new Float64Array(n);
  const base = new Float64Array(n);
  let ar = 0;
  for (let i = 0; i < n; i++) {
    const t = start + i * MINUTE_MS;
    const d = new Date(t);
    const weekday = (d.getUTCDay() + 6) % 7;
    const hour = d.getUTCHours() + d.getUTCMinutes() / 60;
    // AR(1) noise: minutes are correlated (sd ≈ 4 %), plus 2 % white noise.
    ar = 0.97 * ar + 0.01 * gaussian(rand);
    base[i] = DAILY_PEAK_QPS * WEEKDAY[weekday] * dailyShape(hour) * Math.exp(ar);
    values[i] = base[i] * (1 + 0.02 * gaussian(rand));
  }
  const events: PromoEvent[] = [];
  for (const day of promoDays) {
    if (day < 0 || day >= o.days) continue;
    // The sale starts between 10:00 and 16:00 and holds its peak for 60 to 120 minutes.
    const startMin = day * 1440 + 600 + Math.floor(rand() * 360);
    const holdMin = 60 + Math.floor(rand() * 61);
    const peakAt = startMin + RAMP_MIN;
    const multiplier = PROMO_PEAK_QPS / base[peakAt];
    const endMin = Math.min(n, startMin + RAMP_MIN + holdMin + 40);
    for (let i = startMin; i < endMin; i++) values[i] = (values[i] / base[i]) * base[peakAt] * promoFactor(i - startMin, holdMin, multiplier);
    events.push({
      name: `promo-day-${day}`,
      startMs: start + startMin * MINUTE_MS,
      endMs: start + endMin * MINUTE_MS,
      multiplier: Math.round(multiplier * 1000) / 1000,
      peakQps: PROMO_PEAK_QPS,
    });
  }
  return { series: makeSeries(start, MINUTE_MS, values), events };
}

/** `timestamp,qps` lines (ISO UTC timestamps, QPS with 1 decimal): read back with `trace.unit: per-second`. */
export function synthCsv(s: Series): string {
  const lines = ['timestamp,qps'];
  for (let i = 0; i < s.values.length; i++) lines.push(`${new Date(s.startMs + i * s.stepMs).toISOString()},${s.values[i].toFixed(1)}`);
  return lines.join('\n') + '\n';
}
