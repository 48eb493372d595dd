import https from 'node:https';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ActuatorSnapshot, TargetSnapshot } from '../service/state.js';
import { servedValue, type StalePolicy, type ValueOptions } from './served.js';
import type { Clock } from '../util/clock.js';
import { InputError, errorMessage } from '../util/errors.js';
import { log } from '../obs/log.js';
import { formatQuantity } from './quantity.js';
import { parseSelector, SelectorError, type Selector } from './selector.js';
import {
  authenticate,
  requestHeaderConfigFromConfigMap,
  requestHeaderConfigFromFiles,
  type AccessRequest,
  type Authorizer,
  type ConfigMapReader,
  type RequestHeaderConfig,
} from './auth.js';

export const GROUP = 'external.metrics.k8s.io';
export const VERSION = 'v1beta1';
export const GROUP_VERSION = `${GROUP}/${VERSION}`;
export const METRIC_NAMES = ['prescale-qps', 'prescale-replicas'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** The read side of the StateStore: all this server needs. */
export interface SnapshotSource {
  list(): readonly TargetSnapshot[];
}

export { servedValue, type ServedValue, type StalePolicy, type ValueOptions, type ValueResult } from './served.js';

interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  code: number;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

export function statusBody(code: number, message: string): StatusBody {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: REASONS[code] ?? 'Unknown', code };
}

export function apiResourceList(): object {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: GROUP_VERSION,
    resources: METRIC_NAMES.map((name) => ({ name, singularName: '', namespaced: true, kind: 'ExternalMetricValueList', verbs: ['get'] })),
  };
}

function apiGroup(): object {
  const gv = { groupVersion: GROUP_VERSION, version: VERSION };
  return { kind: 'APIGroup', apiVersion: 'v1', name: GROUP, versions: [gv], preferredVersion: gv };
}

function discoveryBody(path: string): object | undefined {
  if (path === `/apis/${GROUP_VERSION}`) return apiResourceList();
  if (path === `/apis/${GROUP}`) return apiGroup();
  if (path === '/apis') return { kind: 'APIGroupList', apiVersion: 'v1', groups: [apiGroup()] };
  return undefined;
}

/** RFC 3339 in whole seconds, as metav1.Time marshals. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export interface MetricItem {
  metricName: MetricName;
  metricLabels: Record<string, string>;
  timestamp: string;
  window: number;
  value: string;
}

/** The item for one actuator; undefined when it is not selected, a message when it cannot be served. */
function itemFor(t: TargetSnapshot, a: ActuatorSnapshot, o: { ns: string; metric: MetricName; selector: Selector } & ValueOptions): MetricItem | string | undefined {
  if (a.kind !== 'cloneset' || a.namespace !== o.ns || a.name === undefined) return undefined;
  const metricLabels: Record<string, string> = { target: t.name, namespace: a.namespace, cloneset: a.name };
  if (!o.selector.matches(metricLabels)) return undefined;
  const r = servedValue(t, a, o);
  if (!r.ok) return r.message;
  if (r.value.stale) metricLabels.stale = 'true';
  const v = o.metric === 'prescale-qps' ? r.value.qps : r.value.replicas;
  return { metricName: o.metric, metricLabels, timestamp: rfc3339(r.value.atMs), window: r.value.windowSeconds, value: formatQuantity(v) };
}

export type ListResult = { readonly code: 200; readonly items: MetricItem[] } | { readonly code: 404 | 503; readonly message: string };

/**
 * One item per CloneSet actuator in namespace `ns` whose labels (`target`, `namespace`, `cloneset`) match.
 * No match is a 404 Status, not an empty list: the HPA treats an empty list as an error anyway, and a Status
 * message says why in `kubectl describe hpa`. A matching item without a servable value is a 503 for the
 * whole list, because the HPA sums all items and a partial sum would be a silently wrong number.
 */
export function listMetric(o: { targets: readonly TargetSnapshot[]; ns: string; metric: MetricName; selector: Selector } & ValueOptions): ListResult {
  const items: MetricItem[] = [];
  const failures: string[] = [];
  for (const t of o.targets) {
    for (const a of t.actuators) {
      const it = itemFor(t, a, o);
      if (it === undefined) continue;
      if (typeof it === 'string') failures.push(it);
      else items.push(it);
    }
  }
  if (failures.length > 0) return { code: 503, message: failures.join('; ') };
  if (items.length === 0) {
    const sel = o.selector.toString();
    return { code: 404, message: `no CloneSet of a prescale target in namespace "${o.ns}"${sel ? ` matches labelSelector "${sel}"` : ''} (labels: target, namespace, cloneset)` };
  }
  return { code: 200, items };
}

