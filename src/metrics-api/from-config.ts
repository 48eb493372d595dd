import { readFile } from 'node:fs/promises';
import type { Router } from 'express';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Config } from '../config/schema.js';
import type { Clock } from '../util/clock.js';
import { InputError, errorMessage } from '../util/errors.js';
import { DEFAULT_CLIENT_NAME, ensureDevCerts, type DevCertPaths } from '../certs.js';
import { kubernetesAuth, type Authorizer, type ConfigMapReader } from './auth.js';
import { startExternalMetricsServer, type ExternalMetricsServer, type ExternalMetricsServerOptions, type SnapshotSource } from './server.js';
import { createKedaRouter } from './keda.js';
import type { TargetSnapshot } from '../service/state.js';
import { log } from '../obs/log.js';

type MetricsApiConfig = Config['metricsApi'];

export interface FromConfigDeps {
  readonly store: SnapshotSource;
  readonly clock: Clock;
  /** Needed only with `fromConfigMap: true` (the request-header CA from kube-system). */
  readonly kubeConfig?: KubeConfig;
  /** Test seam: replaces the client-node wiring of `fromConfigMap`. */
  readonly kubernetesAuth?: () => Promise<{ configMap: ConfigMapReader; authorizer: Authorizer }>;
}

/**
 * Which serving certificate and which request-header CA, from `metricsApi`: explicit files, else the
 * development certificates in `devCertsDir` (created or reused; the demo's case), else an error naming the keys.
 */
export async function externalMetricsOptions(c: MetricsApiConfig, d: FromConfigDeps): Promise<ExternalMetricsServerOptions> {
  if ((c.certFile === undefined) !== (c.keyFile === undefined)) {
    throw new InputError(`metricsApi: certFile and keyFile go together; only ${c.certFile ? 'certFile' : 'keyFile'} is set`);
  }
  const needDev = c.certFile === undefined || (!c.fromConfigMap && c.clientCaFile === undefined);
  const dev = c.devCertsDir !== undefined && needDev ? await ensureDevCerts(c.devCertsDir) : undefined;
  if (dev?.created) log.info({ dir: dev.dir, reason: dev.reason }, 'development certificates written');
  const tls = c.certFile && c.keyFile ? { certFile: c.certFile, keyFile: c.keyFile } : dev ? { certFile: dev.serverCert, keyFile: dev.serverKey } : undefined;
  if (!tls) throw new InputError('metricsApi: set certFile and keyFile (the serving certificate), or devCertsDir for development certificates');
  const { auth, authorizer } = await authFrom(c, d, dev);
  return { store: d.store, port: c.port, host: c.host, tls, auth, authorizer, staleAfterSeconds: c.staleAfterSeconds, stale: c.stale, clock: d.clock };
}

async function authFrom(
  c: MetricsApiConfig,
  d: FromConfigDeps,
  dev: DevCertPaths | undefined,
): Promise<{ auth: ExternalMetricsServerOptions['auth']; authorizer?: Authorizer }> {
  if (c.fromConfigMap) {
    const kc = d.kubeConfig;
    const wire = d.kubernetesAuth ?? (kc ? () => kubernetesAuth(kc, d.clock) : undefined);
    if (!wire) throw new InputError('metricsApi.fromConfigMap needs Kubernetes access (in cluster, or kubernetes.kubeconfig)');
    const k = await wire();
    return { auth: { configMap: k.configMap }, authorizer: k.authorizer };
  }
  if (c.clientCaFile) return { auth: { clientCaFile: c.clientCaFile, allowedNames: c.allowedNames } };
  if (dev) return { auth: { clientCaFile: dev.caCert, allowedNames: c.allowedNames.length > 0 ? c.allowedNames : [DEFAULT_CLIENT_NAME] } };
  throw new InputError('metricsApi: set clientCaFile (the request-header CA), fromConfigMap: true in a cluster, or devCertsDir');
}

/** Starts the external metrics API as configured; undefined when `metricsApi.enabled` is false. */
export async function startExternalMetricsServerFromConfig(c: MetricsApiConfig, d: FromConfigDeps): Promise<ExternalMetricsServer | undefined> {
  if (!c.enabled) return undefined;
  return startExternalMetricsServer(await externalMetricsOptions(c, d));
}

/** The KEDA router as configured (token from `keda.tokenFile`); undefined when `keda.enabled` is false. */
export async function kedaRouterFromConfig(
  c: { keda: Config['keda']; metricsApi: MetricsApiConfig },
  d: { store: SnapshotSource & { get(name: string): TargetSnapshot | undefined }; clock: Clock },
): Promise<Router | undefined> {
  if (!c.keda.enabled) return undefined;
  let token: string | undefined;
  if (c.keda.tokenFile !== undefined) {
    try {
      token = (await readFile(c.keda.tokenFile, 'utf8')).trim();
    } catch (err: unknown) {
      throw new InputError(`keda.tokenFile: cannot read ${c.keda.tokenFile} (${errorMessage(err)})`, { cause: err });
    }
    if (token.length === 0) throw new InputError(`keda.tokenFile: ${c.keda.tokenFile} is empty`);
  }
  return createKedaRouter({ store: d.store, token, staleAfterSeconds: c.metricsApi.staleAfterSeconds, stale: c.metricsApi.stale, clock: d.clock });
}
