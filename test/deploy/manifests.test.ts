import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { parseEventsCsv } from '../../src/events/events.js';
import { AWS_ACTIONS_USED, AWS_SERVICE_LINKED_ROLE_ACTION } from '../../src/aws/iam.js';
import { METRIC_NAMES, GROUP, VERSION } from '../../src/metrics-api/server.js';
import { METRICS_API_K8S_CALLS } from '../../src/metrics-api/auth.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DEPLOY = join(ROOT, 'deploy');

// Loose shapes: the tests below check the fields they rely on.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = any;

interface Doc {
  file: string;
  obj: Obj;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : []));
}

function load(file: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  return docs.flatMap((d, i) => {
    if (d.errors.length > 0) throw new Error(`${relative(ROOT, file)} document ${i}: ${d.errors.map((e) => e.message).join('; ')}`);
    const obj = d.toJS() as Obj;
    return obj === null ? [] : [{ file: relative(ROOT, file), obj }];
  });
}

// The Helm chart's files are Go templates and values, not manifests: test/deploy/helm.test.ts renders and checks them.
const all = yamlFiles(DEPLOY)
  .filter((f) => !relative(DEPLOY, f).startsWith('helm/'))
  .flatMap(load);
const base = all.filter((d) => d.file.startsWith('deploy/base/') && d.obj.kind !== 'Kustomization' && !d.file.endsWith('kustomization.yaml'));
const examples = all.filter((d) => d.file.startsWith('deploy/examples/'));

function one(docs: Doc[], kind: string, name?: string): Obj {
  const hits = docs.filter((d) => d.obj.kind === kind && (name === undefined || d.obj.metadata?.name === name));
  expect({ kind, name, count: hits.length }).toEqual({ kind, name, count: 1 });
  return hits[0].obj;
}

const deployment = one(base, 'Deployment');
const podSpec = deployment.spec.template.spec;
const container = podSpec.containers[0];
const service = one(base, 'Service');
const apiService = one(base, 'APIService');
const sa = one(base, 'ServiceAccount');
const configMap = one(base, 'ConfigMap', 'prescale-config');

function containerPort(ref: string | number): number | undefined {
  const p = (container.ports as Obj[]).find((x) => x.name === ref || x.containerPort === ref);
  return p?.containerPort;
}

function subset(labels: Record<string, string>, of: Record<string, string>): boolean {
  return Object.entries(labels).every(([k, v]) => of[k] === v);
}

describe('every manifest', () => {
  it.each(all.map((d) => [d.file, d.obj.kind, d.obj.metadata?.name ?? '(kustomization)', d.obj] as const))('%s %s %s is a Kubernetes object', (_f, _k, _n, obj) => {
    expect(typeof obj.apiVersion).toBe('string');
    expect(typeof obj.kind).toBe('string');
    if (obj.kind !== 'Kustomization') expect(obj.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$/);
  });

  it('the kustomization lists every base file, and kubectl kustomize renders it', () => {
    const k = load(join(DEPLOY, 'base', 'kustomization.yaml'))[0].obj;
    const listed = new Set<string>(k.resources);
    const files = readdirSync(join(DEPLOY, 'base')).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...listed].sort()).toEqual(files.sort());
    expect(k.namespace).toBeUndefined();
    const out = execFileSync('kubectl', ['kustomize', join(DEPLOY, 'base')], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: '/tmp' } });
    const rendered = parseAllDocuments(out).map((d) => d.toJS() as Obj);
    expect(rendered).toHaveLength(base.length);
    // The auth-reader binding must stay in kube-system: that is where the Role and the ConfigMap live.
    expect(rendered.find((o) => o.kind === 'RoleBinding' && o.roleRef.name === 'extension-apiserver-authentication-reader')?.metadata.namespace).toBe('kube-system');
    expect(rendered.find((o) => o.kind === 'Deployment').spec.template.spec.containers[0].image).toMatch(/^[^ ]+:[^ ]+$/);
  });

  it('namespaced objects live in the Namespace the base creates (or kube-system for the auth reader)', () => {
    const ns = one(base, 'Namespace').metadata.name;
    const cluster = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'APIService']);
    for (const d of base.filter((x) => !cluster.has(x.obj.kind))) {
      const want = d.obj.kind === 'RoleBinding' && d.obj.roleRef.name === 'extension-apiserver-authentication-reader' ? 'kube-system' : ns;
      expect({ file: d.file, name: d.obj.metadata.name, ns: d.obj.metadata.namespace }).toEqual({ file: d.file, name: d.obj.metadata.name, ns: want });
    }
  });
});

