import { writeFileSync } from 'node:fs';

const MINUTE = 60_000;
const DAY = 1440 * MINUTE;

/**
 * A per-minute QPS trace in wall time, from 15 days ago to 14 days ahead, for a `csv` history with
 * `replay: { align: week }`: its 4 whole weeks map wall time onto itself, so the replay reveals it as live.
 * `baseQps` with ±2 % deterministic noise, and every day a spike to `spikeQps` for `spikeMinutes` at the time of
 * day of `spikeAt` (none when it is undefined).
 */
export function writeSyntheticTrace(file: string, o: { baseQps: number; spikeQps?: number; spikeAt?: number; spikeMinutes?: number }): void {
  const now = Math.floor(Date.now() / MINUTE) * MINUTE;
  const spikeTod = o.spikeAt === undefined ? undefined : o.spikeAt % DAY;
  const rows = ['timestamp,qps'];
  let seed = 7;
  for (let t = now - 15 * DAY; t < now + 14 * DAY; t += MINUTE) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const noise = 1 + (seed / 2 ** 31 - 0.5) * 0.04;
    const inSpike = spikeTod !== undefined && ((t % DAY) - spikeTod + DAY) % DAY < (o.spikeMinutes ?? 30) * MINUTE;
    rows.push(`${new Date(t).toISOString()},${((inSpike ? (o.spikeQps ?? o.baseQps) : o.baseQps) * noise).toFixed(1)}`);
  }
  writeFileSync(file, rows.join('\n') + '\n');
}
