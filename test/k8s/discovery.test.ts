import { describe, expect, it } from '@jest/globals';
import { K8sError, resolveKind, toWorkloadView, type DiscoveredResource, type WorkloadRef } from '../../src/k8s/client.js';

/**
 * The parts of the workload kind resolution that need no cluster: reading an APIResourceList (the apiserver's own
 * lists are checked in test/k8s/workload-actuator.test.ts), and where each kind keeps its rollout state.
 */

const res = (name: string, kind: string, o: { namespaced?: boolean; verbs?: string[] } = {}): DiscoveredResource => ({ name, kind, namespaced: o.namespaced ?? true, verbs: o.verbs ?? ['get', 'patch', 'update'] });

// The shape of `GET /apis/apps/v1` (trimmed): each kind, and its subresources named `plural/sub`.
const APPS_V1 = [
  res('controllerrevisions', 'ControllerRevision'),
  res('deployments', 'Deployment'),
  res('deployments/scale', 'Scale'),
  res('deployments/status', 'Deployment'),
  res('statefulsets', 'StatefulSet'),
  res('statefulsets/scale', 'Scale'),
];

function errorOf(f: () => unknown): K8sError {
  try {
    f();
  } catch (err) {
    if (err instanceof K8sError) return err;
    throw err;
  }
  throw new Error('no error thrown');
}

describe('resolveKind', () => {
  it.each([
    ['apps/v1', 'Deployment', APPS_V1, { group: 'apps', version: 'v1', plural: 'deployments' }],
    ['apps/v1', 'StatefulSet', APPS_V1, { group: 'apps', version: 'v1', plural: 'statefulsets' }],
    ['argoproj.io/v1alpha1', 'Rollout', [res('rollouts', 'Rollout'), res('rollouts/scale', 'Scale')], { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts' }],
    // The plural is whatever discovery says, not a guess from the kind.
    ['example.com/v1', 'Mouse', [res('mice', 'Mouse'), res('mice/scale', 'Scale')], { group: 'example.com', version: 'v1', plural: 'mice' }],
  ])('%s %s → %j', (apiVersion, kind, list, expected) => {
    expect(resolveKind(apiVersion, kind, list)).toEqual(expected);
  });

  it.each([
    ['a kind not listed', 'apps/v1', 'Deploymnet', APPS_V1, 'unknown-kind', 'workload kind Deploymnet is not served by apps/v1 (it serves: ControllerRevision, Deployment, StatefulSet)'],
    ['an empty list', 'example.com/v1', 'Widget', [], 'unknown-kind', 'workload kind Widget is not served by example.com/v1 (it serves: none)'],
    // A subresource's kind (deployments/scale is kind Scale) is not a workload.
    ['a subresource kind', 'apps/v1', 'Scale', APPS_V1, 'unknown-kind', 'workload kind Scale is not served by apps/v1 (it serves: ControllerRevision, Deployment, StatefulSet)'],
    ['no scale subresource', 'apps/v1', 'ControllerRevision', APPS_V1, 'invalid', 'workload kind ControllerRevision of apps/v1 (controllerrevisions) has no scale subresource; prescale scales only through /scale'],
    ['cluster-scoped', 'example.com/v1', 'Pool', [res('pools', 'Pool', { namespaced: false }), res('pools/scale', 'Scale')], 'invalid', 'workload kind Pool of example.com/v1 (pools) is cluster-scoped; prescale scales namespaced workloads'],
    ['a scale that cannot be patched', 'example.com/v1', 'Ro', [res('ros', 'Ro'), res('ros/scale', 'Scale', { verbs: ['get'] })], 'invalid', 'workload kind Ro of example.com/v1: ros/scale does not allow patch (verbs: get)'],
    ['the core group', 'v1', 'ReplicationController', [], 'invalid', 'workload ReplicationController: apiVersion "v1" must be GROUP/VERSION of a named API group, e.g. apps/v1'],
  ])('refuses %s, naming the kind and the rule', (_what, apiVersion, kind, list, errKind, message) => {
    const err = errorOf(() => resolveKind(apiVersion, kind, list));
    expect([err.kind, err.message]).toEqual([errKind, message]);
  });
});

describe('toWorkloadView', () => {
  const ref = (apiVersion: string, kind: string): WorkloadRef => ({ namespace: 'shop', name: 'web', apiVersion, kind });
  const obj = (spec: Record<string, unknown>) => ({ metadata: { resourceVersion: '42' }, spec: { replicas: 8, ...spec }, status: { replicas: 10, updatedReplicas: 2 } });

  it.each([
    // CloneSet: paused lives in the update strategy; a spec.paused there means nothing.
    ['apps.kruise.io/v1alpha1', 'CloneSet', { updateStrategy: { paused: true } }, true],
    ['apps.kruise.io/v1alpha1', 'CloneSet', { paused: true }, false],
    ['apps.kruise.io/v1beta1', 'CloneSet', { updateStrategy: { paused: true } }, true],
    ['apps/v1', 'Deployment', { paused: true }, true],
    ['apps/v1', 'Deployment', { updateStrategy: { paused: true } }, false],
    ['argoproj.io/v1alpha1', 'Rollout', { paused: true }, true],
    ['argoproj.io/v1alpha1', 'Rollout', {}, false],
    // A CloneSet kind of another group is not OpenKruise's.
    ['example.com/v1', 'CloneSet', { paused: true }, true],
  ])('%s %s with spec %j: paused %s', (apiVersion, kind, spec, paused) => {
    expect(toWorkloadView(ref(apiVersion, kind), obj(spec))).toEqual({ specReplicas: 8, statusReplicas: 10, updatedReplicas: 2, paused, resourceVersion: '42' });
  });

  it('reads absent counts as 0 (the apiserver omits zero fields)', () => {
    expect(toWorkloadView(ref('apps/v1', 'Deployment'), { spec: {}, metadata: {} })).toEqual({ specReplicas: 0, statusReplicas: 0, updatedReplicas: 0, paused: false, resourceVersion: '' });
  });
});
