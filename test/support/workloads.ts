import type { TestCluster } from './test-cluster.js';

/**
 * Workloads other than CloneSets for the tests of the workload actuator on the real control plane: Deployments
 * (apps/v1, kept by the control plane's own Deployment and ReplicaSet controllers; pods stay Pending without a
 * kubelet) and Argo Rollouts (argoproj.io/v1alpha1). No Argo Rollouts controller runs here, and its full CRD is not
 * vendored: `ROLLOUT_CRD` is a minimal stand-in with the upstream CRD's names and its scale subresource paths
 * (argo-rollouts manifests/crds/rollout-crd.yaml: spec.replicas, status.HPAReplicas, status.selector), its schema
 * left open. A test sets a Rollout's status itself, as the Argo controller would report it.
 */

export const ROLLOUT_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: rollouts.argoproj.io
spec:
  group: argoproj.io
  names: {kind: Rollout, listKind: RolloutList, plural: rollouts, singular: rollout, shortNames: [ro]}
  scope: Namespaced
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
      subresources:
        status: {}
        scale:
          specReplicasPath: .spec.replicas
          statusReplicasPath: .status.HPAReplicas
          labelSelectorPath: .status.selector
`;

/** Installs the Rollout stand-in CRD (idempotent: suites sharing a control plane may all call it). */
export async function installRolloutCrd(cluster: TestCluster): Promise<void> {
  await cluster.apply(ROLLOUT_CRD);
  await cluster.kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/rollouts.argoproj.io']);
}

function podTemplate(name: string, image: string): string {
  return `  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
        - name: web
          image: ${image}
`;
}

/** A Deployment as a user would write it; `image` changes the template (a new rollout). */
export function deploymentYaml(o: { namespace: string; name: string; replicas: number; paused?: boolean; image?: string }): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${o.name}, namespace: ${o.namespace}}
spec:
  replicas: ${o.replicas}
  paused: ${o.paused ? 'true' : 'false'}
${podTemplate(o.name, o.image ?? 'registry.invalid/web:1')}`;
}

/** An Argo Rollout with a canary strategy; its status is the test's to set (no Argo controller runs). */
export function rolloutYaml(o: { namespace: string; name: string; replicas: number; paused?: boolean }): string {
  return `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: ${o.name}, namespace: ${o.namespace}}
spec:
  replicas: ${o.replicas}
  paused: ${o.paused ? 'true' : 'false'}
  strategy:
    canary:
      steps: [{setWeight: 50}, {pause: {}}]
${podTemplate(o.name, 'registry.invalid/web:1')}`;
}

/**
 * An HPA on any workload whose only metric nobody serves: the real HPA controller finds every metric invalid and
 * leaves the replicas alone, so the HPA exists for prescale to see and only prescale could change the replicas.
 */
export function idleHpaOn(o: { namespace: string; name: string; target: { apiVersion: string; kind: string; name: string } }): string {
  return `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: ${o.name}, namespace: ${o.namespace}}
spec:
  scaleTargetRef: {apiVersion: ${o.target.apiVersion}, kind: ${o.target.kind}, name: ${o.target.name}}
  minReplicas: 1
  maxReplicas: 100
  metrics:
    - type: External
      external:
        metric: {name: test-metric-nobody-serves}
        target: {type: AverageValue, averageValue: "100"}
`;
}
