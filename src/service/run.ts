import type { Server } from 'node:http';
import cron from 'node-cron';
import type { Config } from '../config/schema.js';
import { initTf, liveTensorCount, tfIfReady } from '../forecast/tf-backend.js';
import { loadKubeConfig } from '../k8s/client.js';
import { LeaderElector } from '../k8s/lease.js';
import { kedaRouterFromConfig, startExternalMetricsServerFromConfig } from '../metrics-api/from-config.js';
import { observabilityObserver } from '../obs/observer.js';
import { openAuditLog, type AuditLog } from '../obs/audit.js';
import { log } from '../obs/log.js';
import { createMetrics } from '../obs/metrics.js';
import { systemClock, type Clock } from '../util/clock.js';
import { InputError } from '../util/errors.js';
import { createWebRouter } from '../web/router.js';
import { createAdminRouter } from './admin.js';
import { createHttpApp, listen, type ReadinessCheck } from './http.js';
import { DiskModelProvider } from './models.js';
import { PrescaleService, type CycleObserver, type Decision } from './service.js';
import { StateStore } from './state.js';
import { PredictiveScalerController } from '../controller/controller.js';
import { PredictiveScalerClient } from '../k8s/predictive-scalers.js';
import { TraceCache, createActuator, createClients, createSource, createTargets, identity, readSecretFile, type Clients } from './wiring.js';
import { NonOverlappingJob } from './job.js';
import type { Router } from 'express';

/** Everything one process runs, for `serve`, `serve --once` and the demo. */
export interface Running {
  readonly service: PrescaleService;
  readonly store: StateStore;
  readonly urls: readonly string[];
  /** Stops schedulers, waits for the cycle in flight, closes servers, releases the lease. */
  stop(): Promise<void>;
}


/** Adds one log line per decision to an observer. */
function withDecisionLog(o: CycleObserver): CycleObserver {
  return {
    ...o,
    onDecision: (d: Decision) => {
      o.onDecision?.(d);
      const calendar = d.calendarUplift ? { calendarEvent: d.calendarUplift.event, calendarTag: d.calendarUplift.tag, calendarPeakP90: d.calendarUplift.peakP90 } : {};
      log.info({ target: d.target, actuator: d.actuator, planned: d.plannedCapacity, current: d.currentCapacity, reason: d.reason, fallback: d.fallback, ...calendar, actions: d.actions.length }, 'decision');
    },
  };
}

/** Builds the service and its collaborators from a validated config (no servers, no schedules). */
export async function buildService(
  config: Config,
  o: { clock?: Clock } = {},
): Promise<{ service: PrescaleService; store: StateStore; metrics: ReturnType<typeof createMetrics>; audit?: AuditLog; elector?: LeaderElector; clients: Clients; clientsDescription: string }> {
  const clock = o.clock ?? systemClock;
  const store = new StateStore();
  const metrics = createMetrics({ tensorCount: () => (tfIfReady() ? liveTensorCount() : undefined), tfjsBackend: () => tfIfReady()?.backend });
  const audit = config.audit.file ? openAuditLog(config.audit.file) : undefined;
  const clients = createClients(config, clock, { store });
  const targets = createTargets(config, { clients, clock, startedAtMs: clock.now() });
  let elector: LeaderElector | undefined;
  if (config.leaderElection.enabled) {
    const api = clients.kube;
    if (!api?.getLease || !api.createLease || !api.replaceLease) throw new InputError('leaderElection.enabled: needs a Kubernetes client with Lease access');
    elector = new LeaderElector({
      api: api as Required<typeof api>,
      namespace: config.leaderElection.namespace,
      name: config.leaderElection.leaseName,
      identity: identity(),
      leaseDurationSeconds: config.leaderElection.leaseDurationSeconds,
      onStartedLeading: () => log.info({ identity: identity() }, 'became the leader'),
      onStoppedLeading: () => log.warn({ identity: identity() }, 'lost the leadership; forecasting only'),
    });
  }
  const leader = elector;
  const service = new PrescaleService({
    clock,
    store,
    targets,
    dryRun: config.dryRun,
    models: new DiskModelProvider({ modelsDir: config.modelsDir, clock }),
    isLeader: () => (leader ? leader.isLeader() : true),
    observer: withDecisionLog(observabilityObserver({ metrics, audit })),
  });
  return { service, store, metrics, audit, elector, clients, clientsDescription: clients.description };
}

/** `serve --once`: one full cycle (read, forecast, plan, actuate), then exit. */
export async function runOnce(config: Config): Promise<Decision[]> {
  const b = await buildService(config);
  const { backend } = await initTf();
  log.info({ backend }, 'tfjs backend');
  try {
    // Keep renewing while models load and the cycle runs: leadership lapses after the renew deadline.
    if (b.elector) {
      await b.elector.tryAcquireOrRenew();
      b.elector.start();
    }
    await b.service.loadModels();
    return await b.service.runCycle();
  } finally {
    await b.elector?.stop().catch(() => undefined);
    await b.audit?.close();
  }
}

