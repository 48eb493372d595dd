import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { parseAllDocuments } from 'yaml';

/**
 * A loopback stand-in for kube-apiserver covering exactly what prescale calls: discovery, CloneSets (from the
 * CRD fixture, including its scale subresource paths and printer columns), HorizontalPodAutoscalers
 * (autoscaling/v2) and Leases (coordination.k8s.io/v1). It follows the apiserver's rules where prescale
 * depends on them: patch content types per kind of resource (a CRD refuses strategic merge patch with 415),
 * resourceVersion preconditions (409), Status bodies with the apiserver's reasons and messages, MicroTime
 * validation of Lease times. Faults can be injected for the next N matching requests, and every request is
 * recorded so a test can compare the calls made with the RBAC list.
 */

export const CRD_PATH = '/work/shared/fixtures/k8s/apps.kruise.io_clonesets.v1.9.0.yaml';

type Obj = Record<string, unknown>;

export interface RecordedCall {
  readonly method: string;
  readonly path: string;
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly subresource: string;
  readonly verb: string;
  readonly namespace: string;
  readonly name: string;
  readonly contentType: string;
  status: number;
}

export type FaultKind = 403 | 409 | 500 | 'timeout';

export interface FaultMatch {
  readonly method?: string;
  readonly resource?: string;
  readonly subresource?: string;
  readonly verb?: string;
}

interface Fault {
  readonly kind: FaultKind;
  remaining: number;
  readonly match: FaultMatch;
}

interface Hook {
  readonly match: FaultMatch;
  readonly run: () => void;
}

interface ResourceDef {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly singular: string;
  readonly kind: string;
  readonly shortNames: string[];
  readonly verbs: string[];
  /** Patch media types the apiserver accepts for this resource (CRDs: no strategic merge patch). */
  readonly patchTypes: string[];
  readonly scale?: { specReplicasPath: string[]; statusReplicasPath: string[]; labelSelectorPath: string[] };
  readonly printerColumns?: { name: string; type: string; jsonPath: string; priority: number; description?: string }[];
  readonly categories?: string[];
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const BUILTIN_PATCH = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'];
const CRD_PATCH = ['application/json-patch+json', 'application/merge-patch+json'];
/** metav1.MicroTime is parsed with RFC3339Micro: exactly six fractional digits. */
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly status: Obj,
  ) {
    super(String(status.message));
  }
}

function statusBody(code: number, reason: string, message: string, details?: Obj): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

function qualified(def: ResourceDef): string {
  return def.group ? `${def.plural}.${def.group}` : def.plural;
}

function notFound(def: ResourceDef, name: string): HttpError {
  return new HttpError(404, statusBody(404, 'NotFound', `${qualified(def)} "${name}" not found`, { name, group: def.group, kind: def.plural }));
}

function conflict(def: ResourceDef, name: string): HttpError {
  return new HttpError(
    409,
    statusBody(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualified(def)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      { name, group: def.group, kind: def.plural },
    ),
  );
}

function invalid(kind: string, group: string, name: string, field: string, why: string): HttpError {
  const gk = group ? `${kind}.${group}` : kind;
  return new HttpError(
    422,
    statusBody(422, 'Invalid', `${gk} "${name}" is invalid: ${field}: ${why}`, {
      name,
      group,
      kind,
      causes: [{ reason: 'FieldValueInvalid', message: why, field }],
    }),
  );
}

function badRequest(message: string): HttpError {
  return new HttpError(400, statusBody(400, 'BadRequest', message));
}

function dotPath(p: string): string[] {
  return p.replace(/^\./, '').split('.');
}

function getPath(o: unknown, path: readonly string[]): unknown {
  let cur = o;
  for (const k of path) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Obj)[k];
  }
  return cur;
}

function setPath(o: Obj, path: readonly string[], v: unknown): void {
  let cur = o;
  for (const k of path.slice(0, -1)) {
    if (!cur[k] || typeof cur[k] !== 'object') cur[k] = {};
    cur = cur[k] as Obj;
  }
  cur[path[path.length - 1]] = v;
}

