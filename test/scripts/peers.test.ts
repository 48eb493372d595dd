import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { forecastOrigins, originsOf, prepareProtocol, scoreForecasts, type ProtocolData } from '../../src/forecast/evaluate.js';
import { NaiveForecaster } from '../../src/forecast/naive.js';
import { makeSeries } from '../../src/series/series.js';
import { PEER_FORMAT, PeerTimeoutError, peerInput, peerOriginForecasts, peersVenvDir, readPeerOutput, runPeerDriver } from '../../scripts/lib/peers.js';

const STEP = 300_000;
const d: ProtocolData = { actual: makeSeries(0, STEP, [1, 10, 20, 5, 8]), trainEnd: 1, horizon: 2, season: 1, maseScale: 1 };
const origins = [0, 2];

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'prescale-peers-test-'));

/** A well-formed driver output with one probabilistic peer (lightgbm) and one point peer (naive). */
function output(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: PEER_FORMAT,
    trace: 't',
    horizon: 2,
    origins,
    packages: { lightgbm: '4.7.0' },
    peers: {
      lightgbm: { probabilistic: true, fitSeconds: 1.5, predictSeconds: 0.1, note: 'n', p50: [[12, 14], [6, 7]], p90: [[15, 18], [9, 12]] },
      naive: { probabilistic: false, fitSeconds: 0, predictSeconds: 0, p50: [[1, 1], [5, 5]], p90: [[1, 1], [5, 5]] },
    },
    failed: { nhits: 'RuntimeError: boom' },
    ...over,
  };
}

