import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { stringify } from 'yaml';
import { ROOT } from './cluster.js';

/**
 * A kustomize overlay of deploy/base for prescale running as a process beside the test control plane (no pod runs
 * here): the prescale Service becomes an ExternalName for localhost, and the APIService points at the process's
 * port and trusts its CA (the development CA of `prescale certs`). Every other object is deploy/base as shipped.
 * Returns the overlay's directory, for `kubectl apply --server-side -k`.
 */
export function writeDeployOverlay(dir: string, o: { caCertFile: string; metricsPort: number }): string {
  const overlay = join(dir, 'overlay');
  mkdirSync(overlay, { recursive: true });
  const ca = readFileSync(o.caCertFile).toString('base64');
  writeFileSync(
    join(overlay, 'kustomization.yaml'),
    stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [relative(overlay, join(ROOT, 'deploy/base'))],
      patches: [
        {
          target: { kind: 'Service', name: 'prescale' },
          patch: stringify([{ op: 'replace', path: '/spec', value: { type: 'ExternalName', externalName: 'localhost', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] } }]),
        },
        {
          target: { kind: 'APIService', name: 'v1beta1.external.metrics.k8s.io' },
          patch: stringify([
            { op: 'add', path: '/spec/caBundle', value: ca },
            { op: 'replace', path: '/spec/service/port', value: o.metricsPort },
          ]),
        },
      ],
    }),
  );
  return overlay;
}
