import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseSelector, SelectorError, MAX_SELECTOR_LENGTH, type Labels } from '../../src/metrics-api/selector.js';

const web: Labels = { target: 'web', namespace: 'default', cloneset: 'web-v2' };

describe('parseSelector: matching', () => {
  it.each([
    ['', true],
    ['target=web', true],
    ['target==web', true],
    ['target = web', true],
    ['target!=web', false],
    ['target!=api', true],
    ['missing!=x', true],
    ['target in (api, web)', true],
    ['target in (api)', false],
    ['target notin (api)', true],
    ['target notin (web,api)', false],
    ['missing notin (x)', true],
    ['missing in (x)', false],
    ['cloneset', true],
    ['missing', false],
    ['!missing', true],
    ['!target', false],
    ['target=web,namespace=default', true],
    ['target=web,namespace=prod', false],
    ['  target in(web) ,  !stale ,cloneset==web-v2  ', true],
    ['example.com/tier=', false],
    ['missing=', false],
  ])('%p → %p', (sel, expected) => {
    expect(parseSelector(sel).matches(web)).toBe(expected);
  });

  it('treats an absent selector as everything', () => {
    expect(parseSelector(undefined).matches({})).toBe(true);
  });

  it('compares numbers with < and >', () => {
    expect(parseSelector('gen>3').matches({ gen: '4' })).toBe(true);
    expect(parseSelector('gen<3').matches({ gen: '4' })).toBe(false);
    expect(parseSelector('gen<3').matches({ gen: 'x' })).toBe(false);
  });

  it('prints a canonical form', () => {
    expect(parseSelector(' b in (y,x,x) , !c,a==1 ').toString()).toBe('b in (x,y),!c,a=1');
  });
});

describe('parseSelector: errors name the position and the rule', () => {
  it.each([
    ['target in (a', 12, /expected "," or "\)" in a value set \(unbalanced/],
    ['target in a', 10, /expected "\(" after in\/notin/],
    ['target=web,', 11, /expected a label key/],
    [',target=web', 0, /expected a label key/],
    ['target=web target=api', 11, /expected "," between requirements/],
    ['target=a b', 9, /expected "," between requirements/],
    ['a=b;rm -rf /', 2, /label value must be empty or letters/],
    ["a=' OR 1=1 --", 2, /label value/],
    ['ключ=v', 0, /label key name must be letters/],
    ['a=é', 2, /label value/],
    [`a=${'v'.repeat(64)}`, 2, /at most 63 characters, 64 given/],
    [`${'k'.repeat(64)}=v`, 0, /at most 63 characters, 64 given/],
    ['/a=b', 0, /prefix before "\/" must not be empty/],
    ['Example.COM/a=b', 0, /DNS subdomain/],
    ['a>b', 2, /needs an integer value/],
    ['target (a)', 7, /expected an operator/],
    ['!!a', 1, /expected a label key/],
    ['((((', 0, /expected a label key/],
    ['a in ((b))', 6, /expected a label value/],
  ])('%p at %d', (sel, pos, rule) => {
    let caught: unknown;
    try {
      parseSelector(sel);
    } catch (err: unknown) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SelectorError);
    expect((caught as SelectorError).position).toBe(pos);
    expect((caught as SelectorError).message).toMatch(new RegExp(`at position ${pos}`));
    expect((caught as SelectorError).message).toMatch(rule);
  });

  it('refuses over-long input before lexing it', () => {
    expect(() => parseSelector('a'.repeat(MAX_SELECTOR_LENGTH + 1))).toThrow(/longer than the 4096 allowed/);
  });
});

// "in" and "notin" are keywords, not keys, in the apiserver's grammar too.
const keyArb = fc.stringMatching(/^[a-z0-9]([a-z0-9._-]{0,20}[a-z0-9])?$/).filter((k) => k !== 'in' && k !== 'notin');
const valueArb = fc.oneof(fc.constant(''), fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?$/));
const labelsArb = fc.dictionary(keyArb, valueArb, { maxKeys: 5 });
const reqArb = fc.oneof(
  fc.record({ key: keyArb, op: fc.constantFrom('=', '==', '!='), values: fc.array(valueArb, { minLength: 1, maxLength: 1 }) }),
  fc.record({ key: keyArb, op: fc.constantFrom('in', 'notin'), values: fc.array(valueArb, { minLength: 1, maxLength: 4 }) }),
  fc.record({ key: keyArb, op: fc.constantFrom('exists', '!'), values: fc.constant([] as string[]) }),
);

type Gen = { key: string; op: string; values: string[] };

function text(r: Gen, ws: string): string {
  switch (r.op) {
    case 'in':
    case 'notin':
      return `${r.key}${ws} ${r.op}${ws}(${r.values.join(`${ws},${ws}`)})`;
    case 'exists':
      return r.key;
    case '!':
      return `!${ws}${r.key}`;
    default:
      return `${r.key}${ws}${r.op}${ws}${r.values[0]}`;
  }
}

/** The meaning of a requirement, written independently of the parser. */
function oracle(r: Gen, labels: Labels): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  switch (r.op) {
    case '=':
    case '==':
    case 'in':
      return has && r.values.includes(labels[r.key]);
    case '!=':
    case 'notin':
      return !has || !r.values.includes(labels[r.key]);
    case 'exists':
      return has;
    default:
      return !has;
  }
}

describe('parseSelector: properties', () => {
  it('means what the grammar says: AND of requirements, whitespace irrelevant, canonical form stable', () => {
    fc.assert(
      fc.property(fc.array(reqArb, { minLength: 1, maxLength: 5 }), labelsArb, fc.constantFrom('', ' ', '  ', '\t'), (reqs, labels, ws) => {
        const sel = parseSelector(reqs.map((r) => text(r, ws)).join(`${ws},${ws}`));
        expect(sel.matches(labels)).toBe(reqs.every((r) => oracle(r, labels)));
        const again = parseSelector(sel.toString());
        expect(again.toString()).toBe(sel.toString());
        expect(again.matches(labels)).toBe(sel.matches(labels));
      }),
      { numRuns: 1000 },
    );
  });

  it('either parses or throws a SelectorError with a position inside the input, for any string', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }), fc.stringMatching(/^[a-z!=(), ]{0,40}$/)), (s) => {
        try {
          parseSelector(s);
        } catch (err: unknown) {
          expect(err).toBeInstanceOf(SelectorError);
          expect((err as SelectorError).position).toBeGreaterThanOrEqual(0);
          expect((err as SelectorError).position).toBeLessThanOrEqual(s.length);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
