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
}

export const K8S_CALLS_USED: readonly K8sCall[] = [
  { apiGroup: 'apps.kruise.io', resource: 'clonesets', subresource: '', verb: 'get', usedBy: 'CloneSet actuator (direct mode): rollout state before a scale-down' },
  { apiGroup: 'apps.kruise.io', resource: 'clonesets', subresource: 'scale', verb: 'get', usedBy: 'CloneSet actuator: current replicas' },
  { apiGroup: 'apps.kruise.io', resource: 'clonesets', subresource: 'scale', verb: 'patch', usedBy: 'CloneSet actuator (direct mode): set replicas' },
  { apiGroup: 'autoscaling', resource: 'horizontalpodautoscalers', subresource: '', verb: 'list', usedBy: 'CloneSet actuator: is an HPA targeting the CloneSet' },
  { apiGroup: 'coordination.k8s.io', resource: 'leases', subresource: '', verb: 'get', usedBy: 'leader election' },
  { apiGroup: 'coordination.k8s.io', resource: 'leases', subresource: '', verb: 'create', usedBy: 'leader election: first replica creates the lease' },
  { apiGroup: 'coordination.k8s.io', resource: 'leases', subresource: '', verb: 'update', usedBy: 'leader election: acquire, renew, release (compare-and-swap)' },
];

/** True when the call (as the apiserver saw it) is in K8S_CALLS_USED. */
export function isCallUsed(c: { apiGroup: string; resource: string; subresource: string; verb: string }): boolean {
  return K8S_CALLS_USED.some((u) => u.apiGroup === c.apiGroup && u.resource === c.resource && u.subresource === c.subresource && u.verb === c.verb);
}