function withFile<T>(content: unknown, f: (file: string) => T): T {
  const dir = tmp();
  try {
    const file = path.join(dir, 'out.json');
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return f(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('readPeerOutput', () => {
  it('reads a well-formed output', () => {
    const out = withFile(output(), (f) => readPeerOutput(f, { origins, horizon: 2 }));
    expect(out.peers.lightgbm?.p90).toEqual([[15, 18], [9, 12]]);
    expect(out.peers.naive?.probabilistic).toBe(false);
    expect(out.failed).toEqual({ nhits: 'RuntimeError: boom' });
    expect(out.packages).toEqual({ lightgbm: '4.7.0' });
  });

  const lgb = (o: Record<string, unknown>): Record<string, unknown> => ({ lightgbm: { ...(output().peers as Record<string, Record<string, unknown>>).lightgbm, ...o } });
  it.each([
    ['a null forecast', output({ peers: lgb({ p90: [[15, 18], [null, 12]] }) }), /out\.json: peers\.lightgbm\.p90\[1\]\[0\]: expected a finite number, got null/],
    ['a short row', output({ peers: lgb({ p50: [[12, 14], [6]] }) }), /out\.json: peers\.lightgbm\.p50\[1\]: expected 2 steps/],
    ['a missing origin', output({ peers: lgb({ p50: [[12, 14]] }) }), /out\.json: peers\.lightgbm\.p50: expected 2 rows \(one per origin\), got 1 rows/],
    ['negative seconds', output({ peers: lgb({ fitSeconds: -1 }) }), /out\.json: peers\.lightgbm\.fitSeconds: expected seconds/],
    ['no probabilistic flag', output({ peers: lgb({ probabilistic: 'yes' }) }), /out\.json: peers\.lightgbm\.probabilistic: expected true or false, got "yes"/],
    ['an unknown peer', output({ peers: { prophet: {} } }), /out\.json: peers\.prophet: unknown peer/],
    ['other origins', output({ origins: [0, 3] }), /out\.json: origins: expected the 2 origins the bench wrote/],
    ['another horizon', output({ horizon: 3 }), /out\.json: horizon: expected 2, got 3/],
    ['another format', output({ format: 'x/2' }), /out\.json: format: expected "prescale-peers\/1", got "x\/2"/],
    ['not JSON', '{"format": ', /out\.json: not readable JSON/],
  ])('rejects %s, naming the file and the key', (_what, content, re) => {
    expect(() => withFile(content, (f) => readPeerOutput(f, { origins, horizon: 2 }))).toThrow(re);
  });
});

describe('a peer scored by the same code as prescale', () => {
  it('gives exact v1 and v2 scores for a known probabilistic output', () => {
    const out = withFile(output(), (f) => readPeerOutput(f, { origins, horizon: 2 }));
    const s = scoreForecasts(d, peerOriginForecasts(out.peers.lightgbm!, d, origins));
    // p50 errors |10−12| + |20−14| + |5−6| + |8−7| = 10 over 4 points; scale 1.
    expect(s.mase).toBeCloseTo(2.5, 12);
    // Points at or below the p90: 10 ≤ 15, 20 > 18, 5 ≤ 9, 8 ≤ 12.
    expect(s.coverageP90).toBe(0.75);
    // Window peaks 20 and 8 against p90 peaks 18 and 12: no window under 0.9 × its peak; ratio mean(0.9, 1.5).
    expect(s.ufr).toBe(0);
    expect(s.peakRatio).toBeCloseTo(1.2, 12);
    // Short 2 → 1.8, idle 4 → 0.4: WPL90 = 1.1 / mean(20, 8) = 1.1 / 14.
    expect(s.wpl90).toBeCloseTo(1.1 / 14, 12);
    expect(s.windowPeakCoverage).toBe(0.5);
  });

  it('scores a point peer on its point, and clips a negative forecast to 0 as prescale does', () => {
    const out = withFile(output(), (f) => readPeerOutput(f, { origins, horizon: 2 }));
    const s = scoreForecasts(d, peerOriginForecasts(out.peers.naive!, d, origins));
    expect(s.coverageP90).toBeNull();
    // Peaks 20 and 8 against 1 and 5: short 19 and 3 → 17.1 and 2.7; WPL90 = 9.9 / 14.
    expect(s.wpl90).toBeCloseTo(9.9 / 14, 12);
    const neg = peerOriginForecasts({ probabilistic: true, fitSeconds: 0, predictSeconds: 0, note: '', p50: [[-3, 2], [1, 1]], p90: [[-1, 1], [2, 2]] }, d, origins);
    expect(Array.from(neg.forecasts[0].values[0])).toEqual([0, 2]);
    // p90 made at least the p50, then 0 where negative.
    expect(Array.from(neg.forecasts[0].values[1])).toEqual([0, 2]);
    expect(neg.forecasts[1].startMs).toBe(3 * STEP);
  });

  it('writes the driver the trace with gaps as null, the whole trace filled and the training part filled alone', () => {
    const g: ProtocolData = { ...d, actual: makeSeries(0, STEP, [1, NaN, 3, NaN, 9]), trainEnd: 4 };
    const j = peerInput('t', g, [3]);
    expect(j.actual).toEqual([1, null, 3, null, 9]);
    expect(j.filled).toEqual([1, 2, 3, 6, 9]);
    expect(j.train).toEqual([1, 2, 3, 3]);
    expect(j).toMatchObject({ trace: 't', startMs: 0, stepMs: STEP, horizon: 2, season: 1, trainEnd: 4, origins: [3] });
  });
});

// The time limit and the exit status, with a shell script standing in for the interpreter (no Python needed): what is
// tested is how the bench treats a process, not a peer.
describe('runPeerDriver without Python', () => {
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('kills a driver past its time limit, with the worker it started, and says the limit', async () => {
    const dir = tmp();
    try {
      const script = path.join(dir, 'hang.sh');
      const pidFile = path.join(dir, 'worker.pid');
      writeFileSync(script, `#!/bin/sh\nsleep 60 &\necho $! > ${pidFile}\nwait\n`);
      chmodSync(script, 0o755);
      const t0 = performance.now();
      const run = runPeerDriver(script, 'in.json', 'out.json', { peers: ['naive'], timeoutSeconds: 1 });
      await expect(run).rejects.toThrow(PeerTimeoutError);
      await expect(run).rejects.toThrow('no result within the time limit of 1 s (killed)');
      expect(performance.now() - t0).toBeLessThan(10_000);
      const worker = Number(readFileSync(pidFile, 'utf8'));
      // SIGKILL to the group is delivered at once, but the zombie may need a moment to be reaped by init.
      for (let i = 0; i < 50 && alive(worker); i++) await new Promise((r) => setTimeout(r, 100));
      expect(alive(worker)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);

  it('rejects with the exit status, naming the driver by its path in the repository', async () => {
    const dir = tmp();
    try {
      const script = path.join(dir, 'fail.sh');
      writeFileSync(script, '#!/bin/sh\nexit 3\n');
      chmodSync(script, 0o755);
      await expect(runPeerDriver(script, 'in.json', 'out.json', { peers: ['naive'], timeoutSeconds: 10 })).rejects.toThrow(/^scripts\/peers\/run_peers\.py exited with 3$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The driver itself, when the bench's venv is there (npm run bench:forecast creates it); skipped, and named so, without it.
const python = path.join(peersVenvDir(), 'bin', 'python');
const hasVenv = existsSync(python) && spawnSync(python, ['-c', 'import statsforecast, lightgbm'], { timeout: 120_000 }).status === 0;
(hasVenv ? describe : describe.skip)(`the Python driver${hasVenv ? '' : ' (skipped: no peers venv with statsforecast at ' + python + ')'}`, () => {
  it('forecasts every origin, and its naive peer scores exactly as prescale\'s naive', async () => {
    // Three days at 5 minutes: a daily cycle with noise and a gap in the test part.
    const values = Array.from({ length: 3 * 288 }, (_, i) => 50 + 30 * Math.sin((2 * Math.PI * i) / 288) + ((i * 7919) % 13));
    values[800] = NaN;
    const series = makeSeries(Date.parse('2024-01-01T00:00:00Z'), STEP, values);
    const p = prepareProtocol(series);
    const orig = originsOf(p.trainEnd, p.actual.values.length, p.horizon);
    const dir = tmp();
    try {
      const input = path.join(dir, 'in.json');
      const out = path.join(dir, 'out.json');
      writeFileSync(input, JSON.stringify(peerInput('synthetic', p, orig)));
      await runPeerDriver(python, input, out, { peers: ['naive', 'seasonal-naive', 'mstl-ets', 'lightgbm'], timeoutSeconds: 170 });
      const r = readPeerOutput(out, { origins: orig, horizon: p.horizon });
      expect(Object.keys(r.peers).sort()).toEqual(['lightgbm', 'mstl-ets', 'naive', 'seasonal-naive']);
      const naive = new NaiveForecaster();
      await naive.fit(series);
      const ours = scoreForecasts(p, forecastOrigins(naive, p));
      const theirs = scoreForecasts(p, peerOriginForecasts(r.peers.naive!, p, orig));
      // Exactly: the driver writes full precision, so its last value is prescale's last value, ties with the peak included.
      expect(theirs.mase).toBe(ours.mase);
      expect(theirs.wpl90).toBe(ours.wpl90);
      expect(theirs.windowPeakCoverage).toBe(ours.windowPeakCoverage);
      const mstl = scoreForecasts(p, peerOriginForecasts(r.peers['mstl-ets']!, p, orig));
      expect(mstl.mase).toBeLessThan(ours.mase);
      expect(r.peers.lightgbm?.probabilistic).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
