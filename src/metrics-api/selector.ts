/**
 * Kubernetes label selectors, as the HPA sends them in `?labelSelector=` (k8s.io/apimachinery/pkg/labels):
 *
 *   selector    ::= "" | requirement ("," requirement)*          comma = AND
 *   requirement ::= KEY ("=" | "==" | "!=") VALUE
 *                 | KEY ("in" | "notin") "(" VALUE ("," VALUE)* ")"
 *                 | KEY ("<" | ">") INTEGER
 *                 | KEY | "!" KEY
 *
 * Whitespace between tokens is ignored. Keys are qualified names (`[prefix/]name`), values are label values,
 * both validated as the apiserver validates them, so a selector this module accepts means the same thing it
 * means to kubectl. Errors name the 0-based character position and the rule broken.
 */

export type Operator = '=' | '!=' | 'in' | 'notin' | 'exists' | '!' | '<' | '>';

export interface Requirement {
  readonly key: string;
  readonly op: Operator;
  /** Sorted, de-duplicated values; empty for `exists` and `!`. */
  readonly values: readonly string[];
}

export type Labels = Readonly<Record<string, string>>;

export interface Selector {
  readonly requirements: readonly Requirement[];
  matches(labels: Labels): boolean;
  /** The canonical text form (what the apiserver would print). */
  toString(): string;
}

/** A selector that does not parse; `position` is the 0-based offset in the input. */
export class SelectorError extends Error {
  override readonly name = 'SelectorError';
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

/** Longer selectors are refused outright; the apiserver's own URL limits are in the same range. */
export const MAX_SELECTOR_LENGTH = 4096;

type TokenKind = 'ident' | ',' | '(' | ')' | '=' | '==' | '!=' | '!' | '<' | '>' | 'in' | 'notin' | 'end';

interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly pos: number;
}

const SPECIAL = new Set([',', '(', ')', '=', '!', '<', '>']);
const WHITESPACE = new Set([' ', '\t', '\n', '\r', '\f', '\v']);

function lex(input: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (WHITESPACE.has(c)) {
      i++;
      continue;
    }
    if (SPECIAL.has(c)) {
      const two = input.slice(i, i + 2);
      if (two === '==' || two === '!=') {
        out.push({ kind: two, text: two, pos: i });
        i += 2;
      } else {
        out.push({ kind: c as TokenKind, text: c, pos: i });
        i++;
      }
      continue;
    }
    const start = i;
    while (i < input.length && !SPECIAL.has(input[i]) && !WHITESPACE.has(input[i])) i++;
    const text = input.slice(start, i);
    out.push({ kind: text === 'in' ? 'in' : text === 'notin' ? 'notin' : 'ident', text, pos: start });
  }
  out.push({ kind: 'end', text: '', pos: input.length });
  return out;
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function keyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const [prefix, name] = slash >= 0 ? [key.slice(0, slash), key.slice(slash + 1)] : [undefined, key];
  if (prefix !== undefined) {
    if (prefix.length === 0) return 'the prefix before "/" must not be empty';
    if (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)) return 'the prefix before "/" must be a DNS subdomain (lower-case letters, digits, "-" and "."; at most 253)';
  }
  if (name.length === 0) return 'a label key must not be empty';
  if (name.length > 63) return `a label key name must be at most 63 characters, ${name.length} given`;
  if (!NAME.test(name)) return 'a label key name must be letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  return undefined;
}

