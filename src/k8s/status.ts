import { STATUS_CODES } from 'node:http';
import { errorMessage } from '../util/errors.js';

/**
 * The apiserver's Status message, "Reason: message"; client-node leaves the body as raw text for undeclared
 * status codes. Kept apart from client.ts so modules that load client-node lazily (src/metrics-api/auth.ts) can
 * use it without importing client-node.
 */
export function statusMessage(body: unknown): string {
  let b: unknown = body;
  if (typeof body === 'string') {
    try {
      b = JSON.parse(body) as unknown;
    } catch {
      return body.trim().slice(0, 300) || '(empty body)';
    }
  }
  if (b && typeof b === 'object') {
    const o = b as { message?: unknown; reason?: unknown };
    const msg = typeof o.message === 'string' ? o.message : JSON.stringify(b).slice(0, 300);
    return typeof o.reason === 'string' && o.reason ? `${o.reason}: ${msg}` : msg;
  }
  return String(b);
}

/**
 * `HTTP 403 Forbidden: …` from a status code and the body client-node kept. For the one code its API spec
 * declares without a body, 401, client-node drops the apiserver's Status (body undefined): the HTTP reason
 * phrase stands in for it.
 */
export function httpFailure(code: number, body: unknown): string {
  if (body === undefined || body === null) return `HTTP ${code} ${STATUS_CODES[code] ?? '(no body)'}`;
  return `HTTP ${code} ${statusMessage(body)}`;
}

/**
 * A failed client-node call in one line, from an ApiException's code and body (its own message dumps the body
 * and every response header); anything else as its message.
 */
export function apiFailureMessage(err: unknown): string {
  const e = err as { code?: unknown; body?: unknown } | null;
  if (e && typeof e === 'object' && typeof e.code === 'number' && 'body' in e) return httpFailure(e.code, e.body);
  return errorMessage(err);
}
