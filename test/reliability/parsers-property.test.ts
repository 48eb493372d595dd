import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseConfig } from '../../src/config/load.js';
import { parseCloudWatchJson, parsePrometheusJson } from '../../src/series/metric-json.js';
import { InputError } from '../../src/util/errors.js';

/**
 * Property tests for the parsers the existing suites test by example only (CSV, quantities, label selectors
 * and the Prometheus source already have theirs): whatever the input, the config and metric-JSON parsers
 * either return a result or throw an InputError (printed without a stack, exit 2), never a TypeError.
 */

function onlyInputErrors(f: () => unknown): void {
  try {
    f();
  } catch (err: unknown) {
    if (!(err instanceof InputError)) throw err;
  }
}

/** Real input arrives through JSON.parse: round-trip so objects have the prototypes JSON.parse gives them. */
const asParsed = (v: unknown): unknown => JSON.parse(JSON.stringify(v) ?? 'null');

/** JSON values biased towards the shapes the parsers look for, so the properties reach deep branches. */
const jsonish = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom<unknown>(null, true, 0, -1, 1.5, NaN, 'NaN', '+Inf', '-5', '1e400', '', 'Sum', 'Timestamps', 'Values', 'values', 'result', 'data', 'matrix', 'status', 'success'),
    fc.double(),
    fc.string({ maxLength: 12 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('MetricDataResults', 'Id', 'Timestamps', 'Values', 'StatusCode', 'status', 'data', 'resultType', 'result', 'metric', 'values', '__proto__'), tie('value'), { maxKeys: 4 }),
  ),
})).value;

describe('parsers never throw anything but an InputError', () => {
  it('parseConfig, for any text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => onlyInputErrors(() => parseConfig(text, 'c.yaml'))), { numRuns: 300 });
  });

  it('parseConfig, for YAML documents of any shape (keys from the schema, values of any type)', () => {
    const key = fc.constantFrom('targets', 'name', 'history', 'source', 'path', 'forecast', 'actuators', 'kind', 'min', 'max', 'http', 'port', 'admin', 'tokenFile', 'dryRun', '__proto__', 'constructor');
    const doc = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, fc.constantFrom<unknown>(null, true, -1, 0, Number.MAX_VALUE, 'csv', 'cloneset', '$LATEST'), fc.string({ maxLength: 8 }), fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(key, tie('v'), { maxKeys: 4 })),
    })).v;
    fc.assert(fc.property(doc, (d) => onlyInputErrors(() => parseConfig(JSON.stringify(d) ?? 'null', 'c.yaml'))), { numRuns: 300 });
  });

  it('parseCloudWatchJson, for any JSON value', () => {
    fc.assert(fc.property(jsonish, (doc) => onlyInputErrors(() => parseCloudWatchJson(asParsed(doc), { unit: 'count-per-interval' }))), { numRuns: 500 });
  });

  it('parsePrometheusJson, for any JSON value and selector text', () => {
    fc.assert(
      fc.property(jsonish, fc.option(fc.string({ maxLength: 20 }), { nil: undefined }), (doc, select) =>
        onlyInputErrors(() => parsePrometheusJson(asParsed(doc), { unit: 'per-second', ...(select === undefined ? {} : { select }) })),
      ),
      { numRuns: 500 },
    );
  });

  it('a parsed series never carries a negative or infinite rate', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.double(), fc.constantFrom('NaN', '+Inf', '-Inf', '-1', 'x')), { minLength: 2, maxLength: 20 }), (vals) => {
        const doc = { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: vals.map((v, i) => [1_700_000_000 + 60 * i, String(v)]) }] } };
        try {
          const s = parsePrometheusJson(doc, { unit: 'per-second' });
          for (const v of s.values) expect(Number.isNaN(v) || (Number.isFinite(v) && v >= 0)).toBe(true);
        } catch (err: unknown) {
          if (!(err instanceof InputError)) throw err;
        }
      }),
      { numRuns: 300 },
    );
  });
});