function valueProblem(v: string): string | undefined {
  if (v.length === 0) return undefined;
  if (v.length > 63) return `a label value must be at most 63 characters, ${v.length} given`;
  if (!NAME.test(v)) return 'a label value must be empty or letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  return undefined;
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(): Token {
    return this.toks[this.i];
  }
  private next(): Token {
    return this.toks[this.i++];
  }
  private fail(t: Token, rule: string): never {
    const what = t.kind === 'end' ? 'end of input' : JSON.stringify(t.text.length > 32 ? t.text.slice(0, 32) + '…' : t.text);
    throw new SelectorError(`label selector: at position ${t.pos} (${what}): ${rule}`, t.pos);
  }

  parse(): Requirement[] {
    const reqs: Requirement[] = [];
    if (this.peek().kind === 'end') return reqs;
    for (;;) {
      reqs.push(this.requirement());
      const t = this.next();
      if (t.kind === 'end') return reqs;
      if (t.kind !== ',') this.fail(t, 'expected "," between requirements or the end of the selector');
    }
  }

  private key(): string {
    const t = this.next();
    if (t.kind !== 'ident') this.fail(t, 'expected a label key');
    const p = keyProblem(t.text);
    if (p) this.fail(t, p);
    return t.text;
  }

  private value(): string {
    const t = this.peek();
    // An empty value is legal (`k=` selects an empty label), exactly as in the apiserver.
    if (t.kind === ',' || t.kind === 'end' || t.kind === ')') return '';
    this.next();
    if (t.kind !== 'ident' && t.kind !== 'in' && t.kind !== 'notin') this.fail(t, 'expected a label value');
    const p = valueProblem(t.text);
    if (p) this.fail(t, p);
    return t.text;
  }

  private requirement(): Requirement {
    if (this.peek().kind === '!') {
      this.next();
      return { key: this.key(), op: '!', values: [] };
    }
    const key = this.key();
    const t = this.peek();
    switch (t.kind) {
      case ',':
      case 'end':
        return { key, op: 'exists', values: [] };
      case '=':
      case '==':
        this.next();
        return { key, op: '=', values: [this.value()] };
      case '!=':
        this.next();
        return { key, op: '!=', values: [this.value()] };
      case 'in':
      case 'notin':
        this.next();
        return { key, op: t.kind, values: this.valueSet() };
      case '<':
      case '>': {
        this.next();
        const v = this.next();
        if (v.kind !== 'ident' || !/^-?[0-9]+$/.test(v.text)) this.fail(v, `"${t.kind}" needs an integer value`);
        return { key, op: t.kind, values: [v.text] };
      }
      case '(':
      case ')':
      case '!':
      case 'ident':
        return this.fail(t, 'expected an operator (=, ==, !=, in, notin, <, >), "," or the end after a key');
      default:
        return assertNever(t.kind);
    }
  }

  private valueSet(): string[] {
    const open = this.next();
    if (open.kind !== '(') this.fail(open, 'expected "(" after in/notin');
    const values = new Set<string>();
    for (;;) {
      values.add(this.value());
      const t = this.next();
      if (t.kind === ')') break;
      if (t.kind !== ',') this.fail(t, 'expected "," or ")" in a value set (unbalanced parentheses?)');
    }
    return [...values].sort();
  }
}

function assertNever(x: never): never {
  throw new Error(`unhandled case ${String(x)}`);
}

function matchOne(r: Requirement, labels: Labels): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = has ? labels[r.key] : undefined;
  switch (r.op) {
    case '=':
    case 'in':
      return v !== undefined && r.values.includes(v);
    case '!=':
    case 'notin':
      return v === undefined || !r.values.includes(v);
    case 'exists':
      return has;
    case '!':
      return !has;
    case '<':
    case '>': {
      if (v === undefined || !/^-?[0-9]+$/.test(v)) return false;
      const a = Number(v);
      const b = Number(r.values[0]);
      return r.op === '<' ? a < b : a > b;
    }
    default:
      return assertNever(r.op);
  }
}

function requirementText(r: Requirement): string {
  switch (r.op) {
    case '=':
    case '!=':
    case '<':
    case '>':
      return `${r.key}${r.op}${r.values[0]}`;
    case 'in':
    case 'notin':
      return `${r.key} ${r.op} (${r.values.join(',')})`;
    case 'exists':
      return r.key;
    case '!':
      return `!${r.key}`;
    default:
      return assertNever(r.op);
  }
}

/** Parses a label selector; an absent or empty selector selects everything. Throws SelectorError. */
export function parseSelector(input: string | undefined): Selector {
  const text = input ?? '';
  if (text.length > MAX_SELECTOR_LENGTH) {
    throw new SelectorError(`label selector: ${text.length} characters is longer than the ${MAX_SELECTOR_LENGTH} allowed`, MAX_SELECTOR_LENGTH);
  }
  const requirements = new Parser(lex(text)).parse();
  return {
    requirements,
    matches: (labels) => requirements.every((r) => matchOne(r, labels)),
    toString: () => requirements.map(requirementText).join(','),
  };
}
