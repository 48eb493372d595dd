import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP layer of our own in front of moto_server that adds the AWS behaviours moto lacks: throttling,
 * LimitExceeded, ConcurrentUpdate, 5xx, slow responses, and the hard quota of 200 scheduled actions per
 * scalable target. Requests are AWS JSON (`X-Amz-Target: Service.Operation`); faults are answered the way
 * AWS answers them (`__type` in the body and `x-amzn-ErrorType`), so the real SDK parses them.
 */

export type Fault =
  | { readonly kind: 'error'; readonly type: string; readonly status?: number; readonly message?: string }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'delay'; readonly ms: number };

export interface FaultRule {
  /** Operation name, e.g. `PutScheduledAction`. */
  readonly op: string;
  /** How many matching requests get the fault (then the rule is spent). */
  times: number;
  /** Matching requests to let through before the fault starts. */
  skip?: number;
  readonly fault: Fault;
}

export interface ProxiedCall {
  readonly op: string;
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface FaultProxy {
  readonly endpoint: string;
  /** Every request answered, with the status. */
  readonly calls: ProxiedCall[];
  /** Operation of every request as it arrives (before any delay or answer). */
  readonly arrivals: string[];
  inject(rule: FaultRule): void;
  clearFaults(): void;
  /** Enforce the scheduled-actions quota per scalable target (moto has none); undefined turns it off. */
  scheduledActionQuota: number | undefined;
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const rules: FaultRule[] = [];
  const calls: ProxiedCall[] = [];
  const arrivals: string[] = [];
  const state: { quota: number | undefined } = { quota: 200 };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.includes('.') ? target.slice(target.lastIndexOf('.') + 1) : (target || 'unknown');
    arrivals.push(op);
    let body: Record<string, unknown> = {};
    try {
      body = raw.length > 0 ? (JSON.parse(raw.toString()) as Record<string, unknown>) : {};
    } catch {
      body = {};
    }
    const rule = rules.find((r) => r.op === op && r.times > 0);
    if (rule && (rule.skip ?? 0) > 0) rule.skip = (rule.skip ?? 0) - 1;
    else if (rule) {
      rule.times--;
      const f = rule.fault;
      switch (f.kind) {
        case 'error':
          return answerError(res, { op, body, calls }, { status: f.status ?? 400, type: f.type, message: f.message ?? `${f.type} injected by the fault proxy` });
        case 'status':
          return answerError(res, { op, body, calls }, { status: f.status, type: 'InternalServiceException', message: `status ${f.status} injected by the fault proxy` });
        case 'delay':
          await new Promise((r) => setTimeout(r, f.ms));
          break;
        default: {
          const never: never = f;
          throw new Error(`unknown fault ${JSON.stringify(never)}`);
        }
      }
    }
    if (op === 'PutScheduledAction' && state.quota !== undefined && (await overQuota(upstream, req, body, state.quota))) {
      return answerError(res, { op, body, calls }, { status: 400, type: 'LimitExceededException', message: `You have reached the maximum number of scheduled actions (${state.quota}) for this scalable target` });
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
    const up = await fetch(upstream + (req.url ?? '/'), { method: req.method, headers, body: raw.length > 0 ? new Uint8Array(raw) : undefined });
    const out = Buffer.from(await up.arrayBuffer());
    calls.push({ op, status: up.status, body });
    const outHeaders: Record<string, string> = {};
    up.headers.forEach((v, k) => {
      if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k)) outHeaders[k] = v;
    });
    res.writeHead(up.status, { ...outHeaders, 'content-length': String(out.length) });
    res.end(out);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    arrivals,
    inject: (r) => rules.push(r),
    clearFaults: () => rules.splice(0),
    get scheduledActionQuota() {
      return state.quota;
    },
    set scheduledActionQuota(q: number | undefined) {
      state.quota = q;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answerError(res: ServerResponse, c: { op: string; body: Record<string, unknown>; calls: ProxiedCall[] }, e: { status: number; type: string; message: string }): void {
  c.calls.push({ op: c.op, status: e.status, body: c.body });
  const payload = JSON.stringify({ __type: e.type, message: e.message });
  res.writeHead(e.status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': e.type, 'content-length': String(Buffer.byteLength(payload)) });
  res.end(payload);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** True when a new (not an update of an existing name) action would exceed the quota of its target. */
async function overQuota(upstream: string, req: IncomingMessage, body: Record<string, unknown>, quota: number): Promise<boolean> {
  const listing = await fetch(upstream + (req.url ?? '/'), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'AnyScaleFrontendService.DescribeScheduledActions',
      authorization: String(req.headers.authorization ?? ''),
      'x-amz-date': String(req.headers['x-amz-date'] ?? ''),
    },
    body: JSON.stringify({ ServiceNamespace: body.ServiceNamespace, ResourceId: body.ResourceId, ScalableDimension: body.ScalableDimension }),
  });
  const out = (await listing.json()) as { ScheduledActions?: { ScheduledActionName?: string; ResourceId?: string }[] };
  const existing = (out.ScheduledActions ?? []).filter((a) => a.ResourceId === body.ResourceId);
  if (existing.some((a) => a.ScheduledActionName === body.ScheduledActionName)) return false;
  return existing.length >= quota;
}