describe('Deployment, Service and APIService fit together', () => {
  it('selectors match the pod labels', () => {
    const podLabels = deployment.spec.template.metadata.labels;
    expect(subset(deployment.spec.selector.matchLabels, podLabels)).toBe(true);
    expect(subset(service.spec.selector, podLabels)).toBe(true);
  });

  it('Service 443 reaches container port 6443 and 8080 reaches the HTTP port', () => {
    const byPort = Object.fromEntries((service.spec.ports as Obj[]).map((p) => [p.port, containerPort(p.targetPort)]));
    expect(byPort).toEqual({ 443: 6443, 8080: 8080 });
  });

  it('the APIService registers external.metrics.k8s.io/v1beta1 on that Service, verified by a CA', () => {
    expect(apiService.metadata.name).toBe(`${VERSION}.${GROUP}`);
    expect(apiService.spec).toMatchObject({ group: GROUP, version: VERSION, groupPriorityMinimum: 100, versionPriority: 100 });
    expect(apiService.spec.service).toEqual({ name: service.metadata.name, namespace: service.metadata.namespace, port: 443 });
    expect(apiService.spec.insecureSkipTLSVerify).not.toBe(true);
  });

  it('runs 2 replicas as the ServiceAccount, non-root, read-only root, with probes on existing ports', () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(podSpec.serviceAccountName).toBe(sa.metadata.name);
    expect(sa.metadata.namespace).toBe(deployment.metadata.namespace);
    expect(podSpec.securityContext.runAsNonRoot).toBe(true);
    expect(podSpec.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    for (const p of [container.readinessProbe, container.livenessProbe, container.startupProbe]) expect(containerPort(p.httpGet.port)).toBe(8080);
    expect(container.resources.requests).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
    expect(container.resources.limits.memory).toEqual(expect.any(String));
    // Two replicas are safe only with leader election: one actor, two servers.
    expect(parseConfig(configMap.data['config.yaml'], 'deploy/base/config.yaml').leaderElection.enabled).toBe(true);
  });

  it('every volume mount has a volume, and the writable paths are volumes', () => {
    const volumes = new Map<string, Obj>((podSpec.volumes as Obj[]).map((v) => [v.name, v]));
    for (const m of container.volumeMounts as Obj[]) expect(volumes.has(m.name)).toBe(true);
    const mounts = (container.volumeMounts as Obj[]).map((m) => m.mountPath);
    expect(mounts).toEqual(expect.arrayContaining(['/tmp', '/etc/prescale']));
    expect(volumes.get('config').configMap.name).toBe(configMap.metadata.name);
  });
});

