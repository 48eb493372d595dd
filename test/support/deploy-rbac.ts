import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { ROOT } from './cluster.js';
import type { TestCluster } from './test-cluster.js';

/**
 * deploy/base/rbac.yaml, as shipped, given to a service account of one suite: every ClusterRole, Role and binding
 * is renamed with a suffix and bound to that account instead of prescale/prescale, and namespaced objects in
 * `prescale` move to the suite's namespace. So suites that share one control plane each run under exactly the
 * rules users install, without touching the ones the end-to-end suite applies and edits.
 */

type Obj = Record<string, unknown> & { kind: string; metadata: { name: string; namespace?: string } };

export function deployRbacDocs(): Obj[] {
  return parseAllDocuments(readFileSync(join(ROOT, 'deploy/base/rbac.yaml'), 'utf8'))
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

/** The rbac.yaml objects for `serviceAccount` in `namespace`, names suffixed with the namespace. */
export function suiteRbac(namespace: string, serviceAccount: string): Obj[] {
  const rename = (n: string): string => `${n}-${namespace}`;
  const own = new Set(deployRbacDocs().filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role').map((o) => o.metadata.name));
  return deployRbacDocs().map((o) => {
    const c = structuredClone(o) as Obj & { roleRef?: { name: string }; subjects?: { kind: string; name: string; namespace?: string }[] };
    c.metadata.name = rename(c.metadata.name);
    if (c.metadata.namespace === 'prescale') c.metadata.namespace = namespace;
    if (c.roleRef && own.has(c.roleRef.name)) c.roleRef.name = rename(c.roleRef.name);
    for (const s of c.subjects ?? []) {
      if (s.kind === 'ServiceAccount' && s.name === 'prescale' && s.namespace === 'prescale') {
        s.name = serviceAccount;
        s.namespace = namespace;
      }
    }
    return c;
  });
}

/**
 * A service account in `namespace` bound by deploy/base/rbac.yaml's rules (renamed, see above), with a token;
 * `server` may name a fault proxy in front of the apiserver.
 */
export async function prescaleUser(cluster: TestCluster, namespace: string, o: { server?: string; serviceAccount?: string } = {}): Promise<{ username: string; token: string; kubeconfig: string }> {
  const sa = o.serviceAccount ?? 'prescale';
  await cluster.kubectlOk(['create', 'serviceaccount', sa, '-n', namespace]);
  await cluster.apply(suiteRbac(namespace, sa).map((d) => stringify(d)).join('---\n'));
  const token = await cluster.token(namespace, sa);
  return { username: `system:serviceaccount:${namespace}:${sa}`, token, kubeconfig: cluster.kubeconfigFor(`${namespace}-${sa}`, { token }, o.server) };
}