export interface ExternalMetricsServerOptions {
  readonly store: SnapshotSource;
  readonly port: number;
  readonly host: string;
  /** PEM files of the serving certificate and key. */
  readonly tls: { readonly certFile: string; readonly keyFile: string };
  /** The request-header CA and allowed names: from files, or from kube-system/extension-apiserver-authentication. */
  readonly auth: { readonly clientCaFile: string; readonly allowedNames?: readonly string[] } | { readonly configMap: ConfigMapReader };
  /** Delegated authorization (SubjectAccessReview); without it every authenticated caller may read. */
  readonly authorizer?: Authorizer;
  readonly staleAfterSeconds: number;
  readonly stale: StalePolicy;
  readonly clock: Clock;
  /** Re-read certificates and the request-header CA this often (rotation); 0 = never. Default 300. */
  readonly reloadSeconds?: number;
}

export interface ExternalMetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

async function loadAuth(a: ExternalMetricsServerOptions['auth']): Promise<RequestHeaderConfig> {
  return 'configMap' in a ? requestHeaderConfigFromConfigMap(a.configMap) : requestHeaderConfigFromFiles(a);
}

async function readPem(file: string, key: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err: unknown) {
    throw new InputError(`metricsApi.${key}: cannot read ${file} (${errorMessage(err)})`, { cause: err });
  }
}

function send(res: ServerResponse, code: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
  res.end(text);
}

function sendStatus(res: ServerResponse, code: number, message: string): void {
  send(res, code, statusBody(code, message));
}

const METRIC_PATH = `/apis/${GROUP_VERSION}/namespaces/`;
const SELECTOR_CACHE_MAX = 256;

function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

function isMetricName(s: string): s is MetricName {
  return (METRIC_NAMES as readonly string[]).includes(s);
}

function shown(s: string): string {
  return JSON.stringify(s.length > 64 ? s.slice(0, 64) + '…' : s);
}

/** A Status to answer when delegated authorization does not allow the request. */
async function authorizationProblem(authorizer: Authorizer, r: AccessRequest): Promise<{ code: 403 | 500; message: string } | undefined> {
  let verdict: { allowed: boolean; reason?: string };
  try {
    verdict = await authorizer.authorize(r);
  } catch (err: unknown) {
    log.error({ err: errorMessage(err) }, 'SubjectAccessReview failed');
    return { code: 500, message: `authorization failed: ${errorMessage(err)}` };
  }
  if (verdict.allowed) return undefined;
  const why = verdict.reason ? `: ${verdict.reason}` : '';
  return { code: 403, message: `forbidden: User "${r.user.name}" cannot get resource "${r.resource}" in API group "${GROUP}" in the namespace "${r.namespace}"${why}` };
}

interface Handler {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  setAuth(cfg: RequestHeaderConfig): void;
}

function createHandler(o: ExternalMetricsServerOptions, initialAuth: RequestHeaderConfig): Handler {
  let auth = initialAuth;
  const selectors = new Map<string, Selector>();
  const staleWarnedAt = new Map<string, number>();

  const selectorFor = (text: string): Selector => {
    let s = selectors.get(text);
    if (!s) {
      s = parseSelector(text);
      if (selectors.size >= SELECTOR_CACHE_MAX) selectors.clear();
      selectors.set(text, s);
    }
    return s;
  };

  const warnStale = (items: MetricItem[], nowMs: number): void => {
    for (const it of items) {
      if (it.metricLabels.stale !== 'true') continue;
      const key = `${it.metricLabels.target}/${it.metricLabels.cloneset}`;
      if (nowMs - (staleWarnedAt.get(key) ?? -Infinity) < 60_000) continue;
      staleWarnedAt.set(key, nowMs);
      log.warn({ target: it.metricLabels.target, cloneset: it.metricLabels.cloneset, metric: it.metricName }, 'serving observed load (the forecast is stale, or the target is paused)');
    }
  };

  const metric = async (req: IncomingMessage, res: ServerResponse, rest: string, query: string): Promise<void> => {
    const parts = rest.split('/');
    if (parts.length !== 2) return sendStatus(res, 404, `the server could not find the requested resource ${shown(rest)}`);
    const ns = decodeSegment(parts[0]);
    const name = decodeSegment(parts[1]);
    if (ns === undefined || name === undefined) return sendStatus(res, 400, 'malformed percent-encoding in the path');
    if (!isMetricName(name)) return sendStatus(res, 404, `unknown external metric ${shown(name)}; this server serves ${METRIC_NAMES.join(', ')}`);
    const a = authenticate(req, auth);
    if (!a.ok) return sendStatus(res, a.code, a.message);
    const denied = o.authorizer ? await authorizationProblem(o.authorizer, { user: a.user, verb: 'get', namespace: ns, resource: name }) : undefined;
    if (denied) return sendStatus(res, denied.code, denied.message);
    let selector: Selector;
    try {
      selector = selectorFor(new URLSearchParams(query).get('labelSelector') ?? '');
    } catch (err: unknown) {
      if (err instanceof SelectorError) return sendStatus(res, 400, err.message);
      throw err;
    }
    const nowMs = o.clock.now();
    const r = listMetric({ targets: o.store.list(), ns, metric: name, selector, nowMs, staleAfterSeconds: o.staleAfterSeconds, stale: o.stale });
    if (r.code !== 200) return sendStatus(res, r.code, r.message);
    warnStale(r.items, nowMs);
    send(res, 200, { kind: 'ExternalMetricValueList', apiVersion: GROUP_VERSION, metadata: {}, items: r.items });
  };

  const discovery = (req: IncomingMessage, res: ServerResponse, body: object): void => {
    const a = authenticate(req, auth);
    if (!a.ok) return sendStatus(res, a.code, a.message);
    send(res, 200, body);
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const query = q >= 0 ? url.slice(q + 1) : '';
    // Probes are anonymous, as kube-apiserver's are (system:public-info-viewer).
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendStatus(res, 405, `method ${req.method ?? ''} is not allowed: this API is read-only`);
    if (path.startsWith(METRIC_PATH)) return metric(req, res, path.slice(METRIC_PATH.length), query);
    const body = discoveryBody(path.replace(/\/+$/, ''));
    // Anything else, /openapi/v2 and /openapi/v3 included: the aggregator skips an API server without OpenAPI.
    if (!body) return sendStatus(res, 404, `the server could not find the requested resource ${shown(path)}`);
    return discovery(req, res, body);
  };

  return {
    setAuth: (cfg) => {
      auth = cfg;
    },
    handle: async (req, res) => {
      try {
        await route(req, res);
      } catch (err: unknown) {
        log.error({ err: errorMessage(err), url: req.url }, 'external metrics request failed');
        if (!res.headersSent) sendStatus(res, 500, 'internal error');
        else res.destroy();
      }
    },
  };
}

