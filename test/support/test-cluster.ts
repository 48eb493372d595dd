import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { sharedCluster, startCluster, stopCluster, writeKubeconfig, type ClusterInfo, type KubeconfigUser } from './cluster.js';

/**
 * What a suite does with the real control plane (test/support/cluster.ts): kubectl of the same version,
 * client-node configs for the admin or any user, namespaces of its own, service-account tokens, the
 * apiserver's audit log (the record of every call a user made), and a stand-in for kruise-manager's status
 * updates.
 */

export interface KubectlResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** One apiserver audit event, the fields the tests read. */
export interface AuditEvent {
  readonly auditID: string;
  readonly stage: string;
  readonly verb: string;
  readonly requestURI: string;
  readonly user: { readonly username: string; readonly groups?: readonly string[] };
  readonly objectRef?: { readonly resource?: string; readonly subresource?: string; readonly namespace?: string; readonly name?: string; readonly apiGroup?: string };
  readonly responseStatus?: { readonly code?: number };
  readonly stageTimestamp: string;
}

export class TestCluster {
  private readonly keepers: (() => Promise<void>)[] = [];

  private constructor(
    readonly info: ClusterInfo,
    private readonly own: boolean,
  ) {}

  /** The run's shared control plane, or one of this suite's own when the run has none. */
  static async attach(): Promise<TestCluster> {
    const shared = sharedCluster();
    if (shared) return new TestCluster(shared, false);
    return new TestCluster(await startCluster(), true);
  }

  /**
   * A control plane of the suite's own, even when the run shares one: for a suite that registers cluster-wide
   * singletons (the external metrics APIService) that another suite registers too.
   */
  static async own(o: Parameters<typeof startCluster>[0] = {}): Promise<TestCluster> {
    return new TestCluster(await startCluster(o), true);
  }

  /** Stops the suite's keepers, and the control plane when the suite started it. */
  async release(): Promise<void> {
    for (const stop of this.keepers.splice(0)) await stop();
    if (this.own) await stopCluster(this.info);
  }

  get server(): string {
    return this.info.server;
  }

  get kubectlPath(): string {
    return join(this.info.bin, 'kubectl');
  }

  /** kubectl of the control plane's own version; stdin closed unless `input` is given (kubectl prompts on 401 otherwise). */
  kubectl(args: string[], o: { kubeconfig?: string; input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
    return new Promise((resolve, reject) => {
      const p = spawn(this.kubectlPath, ['--kubeconfig', o.kubeconfig ?? this.info.adminKubeconfig, ...args], {
        stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH, HOME: this.info.dir },
        timeout: o.timeoutMs ?? 60_000,
      });
      let stdout = '';
      let stderr = '';
      p.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('error', reject);
      p.on('close', (code) => resolve({ code, stdout, stderr }));
      if (o.input !== undefined) p.stdin?.end(o.input);
    });
  }

  /** kubectl that must succeed; the error carries its stderr. */
  async kubectlOk(args: string[], o: { kubeconfig?: string; input?: string } = {}): Promise<string> {
    const r = await this.kubectl(args, o);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** `kubectl apply --server-side` of YAML text, as the admin unless a kubeconfig is given. */
  apply(yaml: string, o: { kubeconfig?: string; fieldManager?: string } = {}): Promise<string> {
    return this.kubectlOk(['apply', '--server-side', `--field-manager=${o.fieldManager ?? 'prescale-tests'}`, '-f', '-'], { kubeconfig: o.kubeconfig, input: yaml });
  }

  /** A client-node KubeConfig for the admin (system:masters) or for the given user. */
  kubeConfig(user?: KubeconfigUser): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(user ? this.kubeconfigFor(`user-${randomBytes(4).toString('hex')}`, user) : this.info.adminKubeconfig);
    return kc;
  }

  /** A kubeconfig file for a user of this control plane. */
  kubeconfigFor(name: string, user: KubeconfigUser, server = this.info.server): string {
    return writeKubeconfig(join(this.info.dir, `${name}.kubeconfig`), { server, ca: this.info.pki.caCert, user, name });
  }

  /** A fresh namespace, so suites sharing the control plane never see each other's objects. */
  async namespace(prefix: string): Promise<string> {
    const name = `${prefix}-${randomBytes(3).toString('hex')}`;
    await this.kubectlOk(['create', 'namespace', name]);
    return name;
  }

  /** A token for a service account (TokenRequest, as `kubectl create token` does). */
  async token(namespace: string, serviceAccount: string, seconds = 3600): Promise<string> {
    return (await this.kubectlOk(['create', 'token', serviceAccount, '-n', namespace, `--duration=${seconds}s`])).trim();
  }