/** A printer column's JSONPath, for the simple forms CRDs use: `.a.b` and `.a.b[*].c`. */
function evalJsonPath(o: unknown, jp: string): unknown {
  const m = /^(.*?)\[\*\](.*)$/.exec(jp);
  if (!m) return getPath(o, dotPath(jp));
  const arr = getPath(o, dotPath(m[1]));
  if (!Array.isArray(arr)) return undefined;
  return arr.map((x) => (m[2] ? getPath(x, dotPath(m[2])) : x)).join(',');
}

/** The apiserver prints `date` columns as an age: 45s, 3m, 5h, 2d. */
function shortAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Obj = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Obj) } : {};
  for (const [k, v] of Object.entries(patch as Obj)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 JSON patch (add, replace, remove, test) on object paths; enough for `/scale` and metadata. */
function jsonPatch(target: Obj, ops: unknown): Obj {
  if (!Array.isArray(ops)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  const doc = structuredClone(target);
  for (const op of ops as Obj[]) {
    const path = String(op.path ?? '')
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    switch (op.op) {
      case 'add':
      case 'replace':
        if (op.op === 'replace' && getPath(doc, path) === undefined) {
          throw new HttpError(422, statusBody(422, 'Invalid', `the server rejected our request due to an error in our request: replace operation does not apply: doc is missing key: ${String(op.path)}`));
        }
        setPath(doc, path, op.value);
        break;
      case 'remove': {
        const parent = getPath(doc, path.slice(0, -1));
        if (parent && typeof parent === 'object') delete (parent as Obj)[path[path.length - 1]];
        break;
      }
      case 'test':
        if (JSON.stringify(getPath(doc, path)) !== JSON.stringify(op.value)) {
          throw new HttpError(422, statusBody(422, 'Invalid', `the server rejected our request due to an error in our request: testing value ${String(op.path)} failed`));
        }
        break;
      default:
        throw badRequest(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
}

function loadCloneSetDef(crdPath: string): ResourceDef {
  const crd = parseAllDocuments(readFileSync(crdPath, 'utf8'))
    .map((d) => d.toJS() as Obj)
    .find((d) => d && d.kind === 'CustomResourceDefinition');
  if (!crd) throw new Error(`${crdPath}: no CustomResourceDefinition`);
  const spec = crd.spec as Obj;
  const names = spec.names as Obj;
  const versions = spec.versions as Obj[];
  const v = versions.find((x) => x.storage === true) ?? versions[0];
  const scale = getPath(v, ['subresources', 'scale']) as Obj | undefined;
  return {
    group: String(spec.group),
    version: String(v.name),
    plural: String(names.plural),
    singular: String(names.singular),
    kind: String(names.kind),
    shortNames: (names.shortNames as string[] | undefined) ?? [],
    verbs: VERBS,
    patchTypes: CRD_PATCH,
    scale: scale
      ? {
          specReplicasPath: dotPath(String(scale.specReplicasPath)),
          statusReplicasPath: dotPath(String(scale.statusReplicasPath)),
          labelSelectorPath: dotPath(String(scale.labelSelectorPath)),
        }
      : undefined,
    printerColumns: ((v.additionalPrinterColumns as Obj[] | undefined) ?? []).map((c) => ({
      name: String(c.name),
      type: String(c.type),
      jsonPath: String(c.jsonPath),
      priority: Number(c.priority ?? 0),
      description: c.description as string | undefined,
    })),
    categories: names.categories as string[] | undefined,
  };
}

const HPA_DEF: ResourceDef = {
  group: 'autoscaling',
  version: 'v2',
  plural: 'horizontalpodautoscalers',
  singular: 'horizontalpodautoscaler',
  kind: 'HorizontalPodAutoscaler',
  shortNames: ['hpa'],
  verbs: VERBS,
  patchTypes: BUILTIN_PATCH,
};

const LEASE_DEF: ResourceDef = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  singular: 'lease',
  kind: 'Lease',
  shortNames: [],
  verbs: VERBS,
  patchTypes: BUILTIN_PATCH,
};

export interface KubeStandInOptions {
  readonly crdPath?: string;
  /** Identity named in 403 messages, as the apiserver names the caller. */
  readonly user?: string;
  /** Bearer token a request must carry, else 401 (as an apiserver with token authentication). */
  readonly token?: string;
}

export class KubeStandIn {
  readonly calls: RecordedCall[] = [];
  private readonly defs: ResourceDef[];
  private readonly objects = new Map<string, Obj>();
  private rv = 1000;
  private faults: Fault[] = [];
  private hooks: Hook[] = [];
  private server?: Server;
  private readonly sockets = new Set<Duplex>();
  private readonly user: string;
  private readonly token: string;
  url = '';

  constructor(o: KubeStandInOptions = {}) {
    this.defs = [loadCloneSetDef(o.crdPath ?? CRD_PATH), HPA_DEF, LEASE_DEF];
    this.user = o.user ?? 'system:serviceaccount:prescale:prescale';
    this.token = o.token ?? 'standin-token';
  }

  get cloneSetDef(): ResourceDef {
    return this.defs[0];
  }

  /**
   * A started stand-in and a fresh temporary directory (named from `prefix`) holding its kubeconfig file, for
   * tests that hand a kubeconfig path to kubectl, `KubeClient.fromOptions` or a prescale config.
   */
  static async startWithKubeconfigFile(prefix: string): Promise<{ standin: KubeStandIn; dir: string; kubeconfig: string }> {
    const standin = new KubeStandIn();
    await standin.start();
    const dir = mkdtempSync(join(tmpdir(), prefix));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, standin.kubeconfig());
    return { standin, dir, kubeconfig };
  }

  /** Serves HTTPS on a free 127.0.0.1 port with a fresh self-signed certificate (clients skip verification). */
  async start(): Promise<string> {
    const pems = await generate([{ name: 'commonName', value: 'kube-standin' }], { keySize: 2048 });
    const server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
      void this.handle(req, res);
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** A kubeconfig (YAML text) pointing at this stand-in, for kubectl and client-node alike. */
  kubeconfig(): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: standin',
      '  cluster:',
      `    server: ${this.url}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: prescale',
      '  user:',
      `    token: ${this.token}`,
      'contexts:',
      '- name: standin',
      '  context:',
      '    cluster: standin',
      '    user: prescale',
      '    namespace: default',
      'current-context: standin',
      '',
    ].join('\n');
  }

  // ---- seeding and inspection ----

  private key(def: ResourceDef, ns: string, name: string): string {
    return `${def.group}/${def.plural}/${ns}/${name}`;
  }

  private nextRv(): string {
    this.rv += 1;
    return String(this.rv);
  }

  private stamp(def: ResourceDef, ns: string, obj: Obj): Obj {
    const meta = { ...((obj.metadata as Obj | undefined) ?? {}) };
    meta.namespace = ns;
    meta.uid ??= randomUUID();
    meta.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    meta.resourceVersion = this.nextRv();
    meta.generation ??= 1;
    return { ...obj, apiVersion: def.group ? `${def.group}/${def.version}` : def.version, kind: def.kind, metadata: meta };
  }

  addCloneSet(o: { namespace: string; name: string; replicas: number; updatedReplicas?: number; paused?: boolean; labels?: Record<string, string> }): void {
    const labels = o.labels ?? { app: o.name };
    const selector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const obj: Obj = {
      metadata: { name: o.name },
      spec: {
        replicas: o.replicas,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'main', image: 'nginx:1.27' }] } },
        updateStrategy: { type: 'ReCreate', ...(o.paused !== undefined ? { paused: o.paused } : {}) },
      },
      status: {
        replicas: o.replicas,
        readyReplicas: o.replicas,
        availableReplicas: o.replicas,
        updatedReplicas: o.updatedReplicas ?? o.replicas,
        updatedReadyReplicas: o.updatedReplicas ?? o.replicas,
        observedGeneration: 1,
        labelSelector: selector,
      },
    };
    this.objects.set(this.key(this.cloneSetDef, o.namespace, o.name), this.stamp(this.cloneSetDef, o.namespace, obj));
  }

  addHpa(o: { namespace: string; name: string; target: { apiVersion: string; kind: string; name: string } }): void {
    const obj: Obj = {
      metadata: { name: o.name },
      spec: {
        scaleTargetRef: o.target,
        minReplicas: 1,
        maxReplicas: 10,
        metrics: [{ type: 'External', external: { metric: { name: 'prescale_forecast_qps' }, target: { type: 'AverageValue', averageValue: '100' } } }],
      },
    };
    this.objects.set(this.key(HPA_DEF, o.namespace, o.name), this.stamp(HPA_DEF, o.namespace, obj));
  }

  getCloneSet(ns: string, name: string): Obj | undefined {
    return this.objects.get(this.key(this.cloneSetDef, ns, name));
  }

  getLease(ns: string, name: string): Obj | undefined {
    return this.objects.get(this.key(LEASE_DEF, ns, name));
  }

  deleteCloneSet(ns: string, name: string): void {
    this.objects.delete(this.key(this.cloneSetDef, ns, name));
  }

  /** Changes a CloneSet as its controller or another client would (bumps resourceVersion). */
  mutateCloneSet(ns: string, name: string, change: (o: Obj) => void): void {
    const k = this.key(this.cloneSetDef, ns, name);
    const o = this.objects.get(k);
    if (!o) throw new Error(`no CloneSet ${ns}/${name}`);
    const copy = structuredClone(o);
    change(copy);
    (copy.metadata as Obj).resourceVersion = this.nextRv();
    this.objects.set(k, copy);
  }

  /** The next `times` requests matching `match` fail with `kind` (a timeout never answers). */
  inject(kind: FaultKind, times = 1, match: FaultMatch = {}): void {
    this.faults.push({ kind, remaining: times, match });
  }

  /** Runs `run` once, right after the first request matching `match` has been answered. */
  after(match: FaultMatch, run: () => void): void {
    this.hooks.push({ match, run });
  }

  clearFaults(): void {
    this.faults = [];
    this.hooks = [];
  }

  // ---- request handling ----

  private send(res: ServerResponse, call: RecordedCall | undefined, code: number, body: unknown): void {
    if (call) call.status = code;
    res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://standin');
    const method = (req.method ?? 'GET').toUpperCase();
    let call: RecordedCall | undefined;
    try {
      if (req.headers.authorization !== `Bearer ${this.token}`) throw new HttpError(401, statusBody(401, 'Unauthorized', 'Unauthorized'));
      const disc = this.discovery(url.pathname);
      if (disc !== undefined) {
        if (method !== 'GET') throw new HttpError(405, statusBody(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
        this.send(res, undefined, 200, disc);
        return;
      }
      const route = this.route(url.pathname, method, url.searchParams);
      call = { ...route.call, method, path: url.pathname, contentType: String(req.headers['content-type'] ?? ''), status: 0 };
      this.calls.push(call);
      const fault = this.takeFault(call);
      if (fault === 'timeout') return; // never answered; stop() destroys the socket
      if (fault !== undefined) throw this.faultError(fault, call, route.def);
      const { code, body } = this.serve(route, { method, raw, contentType: call.contentType, accept: String(req.headers.accept ?? '') });
      this.send(res, call, code, body);
    } catch (err) {
      if (err instanceof HttpError) this.send(res, call, err.code, err.status);
      else this.send(res, call, 500, statusBody(500, 'InternalError', `Internal error occurred: ${String(err)}`));
    }
    if (call) this.runHooks(call);
  }

  private matches(m: FaultMatch, c: RecordedCall): boolean {
    return (
      (m.method === undefined || m.method === c.method) &&
      (m.resource === undefined || m.resource === c.resource) &&
      (m.subresource === undefined || m.subresource === c.subresource) &&
      (m.verb === undefined || m.verb === c.verb)
    );
  }

  private takeFault(c: RecordedCall): FaultKind | undefined {
    const f = this.faults.find((x) => x.remaining > 0 && this.matches(x.match, c));
    if (!f) return undefined;
    f.remaining -= 1;
    return f.kind;
  }

  private runHooks(c: RecordedCall): void {
    const i = this.hooks.findIndex((h) => this.matches(h.match, c));
    if (i < 0) return;
    const [h] = this.hooks.splice(i, 1);
    h.run();
  }

  private faultError(kind: Exclude<FaultKind, 'timeout'>, c: RecordedCall, def: ResourceDef): HttpError {
    switch (kind) {
      case 403: {
        const res = c.subresource ? `${c.resource}/${c.subresource}` : c.resource;
        const subject = c.name ? `${qualified(def)} "${c.name}"` : qualified(def);
        return new HttpError(
          403,
          statusBody(403, 'Forbidden', `${subject} is forbidden: User "${this.user}" cannot ${c.verb} resource "${res}" in API group "${c.group}" in the namespace "${c.namespace}"`, {
            ...(c.name ? { name: c.name } : {}),
            group: c.group,
            kind: c.resource,
          }),
        );
      }
      case 409:
        return conflict(def, c.name);
      case 500:
        return new HttpError(500, statusBody(500, 'InternalError', 'Internal error occurred: etcdserver: request timed out', { causes: [{ message: 'etcdserver: request timed out' }] }));
      default: {
        const never: never = kind;
        throw new Error(`unknown fault ${String(never)}`);
      }
    }
  }

  private discovery(path: string): unknown {
    const p = path.replace(/\/$/, '');
    if (p === '/version') return { major: '1', minor: '32', gitVersion: 'v1.32.0-prescale-standin', platform: 'linux/amd64' };
    if (p === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.url.replace(/^https:\/\//, '') }] };
    // kubectl treats an empty core list as a discovery failure, and looks up the namespace after a NotFound.
    if (p === '/api/v1') {
      return { kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['get', 'list'], shortNames: ['ns'] }] };
    }
    const nsm = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(p);
    if (nsm) return { kind: 'Namespace', apiVersion: 'v1', metadata: { name: nsm[1] }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
    const groups = [...new Set(this.defs.map((d) => d.group))].map((g) => this.apiGroup(g));
    if (p === '/apis') return { kind: 'APIGroupList', apiVersion: 'v1', groups };
    const gm = /^\/apis\/([^/]+)$/.exec(p);
    if (gm) return this.defs.some((d) => d.group === gm[1]) ? { kind: 'APIGroup', apiVersion: 'v1', ...this.apiGroup(gm[1]) } : undefined;
    const vm = /^\/apis\/([^/]+)\/([^/]+)$/.exec(p);
    if (vm) {
      const defs = this.defs.filter((d) => d.group === vm[1] && d.version === vm[2]);
      if (defs.length === 0) return undefined;
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${vm[1]}/${vm[2]}`, resources: defs.flatMap((d) => this.apiResources(d)) };
    }
    return undefined;
  }

  private apiGroup(g: string): Obj {
    const versions = this.defs.filter((d) => d.group === g).map((d) => ({ groupVersion: `${g}/${d.version}`, version: d.version }));
    return { name: g, versions, preferredVersion: versions[0] };
  }

  private apiResources(d: ResourceDef): Obj[] {
    const main: Obj = { name: d.plural, singularName: d.singular, namespaced: true, kind: d.kind, verbs: d.verbs, ...(d.shortNames.length ? { shortNames: d.shortNames } : {}), ...(d.categories ? { categories: d.categories } : {}) };
    const out = [main];
    if (d.scale) out.push({ name: `${d.plural}/scale`, singularName: '', namespaced: true, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
    if (d === this.cloneSetDef) out.push({ name: `${d.plural}/status`, singularName: '', namespaced: true, kind: d.kind, verbs: ['get', 'patch', 'update'] });
    return out;
  }

  private route(path: string, method: string, q: URLSearchParams): { def: ResourceDef; call: Omit<RecordedCall, 'method' | 'path' | 'contentType' | 'status'> } {
    const m = /^\/apis\/([^/]+)\/([^/]+)\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?\/?$/.exec(path);
    const nf = new HttpError(404, statusBody(404, 'NotFound', 'the server could not find the requested resource', {}));
    if (!m) throw nf;
    const [, group, version, ns = '', resource, name = '', sub = ''] = m;
    const def = this.defs.find((d) => d.group === group && d.version === version && d.plural === resource);
    if (!def) throw nf;
    if (sub && !(sub === 'scale' && def.scale) && !(sub === 'status' && def === this.cloneSetDef)) throw nf;
    const verb = this.verbOf(method, Boolean(name), q);
    return { def, call: { group, version, resource, subresource: sub, verb, namespace: ns, name } };
  }

  private verbOf(method: string, named: boolean, q: URLSearchParams): string {
    switch (method) {
      case 'GET':
        return named ? 'get' : q.get('watch') === 'true' || q.get('watch') === '1' ? 'watch' : 'list';
      case 'POST':
        return 'create';
      case 'PUT':
        return 'update';
      case 'PATCH':
        return 'patch';
      case 'DELETE':
        return named ? 'delete' : 'deletecollection';
      default:
        throw new HttpError(405, statusBody(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
    }
  }

  private serve(
    route: { def: ResourceDef; call: Omit<RecordedCall, 'method' | 'path' | 'contentType' | 'status'> },
    r: { method: string; raw: string; contentType: string; accept: string },
  ): { code: number; body: unknown } {
    const { def, call } = route;
    const ns = call.namespace;
    if (!ns) throw new HttpError(405, statusBody(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
    switch (call.verb) {
      case 'list':
        return { code: 200, body: this.list(def, ns, r.accept) };
      case 'get': {
        const o = this.mustGet(def, ns, call.name);
        if (call.subresource === 'scale') return { code: 200, body: this.scaleOf(def, o) };
        return { code: 200, body: r.accept.includes('as=Table') ? this.table(def, [o], r.accept) : o };
      }
      case 'create':
        return { code: 201, body: this.create(def, ns, this.parseBody(r.raw)) };
      case 'update':
        return { code: 200, body: this.update(def, call, this.parseBody(r.raw)) };
      case 'patch':
        return { code: 200, body: this.patch(def, call, r) };
      case 'delete': {
        const o = this.mustGet(def, ns, call.name);
        this.objects.delete(this.key(def, ns, call.name));
        return { code: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: call.name, group: def.group, kind: def.plural, uid: (o.metadata as Obj).uid } } };
      }
      default:
        throw new HttpError(405, statusBody(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
    }
  }

  private parseBody(raw: string): Obj {
    try {
      const v = JSON.parse(raw) as unknown;
      if (!v || typeof v !== 'object') throw new Error('not an object');
      return v as Obj;
    } catch (err) {
      throw badRequest(`the object provided is unrecognized: ${String(err)}`);
    }
  }

  private mustGet(def: ResourceDef, ns: string, name: string): Obj {
    const o = this.objects.get(this.key(def, ns, name));
    if (!o) throw notFound(def, name);
    return o;
  }

  private list(def: ResourceDef, ns: string, accept: string): Obj {
    const items = [...this.objects.entries()].filter(([k]) => k.startsWith(`${def.group}/${def.plural}/${ns}/`)).map(([, o]) => o);
    if (accept.includes('as=Table')) return this.table(def, items, accept);
    return { apiVersion: `${def.group}/${def.version}`, kind: `${def.kind}List`, metadata: { resourceVersion: String(this.rv) }, items };
  }

  /** Server-side printing (what kubectl asks for), with the CRD's additionalPrinterColumns. */
  private table(def: ResourceDef, items: Obj[], accept: string): Obj {
    const cols = [{ name: 'Name', type: 'string', format: 'name', description: 'Name', priority: 0, jsonPath: '.metadata.name' }, ...(def.printerColumns ?? [])];
    const version = /v=v1beta1/.test(accept) ? 'v1beta1' : 'v1';
    return {
      kind: 'Table',
      apiVersion: `meta.k8s.io/${version}`,
      metadata: { resourceVersion: String(this.rv) },
      columnDefinitions: cols.map((c) => ({ name: c.name, type: c.type, format: 'format' in c ? c.format : '', description: c.description ?? '', priority: c.priority })),
      rows: items.map((o) => ({
        cells: cols.map((c) => {
          const v = evalJsonPath(o, c.jsonPath) ?? null;
          return c.type === 'date' && typeof v === 'string' ? shortAge(Date.now() - Date.parse(v)) : v;
        }),
        object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
      })),
    };
  }

  private scaleOf(def: ResourceDef, o: Obj): Obj {
    const sc = def.scale;
    if (!sc) throw new HttpError(404, statusBody(404, 'NotFound', 'the server could not find the requested resource', {}));
    const meta = o.metadata as Obj;
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: meta.name, namespace: meta.namespace, uid: meta.uid, resourceVersion: meta.resourceVersion, creationTimestamp: meta.creationTimestamp },
      spec: { replicas: getPath(o, sc.specReplicasPath) ?? 0 },
      status: { replicas: getPath(o, sc.statusReplicasPath) ?? 0, selector: getPath(o, sc.labelSelectorPath) ?? '' },
    };
  }

  private validate(def: ResourceDef, name: string, o: Obj): void {
    if (def === LEASE_DEF) {
      for (const f of ['acquireTime', 'renewTime']) {
        const v = getPath(o, ['spec', f]);
        if (v !== undefined && v !== null && !(typeof v === 'string' && MICRO_TIME.test(v))) {
          // What the apiserver's MicroTime decoder says for a time without six fractional digits.
          throw badRequest(`Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse ${JSON.stringify(String(v).slice(19))} as ".000000"`);
        }
      }
      const d = getPath(o, ['spec', 'leaseDurationSeconds']);
      if (d !== undefined && !(typeof d === 'number' && Number.isInteger(d) && d > 0)) {
        throw invalid('Lease', def.group, name, 'spec.leaseDurationSeconds', `Invalid value: ${JSON.stringify(d)}: must be greater than 0`);
      }
    }
  }

  private create(def: ResourceDef, ns: string, body: Obj): Obj {
    const name = String(getPath(body, ['metadata', 'name']) ?? '');
    if (!name) throw invalid(def.kind, def.group, '', 'metadata.name', 'Required value: name or generateName is required');
    if (getPath(body, ['metadata', 'resourceVersion'])) {
      throw badRequest('resourceVersion should not be set on objects to be created');
    }
    if (this.objects.has(this.key(def, ns, name))) {
      throw new HttpError(409, statusBody(409, 'AlreadyExists', `${qualified(def)} "${name}" already exists`, { name, group: def.group, kind: def.plural }));
    }
    this.validate(def, name, body);
    const o = this.stamp(def, ns, body);
    this.objects.set(this.key(def, ns, name), o);
    return o;
  }

  private update(def: ResourceDef, c: { namespace: string; name: string; subresource: string }, body: Obj): Obj {
    const cur = this.mustGet(def, c.namespace, c.name);
    const rv = getPath(body, ['metadata', 'resourceVersion']);
    const curRv = (cur.metadata as Obj).resourceVersion;
    if (c.subresource === 'scale') {
      if (rv !== undefined && rv !== '' && rv !== curRv) throw conflict(def, c.name);
      return this.writeScale(def, cur, body);
    }
    // The apiserver requires a resourceVersion on update of these kinds (no unconditional update).
    if (rv === undefined || rv === '') {
      throw invalid(def.kind, def.group, c.name, 'metadata.resourceVersion', 'Invalid value: 0x0: must be specified for an update');
    }
    if (rv !== curRv) throw conflict(def, c.name);
    this.validate(def, c.name, body);
    const meta = { ...(cur.metadata as Obj), ...((body.metadata as Obj | undefined) ?? {}) };
    const next: Obj = { ...body, metadata: meta };
    if (def === this.cloneSetDef && c.subresource !== 'status') next.status = cur.status;
    if (c.subresource === 'status') next.spec = cur.spec;
    return this.store(def, c, next, cur);
  }

  private store(def: ResourceDef, c: { namespace: string; name: string }, next: Obj, cur: Obj): Obj {
    const meta = { ...(next.metadata as Obj) };
    meta.uid = (cur.metadata as Obj).uid;
    meta.name = c.name;
    meta.namespace = c.namespace;
    meta.creationTimestamp = (cur.metadata as Obj).creationTimestamp;
    if (JSON.stringify(next.spec) !== JSON.stringify(cur.spec)) meta.generation = Number((cur.metadata as Obj).generation ?? 1) + 1;
    meta.resourceVersion = this.nextRv();
    const o = { ...next, apiVersion: cur.apiVersion, kind: cur.kind, metadata: meta };
    this.objects.set(this.key(def, c.namespace, c.name), o);
    return o;
  }

  private writeScale(def: ResourceDef, cur: Obj, scale: Obj): Obj {
    const sc = def.scale;
    const name = String((cur.metadata as Obj).name);
    if (!sc) throw notFound(def, name);
    const replicas = getPath(scale, ['spec', 'replicas']);
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw invalid('Scale', 'autoscaling', name, 'spec.replicas', `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`);
    }
    const next = structuredClone(cur);
    setPath(next, sc.specReplicasPath, replicas);
    const ns = String((cur.metadata as Obj).namespace);
    const stored = this.store(def, { namespace: ns, name }, next, cur);
    return this.scaleOf(def, stored);
  }

  private patch(def: ResourceDef, c: { namespace: string; name: string; subresource: string }, r: { raw: string; contentType: string }): Obj {
    const ct = r.contentType.split(';')[0].trim().toLowerCase();
    if (!def.patchTypes.includes(ct)) {
      throw new HttpError(
        415,
        statusBody(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${def.patchTypes.join(', ')}`),
      );
    }
    const cur = this.mustGet(def, c.namespace, c.name);
    const base = c.subresource === 'scale' ? this.scaleOf(def, cur) : cur;
    let patched: Obj;
    if (ct === 'application/json-patch+json') {
      let ops: unknown;
      try {
        ops = JSON.parse(r.raw);
      } catch (err) {
        throw badRequest(`error decoding patch: ${String(err)}`);
      }
      patched = jsonPatch(base, ops);
    } else {
      // Strategic merge patch on the built-in kinds used here has no list merge keys prescale relies on.
      patched = mergePatch(base, this.parseBody(r.raw)) as Obj;
    }
    const rv = getPath(patched, ['metadata', 'resourceVersion']);
    const curRv = (cur.metadata as Obj).resourceVersion;
    // A resourceVersion in a patch is a precondition (optimistic concurrency), as in the apiserver.
    if (rv !== undefined && rv !== curRv) throw conflict(def, c.name);
    if (c.subresource === 'scale') return this.writeScale(def, cur, patched);
    this.validate(def, c.name, patched);
    if (c.subresource === 'status') patched.spec = cur.spec;
    else if (def === this.cloneSetDef) patched.status = cur.status;
    return this.store(def, c, patched, cur);
  }
}

/** Where the fixture CRDs live, for tests that read them. */
export const FIXTURES_K8S = join('/work/shared/fixtures/k8s');