/**
 * Re-reads the serving certificate, key and request-header CA every `reloadSeconds` (rotation); a failed
 * read keeps the previous ones. New TLS settings apply to new connections.
 */
function startReloader(r: { o: ExternalMetricsServerOptions; server: https.Server; handler: Handler; last: { cert: string; key: string; ca: string } }): NodeJS.Timeout | undefined {
  const reloadMs = (r.o.reloadSeconds ?? 300) * 1000;
  if (!(reloadMs > 0)) return undefined;
  let last = r.last;
  const reload = async (): Promise<void> => {
    try {
      const [cert, key, a] = await Promise.all([readPem(r.o.tls.certFile, 'certFile'), readPem(r.o.tls.keyFile, 'keyFile'), loadAuth(r.o.auth)]);
      r.handler.setAuth(a);
      if (cert === last.cert && key === last.key && a.caPem === last.ca) return;
      r.server.setSecureContext({ cert, key, ca: a.caPem, minVersion: 'TLSv1.2' });
      last = { cert, key, ca: a.caPem };
      log.info({ port: (r.server.address() as AddressInfo).port }, 'external metrics API: certificates reloaded');
    } catch (err: unknown) {
      log.warn({ err: errorMessage(err) }, 'external metrics API: reload failed, keeping the previous certificates');
    }
  };
  const timer = setInterval(() => void reload(), reloadMs);
  timer.unref();
  return timer;
}

/**
 * Serves `external.metrics.k8s.io/v1beta1` over HTTPS from the service's state: discovery, `prescale-qps`
 * and `prescale-replicas` per CloneSet actuator, Status errors. The client certificate is requested on
 * every connection and checked against the request-header CA per request (see auth.ts).
 */
export async function startExternalMetricsServer(o: ExternalMetricsServerOptions): Promise<ExternalMetricsServer> {
  const [cert, key, auth] = await Promise.all([readPem(o.tls.certFile, 'certFile'), readPem(o.tls.keyFile, 'keyFile'), loadAuth(o.auth)]);
  const handler = createHandler(o, auth);
  let server: https.Server;
  try {
    // Short handshake and header deadlines: only kube-apiserver (and operators) talk to this port.
    server = https.createServer({ cert, key, ca: auth.caPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2', handshakeTimeout: 10_000 }, (req, res) => {
      void handler.handle(req, res);
    });
  } catch (err: unknown) {
    throw new InputError(`metricsApi: the serving certificate ${o.tls.certFile} or key ${o.tls.keyFile} is unusable (${errorMessage(err)})`, { cause: err });
  }
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.listen(o.port, o.host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e as Error))]);

  const timer = startReloader({ o, server, handler, last: { cert, key, ca: auth.caPem } });
  const port = (server.address() as AddressInfo).port;
  log.info({ host: o.host, port }, 'external metrics API listening');
  return {
    port,
    close: async () => {
      if (timer) clearInterval(timer);
      const closed = once(server, 'close');
      server.close();
      server.closeIdleConnections();
      await closed;
    },
  };
}