  /** A service account with a token, for a user whose rights a test controls with RBAC. */
  async serviceAccountUser(namespace: string, name: string): Promise<{ username: string; token: string; kubeconfig: string }> {
    await this.kubectlOk(['create', 'serviceaccount', name, '-n', namespace]);
    const token = await this.token(namespace, name);
    return { username: `system:serviceaccount:${namespace}:${name}`, token, kubeconfig: this.kubeconfigFor(`${namespace}-${name}`, { token }) };
  }

  /** The audit events the apiserver wrote so far (ResponseComplete stage), optionally of one user only. */
  audit(o: { user?: string; since?: number } = {}): AuditEvent[] {
    const lines = readFileSync(this.info.auditLog, 'utf8').split('\n');
    const out: AuditEvent[] = [];
    for (const line of lines) {
      if (!line) continue;
      const e = JSON.parse(line) as AuditEvent;
      if (e.stage !== 'ResponseComplete') continue;
      if (o.user !== undefined && e.user.username !== o.user) continue;
      if (o.since !== undefined && Date.parse(e.stageTimestamp) < o.since) continue;
      out.push(e);
    }
    return out;
  }

  /**
   * Stands in for kruise-manager, which is not run here (the Go module proxy does not serve
   * github.com/openkruise/kruise): keeps the status of every CloneSet in `namespace` in step with its
   * spec.replicas, as the CloneSet controller reports once its pods are ready (replicas, readyReplicas,
   * availableReplicas, updatedReplicas, updatedReadyReplicas, labelSelector, observedGeneration). A CloneSet
   * annotated `test.prescale.io/status: manual` is left alone, so a test can show a rollout in progress.
   */
  keepCloneSetStatus(namespace: string, periodMs = 250): void {
    const api = this.kubeConfig().makeApiClient(CustomObjectsApi);
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        try {
          await syncCloneSetStatuses(api, namespace);
        } catch {
          // The next pass tries again; a namespace being deleted answers 404s for a moment.
        }
        await new Promise((r) => setTimeout(r, periodMs));
      }
    })();
    this.keepers.push(async () => {
      stopped = true;
      await loop;
    });
  }
}

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});

async function syncCloneSetStatuses(api: CustomObjectsApi, namespace: string): Promise<void> {
  const list = rec(await api.listNamespacedCustomObject({ group: 'apps.kruise.io', version: 'v1alpha1', namespace, plural: 'clonesets' }));
  for (const item of (list.items as Obj[] | undefined) ?? []) {
    const meta = rec(item.metadata);
    if (rec(meta.annotations)['test.prescale.io/status'] === 'manual') continue;
    const want = Number(rec(item.spec).replicas ?? 1);
    const status = rec(item.status);
    const selector = rec(rec(item.spec).selector).matchLabels as Record<string, string> | undefined;
    const labelSelector = Object.entries(selector ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    if (status.replicas === want && status.readyReplicas === want && status.labelSelector === labelSelector && status.observedGeneration === meta.generation) continue;
    await api.patchNamespacedCustomObjectStatus(
      {
        group: 'apps.kruise.io',
        version: 'v1alpha1',
        namespace,
        plural: 'clonesets',
        name: String(meta.name),
        body: {
          status: {
            observedGeneration: meta.generation,
            replicas: want,
            readyReplicas: want,
            availableReplicas: want,
            updatedReplicas: want,
            updatedReadyReplicas: want,
            expectedUpdatedReplicas: want,
            labelSelector,
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
}

/** A CloneSet manifest with a selector and pod template, as a user would write it. */
export function cloneSetYaml(o: { namespace: string; name: string; replicas: number; paused?: boolean; manualStatus?: boolean }): string {
  return `apiVersion: apps.kruise.io/v1alpha1
kind: CloneSet
metadata:
  name: ${o.name}
  namespace: ${o.namespace}
${o.manualStatus ? "  annotations:\n    test.prescale.io/status: manual\n" : ''}spec:
  replicas: ${o.replicas}
  selector:
    matchLabels: {app: ${o.name}}
  template:
    metadata:
      labels: {app: ${o.name}}
    spec:
      containers:
        - name: web
          image: registry.invalid/web:1
  updateStrategy:
    type: InPlaceIfPossible
    paused: ${o.paused ? 'true' : 'false'}
`;
}

/**
 * An HPA on a CloneSet whose only metric nobody serves: the real HPA controller of the test control plane finds
 * every metric invalid and leaves the replicas alone. So the HPA exists for prescale to see (direct mode refuses
 * to fight it), and only prescale could change the replicas.
 */
export function idleHpaYaml(o: { namespace: string; name: string; cloneSet: string; maxReplicas?: number }): string {
  return `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: ${o.name}, namespace: ${o.namespace}}
spec:
  scaleTargetRef: {apiVersion: apps.kruise.io/v1alpha1, kind: CloneSet, name: ${o.cloneSet}}
  minReplicas: 1
  maxReplicas: ${o.maxReplicas ?? 100}
  metrics:
    - type: External
      external:
        metric: {name: test-metric-nobody-serves}
        target: {type: AverageValue, averageValue: "100"}
`;
}
