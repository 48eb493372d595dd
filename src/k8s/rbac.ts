/**
 * Every Kubernetes API call prescale makes, as RBAC sees it. The deploy manifests' Role/ClusterRole rules are
 * checked against this list (least privilege: nothing granted that is not here), and the Kubernetes tests
 * check, from a real kube-apiserver's audit log, that every call prescale's service account made is here and
 * was allowed (nothing called that is not granted); test/k8s/rbac.test.ts checks the two sets are equal.
 */
export interface K8sCall {
  /** '' for the core group. */
  readonly apiGroup: string;
  readonly resource: string;
  /** '' for the resource itself; e.g. 'scale'. */
  readonly subresource: string;
  readonly verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';
  /** Which part of prescale makes the call, for reviewers of the RBAC rules. */
  readonly usedBy: string;
  /** Made only with `controller.enabled` (the PredictiveScaler controller), so a run of the actuators alone never makes it. */
  readonly controllerOnly?: true;
}

const CONTROLLER = 'PredictiveScaler controller';

/** The workload kinds the CloneSet actuator's RBAC covers: each one's read (rollout state) and its /scale read and patch. */
const WORKLOADS = [
  { apiGroup: 'apps.kruise.io', resource: 'clonesets', kind: 'CloneSet (the default)' },
  { apiGroup: 'apps', resource: 'deployments', kind: 'Deployment' },
  { apiGroup: 'argoproj.io', resource: 'rollouts', kind: 'Argo Rollout' },
] as const;

export const K8S_CALLS_USED: readonly K8sCall[] = [
  ...WORKLOADS.flatMap((w): K8sCall[] => [
    { apiGroup: w.apiGroup, resource: w.resource, subresource: '', verb: 'get', usedBy: `CloneSet actuator, workload ${w.kind} (direct mode): rollout state before a scale-down` },
    { apiGroup: w.apiGroup, resource: w.resource, subresource: 'scale', verb: 'get', usedBy: `CloneSet actuator, workload ${w.kind}: current replicas` },
    { apiGroup: w.apiGroup, resource: w.resource, subresource: 'scale', verb: 'patch', usedBy: `CloneSet actuator, workload ${w.kind} (direct mode): set replicas` },
  ]),
  { apiGroup: 'autoscaling', resource: 'horizontalpodautoscalers', subresource: '', verb: 'list', usedBy: 'CloneSet actuator: is an HPA targeting the workload' },
  { apiGroup: 'coordination.k8s.io', resource: 'leases', subresource: '', verb: 'get', usedBy: 'leader election' },
  { apiGroup: 'coordination.k8s.io', resource: 'leases', subresource: '', verb: 'create', usedBy: 'leader election: first replica creates the lease' },
  { apiGroup: 'coordination.k8s.io', resource: 'leases', subresource: '', verb: 'update', usedBy: 'leader election: acquire, renew, release (compare-and-swap)' },
  { apiGroup: 'prescale.io', resource: 'predictivescalers', subresource: '', verb: 'list', usedBy: `${CONTROLLER}: the targets declared in the cluster`, controllerOnly: true },
  { apiGroup: 'prescale.io', resource: 'predictivescalers', subresource: '', verb: 'watch', usedBy: `${CONTROLLER}: targets added, changed, deleted`, controllerOnly: true },
  { apiGroup: 'prescale.io', resource: 'predictivescalers', subresource: 'status', verb: 'patch', usedBy: `${CONTROLLER}: conditions and observedGeneration`, controllerOnly: true },
  { apiGroup: '', resource: 'events', subresource: '', verb: 'create', usedBy: `${CONTROLLER}: events on a PredictiveScaler (HPA created, prediction ready, ...)`, controllerOnly: true },
  { apiGroup: 'autoscaling', resource: 'horizontalpodautoscalers', subresource: '', verb: 'create', usedBy: `${CONTROLLER}: creates the HPA of a PredictiveScaler`, controllerOnly: true },
  { apiGroup: 'autoscaling', resource: 'horizontalpodautoscalers', subresource: '', verb: 'update', usedBy: `${CONTROLLER}: keeps its HPA in step with the spec, adopts an annotated one`, controllerOnly: true },
  { apiGroup: 'autoscaling', resource: 'horizontalpodautoscalers', subresource: '', verb: 'delete', usedBy: `${CONTROLLER}: removes its HPA when the spec no longer asks for it`, controllerOnly: true },
];

/**
 * Requests to non-resource URLs, which RBAC grants by path. Discovery (`GET /apis/GROUP/VERSION`, how the CloneSet
 * actuator finds a workload kind's plural and scale subresource) needs no rule of prescale's own: the bootstrap
 * ClusterRole `system:discovery` grants `/apis/*` to every authenticated user (test/k8s/rbac.test.ts checks this on
 * the real apiserver, and that anonymous requests are refused).
 */
export interface NonResourceCall {
  /** A path, or a prefix ending in `*`, as in an RBAC `nonResourceURLs` rule. */
  readonly path: string;
  readonly verb: 'get';
  readonly usedBy: string;
  readonly grantedBy: string;
}

export const K8S_NON_RESOURCE_CALLS_USED: readonly NonResourceCall[] = [
  { path: '/apis/*', verb: 'get', usedBy: 'KubeClient: discovery of a workload kind (plural, scale subresource), once per kind', grantedBy: 'ClusterRole system:discovery (bound to system:authenticated)' },
];

function pathMatches(pattern: string, path: string): boolean {
  const p = path.split('?')[0];
  return pattern.endsWith('*') ? p.startsWith(pattern.slice(0, -1)) : p === pattern;
}

/**
 * True when the call (as the apiserver saw it) is in K8S_CALLS_USED, or, for a request without a resource (a
 * non-resource URL such as discovery; `resource` is ''), in K8S_NON_RESOURCE_CALLS_USED: by `path` when given,
 * by verb alone when the caller knows only the audit event's objectRef (which a non-resource request lacks).
 */
export function isCallUsed(c: { apiGroup: string; resource: string; subresource: string; verb: string; path?: string }): boolean {
  if (c.resource === '' && c.apiGroup === '') return K8S_NON_RESOURCE_CALLS_USED.some((u) => u.verb === c.verb && (c.path === undefined || pathMatches(u.path, c.path)));
  return K8S_CALLS_USED.some((u) => u.apiGroup === c.apiGroup && u.resource === c.resource && u.subresource === c.subresource && u.verb === c.verb);
}
