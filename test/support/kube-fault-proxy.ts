import { readFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClusterInfo } from './cluster.js';

/**
 * An HTTPS layer in front of the real kube-apiserver for the faults a real server will not produce on demand:
 * a 409 twice in a row, a 403 or 500 on one call, a request that never answers, or a change made between two
 * requests of a cycle (a CloneSet deleted after it was read). Everything else is forwarded as it is, so what
 * prescale gets back is the real apiserver's answer. It serves with the apiserver's own certificate (valid for
 * 127.0.0.1), so a kubeconfig keeps the cluster CA; callers authenticate with bearer tokens, which pass through.
 */

export interface KubeRequest {
  readonly method: string;
  readonly path: string;
  /** '' for the core group. */
  readonly group: string;
  readonly resource: string;
  readonly subresource: string;
  readonly namespace: string;
  readonly name: string;
  /** get, list, watch, create, update, patch, delete. */
  readonly verb: string;
  readonly contentType: string;
}

export interface ProxiedKubeCall extends KubeRequest {
  status: number;
  /** True when the answer came from the proxy, not the apiserver. */
  injected: boolean;
}

export type KubeFault = 403 | 409 | 500 | 'timeout';

export interface KubeMatch {
  readonly verb?: string;
  readonly resource?: string;
  readonly subresource?: string;
  readonly name?: string;
}

export interface KubeFaultProxy {
  readonly server: string;
  readonly calls: ProxiedKubeCall[];
  /** The next `times` matching requests get `fault` instead of the apiserver's answer. */
  inject(fault: KubeFault, times: number, match: KubeMatch): void;
  /** Once, after the apiserver answered a matching request and before the caller sees it, runs `fn`. */
  after(match: KubeMatch, fn: () => Promise<void>): void;
  clearFaults(): void;
  close(): Promise<void>;
}

/** Reads a Kubernetes API path the way the apiserver's RequestInfo does, for the parts the tests match on. */
export function parseKubePath(method: string, url: string): Omit<KubeRequest, 'contentType'> {
  const [path, query = ''] = url.split('?');
  const parts = path.split('/').filter(Boolean);
  let i: number;
  let group: string;
  if (parts[0] === 'api') {
    group = '';
    i = 2;
  } else if (parts[0] === 'apis') {
    group = parts[1] ?? '';
    i = 3;
  } else return { method, path, group: '', resource: '', subresource: '', namespace: '', name: '', verb: method.toLowerCase() };
  let namespace = '';
  if (parts[i] === 'namespaces' && parts.length > i + 2) {
    namespace = parts[i + 1];
    i += 2;
  }
  const resource = parts[i] ?? '';
  const name = parts[i + 1] ?? '';
  const subresource = parts[i + 2] ?? '';
  const watch = /(^|&)watch=(1|true)/.test(query);
  const verb =
    method === 'GET' ? (watch ? 'watch' : name ? 'get' : 'list') : method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch' : method === 'DELETE' ? 'delete' : method.toLowerCase();
  return { method, path, group, resource, subresource, namespace, name, verb };
}

function matches(r: KubeRequest, m: KubeMatch): boolean {
  return (
    (m.verb === undefined || m.verb === r.verb) &&
    (m.resource === undefined || m.resource === r.resource) &&
    (m.subresource === undefined || m.subresource === r.subresource) &&
    (m.name === undefined || m.name === r.name)
  );
}

const REASONS: Record<number, string> = { 403: 'Forbidden', 409: 'Conflict', 500: 'InternalError' };

/** A Status body as kube-apiserver writes one for this kind of failure. */
function statusBody(code: 403 | 409 | 500, r: KubeRequest): string {
  const kind = `${r.resource}${r.group ? `.${r.group}` : ''}`;
  const message =
    code === 409
      ? `Operation cannot be fulfilled on ${kind} "${r.name}": the object has been modified; please apply your changes to the latest version and try again`
      : code === 403
        ? `${kind} "${r.name}" is forbidden: User "(the caller)" cannot ${r.verb} resource "${r.resource}${r.subresource ? `/${r.subresource}` : ''}" in API group "${r.group}" in the namespace "${r.namespace}" (injected by the fault proxy)`
        : 'Internal error occurred: injected by the fault proxy';
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: REASONS[code], details: { name: r.name, group: r.group, kind: r.resource }, code });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startKubeFaultProxy(cluster: ClusterInfo): Promise<KubeFaultProxy> {
  const faults: { fault: KubeFault; remaining: number; match: KubeMatch }[] = [];
  const hooks: { match: KubeMatch; fn: () => Promise<void> }[] = [];
  const calls: ProxiedKubeCall[] = [];
  const upstream = new URL(cluster.server);
  const agent = new Agent({ ca: readFileSync(cluster.pki.caCert), keepAlive: true });
  const held = new Set<ServerResponse>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const r: KubeRequest = { ...parseKubePath(req.method ?? 'GET', req.url ?? '/'), contentType: String(req.headers['content-type'] ?? '') };
    const call: ProxiedKubeCall = { ...r, status: 0, injected: false };
    calls.push(call);
    const f = faults.find((x) => x.remaining > 0 && matches(r, x.match));
    if (f) {
      f.remaining--;
      call.injected = true;
      if (f.fault === 'timeout') {
        // Never answered: the caller's own deadline has to fire.
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      }
      call.status = f.fault;
      const text = statusBody(f.fault, r);
      res.writeHead(f.fault, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
      return;
    }
    const headers = { ...req.headers, host: upstream.host };
    const up = await new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>((resolve, reject) => {
      const u = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers, agent }, (ur) => {
        readBody(ur).then((b) => resolve({ status: ur.statusCode ?? 502, headers: ur.headers, body: b }), reject);
      });
      u.on('error', reject);
      u.end(body);
    });
    call.status = up.status;
    const hookAt = hooks.findIndex((h) => matches(r, h.match));
    if (hookAt >= 0) await hooks.splice(hookAt, 1)[0].fn();
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !['content-length', 'transfer-encoding', 'connection'].includes(k)) out[k] = v;
    res.writeHead(up.status, { ...out, 'content-length': String(up.body.length) });
    res.end(up.body);
  };

  const server: Server = createServer({ cert: readFileSync(cluster.pki.apiserverCert), key: readFileSync(cluster.pki.apiserverKey) }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fault proxy: ${String(err)}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server: `https://127.0.0.1:${port}`,
    calls,
    inject: (fault, times, match) => faults.push({ fault, remaining: times, match }),
    after: (match, fn) => hooks.push({ match, fn }),
    clearFaults: () => {
      faults.splice(0);
      hooks.splice(0);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of held) r.destroy();
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