describe('the config ConfigMap', () => {
  const mount = (container.volumeMounts as Obj[]).find((m) => m.name === 'config').mountPath as string;
  const args = container.args as string[];
  const configPath = args[args.indexOf('--config') + 1];
  const key = relative(mount, configPath);
  const text = configMap.data[key] as string;
  const cfg = parseConfig(text, `deploy/base/config.yaml data.${key}`);
  const mountOf = (name: string): string => (container.volumeMounts as Obj[]).find((m) => m.name === name).mountPath;

  it('is the file the container is told to read, and passes the config schema', () => {
    expect(args[0]).toBe('serve');
    expect(configPath.startsWith(`${mount}/`)).toBe(true);
    expect(typeof text).toBe('string');
    expect(cfg.targets.length).toBeGreaterThan(0);
    expect(cfg.simulated).toBe(false);
  });

  it('listens where the container ports are and reads files from the mounted volumes', () => {
    expect(containerPort('https')).toBe(cfg.metricsApi.port);
    expect(containerPort('http')).toBe(cfg.http.port);
    expect(cfg.metricsApi).toMatchObject({ enabled: true, fromConfigMap: true });
    expect(cfg.metricsApi.certFile?.startsWith(`${mountOf('serving-cert')}/`)).toBe(true);
    expect(cfg.metricsApi.keyFile?.startsWith(`${mountOf('serving-cert')}/`)).toBe(true);
    expect(cfg.modelsDir).toBe(mountOf('models'));
    expect(cfg.leaderElection.enabled).toBe(true);
    const leases = base.find((d) => d.obj.kind === 'Role' && d.obj.rules.some((r: Obj) => r.resources.includes('leases')));
    expect(leases?.obj.metadata.namespace).toBe(cfg.leaderElection.namespace);
  });

  it('each eventsFile is a key of the same ConfigMap (mounted beside the config) holding a valid calendar', () => {
    const files = cfg.targets.flatMap((t) => (t.eventsFile ? [t.eventsFile] : []));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      expect(f.startsWith(`${mount}/`)).toBe(true);
      const csv = configMap.data[relative(mount, f)] as string;
      expect(typeof csv).toBe('string');
      expect(parseEventsCsv(csv, `deploy/base/config.yaml data.${relative(mount, f)}`)).toEqual([]);
    }
  });
});

describe('RBAC', () => {
  const subjectIsSa = (b: Obj): boolean => (b.subjects as Obj[]).some((s) => s.kind === 'ServiceAccount' && s.name === sa.metadata.name && s.namespace === sa.metadata.namespace);
  const bindings = base.filter((d) => (d.obj.kind === 'RoleBinding' || d.obj.kind === 'ClusterRoleBinding') && subjectIsSa(d.obj)).map((d) => d.obj);
  const roleOf = (b: Obj): Obj | undefined => base.find((d) => d.obj.kind === b.roleRef.kind && d.obj.metadata.name === b.roleRef.name && (b.roleRef.kind === 'ClusterRole' || d.obj.metadata.namespace === b.metadata.namespace))?.obj;
  const rules: Obj[] = bindings.flatMap((b) => roleOf(b)?.rules ?? []);
  const grants = (group: string, resource: string, verb: string): boolean =>
    rules.some((r) => (r.apiGroups as string[]).includes(group) && (r.resources as string[]).includes(resource) && ((r.verbs as string[]).includes(verb) || (r.verbs as string[]).includes('*')));

  it('binds the aggregated-API-server roles the metrics server relies on', () => {
    expect(bindings.some((b) => b.kind === 'ClusterRoleBinding' && b.roleRef.name === 'system:auth-delegator')).toBe(true);
    expect(bindings.some((b) => b.kind === 'RoleBinding' && b.metadata.namespace === 'kube-system' && b.roleRef.kind === 'Role' && b.roleRef.name === 'extension-apiserver-authentication-reader')).toBe(true);
    expect(METRICS_API_K8S_CALLS.map((c) => c.grantedBy)).toEqual(['Role kube-system/extension-apiserver-authentication-reader', 'ClusterRole system:auth-delegator']);
  });

  it('every roleRef of our own roles exists', () => {
    for (const b of bindings.filter((x) => !x.roleRef.name.startsWith('system:') && x.roleRef.name !== 'extension-apiserver-authentication-reader')) {
      expect({ binding: b.metadata.name, role: roleOf(b)?.metadata.name }).toEqual({ binding: b.metadata.name, role: b.roleRef.name });
    }
  });

  it('grants every Kubernetes call the code makes (src/k8s/rbac.ts K8S_CALLS_USED), and nothing more', async () => {
    const path = join(ROOT, 'src', 'k8s', 'rbac.ts');
    if (!existsSync(path)) throw new Error('src/k8s/rbac.ts (K8S_CALLS_USED, owned by H5) is missing: the RBAC check cannot run until it lands');
    const mod = (await import('../../src/k8s/rbac.js' as string)) as { K8S_CALLS_USED: readonly Obj[] };
    const calls = mod.K8S_CALLS_USED.map((c) => {
      const group = c.apiGroup ?? c.group ?? '';
      const resource = c.subresource && !String(c.resource).includes('/') ? `${c.resource}/${c.subresource}` : c.resource;
      return { group, resource, verb: c.verb };
    });
    expect(calls.length).toBeGreaterThan(0);
    for (const c of calls) expect({ ...c, granted: grants(c.group, c.resource, c.verb) }).toEqual({ ...c, granted: true });
    // Least privilege: each verb our own roles grant is a call the code makes.
    const own = bindings.filter((b) => !b.roleRef.name.startsWith('system:') && b.roleRef.name !== 'extension-apiserver-authentication-reader').flatMap((b) => roleOf(b)?.rules ?? []);
    for (const r of own)
      for (const g of r.apiGroups)
        for (const res of r.resources)
          for (const v of r.verbs) expect({ g, res, v, used: calls.some((c) => c.group === g && c.resource === res && c.verb === v) }).toEqual({ g, res, v, used: true });
  });
});