/** `serve`: the always-on service. */
export async function runServe(config: Config): Promise<Running> {
  const b = await buildService(config);
  const { service, store, metrics } = b;
  const { backend } = await initTf();
  log.info({ backend, clients: b.clientsDescription, dryRun: config.dryRun, targets: config.targets.length }, 'prescale starting');
  b.elector?.start();
  let cyclesDone = 0;
  const readiness: ReadinessCheck = () => {
    const models = service.modelsReady();
    const targets = Object.fromEntries(store.list().map((s) => [s.name, { fallback: s.fallback.active ? s.fallback.reason : null, updatedAt: new Date(s.updatedAtMs).toISOString() }]));
    return {
      ready: models && cyclesDone > 0,
      details: { config: 'loaded', clients: b.clientsDescription, models: models ? 'ready' : 'loading', cycles: cyclesDone, leader: b.elector ? b.elector.isLeader() : true, targets },
    };
  };
  const routers: Router[] = [createWebRouter({ store, registry: metrics.registry, readiness })];
  const keda = await kedaRouterFromConfig(config, { store, clock: systemClock });
  if (keda) routers.push(keda);
  if (config.admin.tokenFile) {
    const token = readSecretFile(config.admin.tokenFile, 'admin.tokenFile');
    routers.push(createAdminRouter({ token, clock: systemClock, control: { hasTarget: (n) => service.has(n), pause: (t, u) => service.pause(t, u), pin: (t, m, u) => service.pin(t, m, u) }, onAction: (a) => log.warn(a, 'admin override') }));
  }
  const http: Server = await listen(createHttpApp({ readiness, routers }), config.http.port, config.http.host);
  const urls = [`http://${config.http.host}:${config.http.port}/`];
  const metricsApi = await startExternalMetricsServerFromConfig(config.metricsApi, {
    store,
    clock: systemClock,
    ...(config.metricsApi.fromConfigMap ? { kubeConfig: loadKubeConfig(config.kubernetes.kubeconfig, config.kubernetes.context) } : {}),
  });
  if (metricsApi) urls.push(`https://${config.metricsApi.host}:${metricsApi.port}/apis/external.metrics.k8s.io/v1beta1`);

  const controller = config.controller.enabled ? startController(config, b) : undefined;
  // Status and Events are written beside the cycles, not in them: a slow apiserver must not hold up forecasts for
  // every target (Lambda ones included). A report still running when the next cycle ends is not queued behind.
  let reporting: Promise<void> | undefined;
  const cycle = new NonOverlappingJob('forecast', async () => {
    const decisions = await service.runCycle();
    cyclesDone++;
    if (controller && !reporting) reporting = controller.afterCycle(decisions).finally(() => (reporting = undefined));
  });
  const retrain = new NonOverlappingJob('retrain', () => service.retrainAll());
  // Models first (a target without one is trained from its history), then a first cycle right away.
  // With the controller, its PredictiveScalers are listed first, so the first cycle runs them too.
  const boot = (controller ? controller.start() : Promise.resolve()).then(() => service.loadModels()).then(() => cycle.trigger());
  const tasks = [cron.schedule(config.schedule.forecast, () => cycle.trigger()), cron.schedule(config.schedule.retrain, () => retrain.trigger())];
  return {
    service,
    store,
    urls,
    stop: async () => {
      for (const t of tasks) await t.stop();
      await boot.catch(() => undefined);
      await Promise.all([cycle.stop(), retrain.stop()]);
      await controller?.stop();
      await Promise.all([new Promise<void>((r) => http.close(() => r())), metricsApi?.close()]);
      await b.elector?.stop();
      await b.audit?.close();
    },
  };
}

/** The PredictiveScaler controller of `serve`, on the service's own clients (src/controller). */
function startController(config: Config, b: Awaited<ReturnType<typeof buildService>>): PredictiveScalerController {
  const kc = loadKubeConfig(config.kubernetes.kubeconfig, config.kubernetes.context);
  const traces = new TraceCache();
  const startedAtMs = systemClock.now();
  const leader = b.elector;
  return new PredictiveScalerController({
    api: new PredictiveScalerClient(kc, { component: 'prescale', instance: identity() }),
    host: b.service,
    store: b.store,
    runtimeOf: (t) => ({
      config: t,
      source: createSource(t.history, { clients: b.clients, clock: systemClock, startedAtMs, traces }),
      actuators: t.actuators.map((a) => createActuator(a, { clients: b.clients, quantile: t.forecast.quantile })),
    }),
    isLeader: () => (leader ? leader.isLeader() : true),
    clock: systemClock,
    namespaces: config.controller.namespaces,
    resyncSeconds: config.controller.resyncSeconds,
    allowLocalFiles: config.controller.allowLocalFiles,
    allowAws: config.controller.allowAws,
  });
}