describe('RBAC of the workload kinds and the controller', () => {
  const roles = base.filter((d) => d.obj.kind === 'ClusterRole' || d.obj.kind === 'Role').map((d) => d.obj);
  const clusterRole = (name: string): Obj => one(base, 'ClusterRole', name);
  const verbsOf = (role: Obj, group: string, resource: string): string[] =>
    (role.rules as Obj[]).filter((r) => r.apiGroups?.includes(group) && r.resources?.includes(resource)).flatMap((r) => r.verbs as string[]).sort();

  it.each([
    ['apps.kruise.io', 'clonesets'],
    ['apps', 'deployments'],
    ['argoproj.io', 'rollouts'],
  ])('ClusterRole prescale lets the actuator read %s %s and read and patch its /scale, nothing more', (group, resource) => {
    const role = clusterRole('prescale');
    expect([verbsOf(role, group, resource), verbsOf(role, group, `${resource}/scale`)]).toEqual([['get'], ['get', 'patch']]);
  });

  it("the PredictiveScaler controller's rules are a ClusterRole of their own, bound to the ServiceAccount", () => {
    const role = clusterRole('prescale-controller');
    expect({
      predictivescalers: verbsOf(role, 'prescale.io', 'predictivescalers'),
      status: verbsOf(role, 'prescale.io', 'predictivescalers/status'),
      events: verbsOf(role, '', 'events'),
      hpas: verbsOf(role, 'autoscaling', 'horizontalpodautoscalers'),
    }).toEqual({ predictivescalers: ['list', 'watch'], status: ['patch'], events: ['create'], hpas: ['create', 'delete', 'update'] });
    const binding = one(base, 'ClusterRoleBinding', 'prescale-controller');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'prescale-controller' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
  });

  it('no rule of ours grants non-resource URLs: discovery comes from the bootstrap system:discovery role', () => {
    expect(roles.flatMap((r) => (r.rules as Obj[]).filter((x) => x.nonResourceURLs !== undefined || x.apiGroups === undefined).map(() => r.metadata.name))).toEqual([]);
  });
});

describe('examples', () => {
  const cfg = parseConfig(configMap.data['config.yaml'], 'deploy/base/config.yaml');
  const clonesets = cfg.targets.flatMap((t) => t.actuators.filter((a) => a.kind === 'cloneset').map((a) => ({ target: t.name, ...a })));

  it('the HPA scales a CloneSet on CPU plus prescale-qps with AverageValue = qpsPerReplica of that CloneSet', () => {
    const hpa = one(examples, 'HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps.kruise.io/v1alpha1', kind: 'CloneSet', name: expect.any(String) });
    const ext = (hpa.spec.metrics as Obj[]).filter((m) => m.type === 'External');
    expect((hpa.spec.metrics as Obj[]).some((m) => m.type === 'Resource')).toBe(true);
    expect(ext).toHaveLength(1);
    expect(METRIC_NAMES).toContain(ext[0].external.metric.name);
    const labels = ext[0].external.metric.selector.matchLabels as Record<string, string>;
    const cs = clonesets.find((c) => c.target === labels.target && c.name === labels.cloneset && c.namespace === hpa.metadata.namespace);
    expect(cs).toBeDefined();
    expect(cs?.name).toBe(hpa.spec.scaleTargetRef.name);
    expect(ext[0].external.target).toEqual({ type: 'AverageValue', averageValue: String(cs?.kind === 'cloneset' ? cs.qpsPerReplica : NaN) });
  });

  it('the KEDA ScaledObject reads the KEDA endpoint of the Service for a configured CloneSet, with its token', () => {
    const so = one(examples, 'ScaledObject');
    const trig = (so.spec.triggers as Obj[]).find((t) => t.type === 'metrics-api');
    const url = new URL(trig.metadata.url);
    expect(url.hostname).toBe(`${service.metadata.name}.${service.metadata.namespace}.svc`);
    expect(Number(url.port)).toBe((service.spec.ports as Obj[]).find((p) => p.name === 'http').port);
    const m = /^\/keda\/targets\/([^/]+)$/.exec(url.pathname);
    expect(m).not.toBeNull();
    const cs = clonesets.find((c) => c.target === m?.[1] && c.name === url.searchParams.get('cloneset') && c.namespace === url.searchParams.get('namespace'));
    expect(cs?.namespace).toBe(so.metadata.namespace);
    expect(so.spec.scaleTargetRef).toMatchObject({ apiVersion: 'apps.kruise.io/v1alpha1', kind: 'CloneSet', name: cs?.name });
    expect(['replicas', 'qps']).toContain(trig.metadata.valueLocation);
    const auth = one(examples, 'TriggerAuthentication', trig.authenticationRef.name);
    const ref = (auth.spec.secretTargetRef as Obj[]).find((r) => r.parameter === 'token');
    expect(one(examples, 'Secret', ref.name).stringData[ref.key]).toEqual(expect.any(String));
    expect(trig.metadata.authMode).toBe('bearer');
  });
});

describe('IAM policy', () => {
  const policy = JSON.parse(readFileSync(join(DEPLOY, 'iam-policy.json'), 'utf8')) as { Statement: { Action: string[]; Effect: string }[] };
  const actions = policy.Statement.flatMap((s) => s.Action);

  it('allows exactly the AWS calls in src/aws/iam.ts, plus the one-time service-linked role', () => {
    expect(policy.Statement.every((s) => s.Effect === 'Allow')).toBe(true);
    expect(actions.filter((a) => a !== AWS_SERVICE_LINKED_ROLE_ACTION).sort()).toEqual([...AWS_ACTIONS_USED].sort());
    expect(actions.filter((a) => a === AWS_SERVICE_LINKED_ROLE_ACTION)).toHaveLength(1);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const lines = text.split('\n').filter((l) => !l.trimStart().startsWith('#'));
  const stages = lines.map((l, i) => ({ l, i })).filter((x) => /^FROM\s/i.test(x.l));
  const last = lines.slice(stages[stages.length - 1].i);

  it('is multi-stage: compiles in one stage and copies the result into the runtime', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/RUN npm run build/);
    expect(last.some((l) => /^COPY --from=build\b.*\/dist/.test(l))).toBe(true);
    expect(text).toMatch(/npm ci --omit=dev --include=optional/);
    expect(text).toMatch(/require\('@tensorflow\/tfjs-node'\)/);
  });

  it('runs the compiled CLI as a non-root user, with a health check', () => {
    const user = last.filter((l) => /^USER\s/.test(l)).pop();
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER\s+(root|0)(:|\s|$)/);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const entry = last.find((l) => /^ENTRYPOINT/.test(l));
    expect(entry).toContain(pkg.bin.prescale);
    expect(last.some((l) => /^HEALTHCHECK/.test(l))).toBe(true);
    // The image's user matches the pod's runAsUser, so the models volume it owns is writable.
    expect(user).toMatch(new RegExp(`^USER\\s+${podSpec.securityContext.runAsUser}\\b`));
  });

  it('keeps node_modules, git and local state out of the build context', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['node_modules', '.git', 'dist', '.prescale', 'models']));
  });
});
