import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Actuator } from '../actuators/actuator.js';
import { CloneSetActuator } from '../actuators/cloneset.js';
import { lambdaActuatorFromConfig } from '../actuators/lambda-pc.js';
import { createMetricDataApi, createScalingApi, type MetricDataApi, type ScalingApi } from '../aws/clients.js';
import type { ActuatorConfig, Config, HistoryConfig, TargetConfig } from '../config/schema.js';
import { KubeClient, loadKubeConfig, type HpaApi, type LeaseApi, type ScaleApi } from '../k8s/client.js';
import type { RateUnit } from '../series/csv.js';
import { loadSeriesFile } from '../series/load.js';
import type { Series } from '../series/series.js';
import { cloudWatchSourceFromConfig } from '../sources/cloudwatch.js';
import { CsvReplaySource } from '../sources/csv-replay.js';
import { PrometheusSource } from '../sources/prometheus.js';
import type { MetricSource } from '../sources/source.js';
import type { Clock } from '../util/clock.js';
import { InputError, errorMessage } from '../util/errors.js';
import { loadTargetEvents } from './calendar.js';
import { servedQpsReader } from '../metrics-api/served.js';
import { SimulatedWorld, addTargetTo } from '../sim/world.js';
import type { TargetSnapshot } from './state.js';
import type { TargetRuntime } from './cycle.js';

/** The outside systems a config needs, created only when some target uses them. */
export interface Clients {
  readonly scaling?: ScalingApi;
  readonly metricData?: MetricDataApi;
  readonly kube?: ScaleApi & HpaApi & Partial<LeaseApi>;
  /** Where the real Kubernetes client was configured from, for /readyz. */
  readonly description: string;
  /** With `simulated: true`: the world the other clients are, and the load each target's recording gives it. */
  readonly world?: { readonly world: SimulatedWorld; readonly demands: Map<string, (tMs: number) => number> };
}

/** The read side of the StateStore the simulated HPAs read. */
interface SnapshotReader {
  get(name: string): TargetSnapshot | undefined;
}

function usesAws(c: Config): boolean {
  // A PredictiveScaler may read CloudWatch or drive a Lambda alias; the SDK clients connect only when used.
  return c.controller.enabled || c.targets.some((t) => t.history.source === 'cloudwatch' || t.actuators.some((a) => a.kind === 'lambda-provisioned-concurrency'));
}

function usesKube(c: Config): boolean {
  return c.controller.enabled || c.leaderElection.enabled || c.targets.some((t) => t.actuators.some((a) => a.kind === 'cloneset'));
}

/**
 * Builds the clients; with `simulated: true`, the simulated world of the backtest (src/sim/world.ts) instead of AWS
 * and Kubernetes: its HPAs read `prescale-qps` from `store` as the metrics API serves it, and it runs on the load of
 * the targets' replayed recordings (createTargets seeds it).
 */
export function createClients(c: Config, clock: Clock, o: { store?: SnapshotReader } = {}): Clients {
  if (c.simulated) {
    const demands = new Map<string, (tMs: number) => number>();
    const store = o.store;
    const world = new SimulatedWorld({
      clock,
      params: c.simulation,
      // A target without a recording runs on the load it last observed.
      demand: (target, t) => demands.get(target)?.(t) ?? finiteOr0(store?.get(target)?.observedQps),
      served: store ? servedQpsReader(store, { staleAfterSeconds: c.metricsApi.staleAfterSeconds, stale: c.metricsApi.stale }) : () => undefined,
    });
    return { scaling: world, kube: world, world: { world, demands }, description: 'simulated (the backtest\'s simulated AWS and Kubernetes)' };
  }
  const aws = { region: c.aws.region, ...(c.aws.endpoint ? { endpoint: c.aws.endpoint } : {}) };
  return {
    ...(usesAws(c) ? { scaling: createScalingApi(aws), metricData: createMetricDataApi(aws) } : {}),
    ...(usesKube(c) ? { kube: new KubeClient(loadKubeConfig(c.kubernetes.kubeconfig, c.kubernetes.context)) } : {}),
    description: `aws ${c.aws.region}${c.aws.endpoint ? ` at ${c.aws.endpoint}` : ''}; kubernetes ${c.kubernetes.kubeconfig ?? 'default loading'}`,
  };
}

function finiteOr0(x: number | undefined): number {
  return x !== undefined && Number.isFinite(x) ? x : 0;
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`internal: ${what} client was not created`);
  return v;
}

/** Trace files read once per (file, column, unit), however many targets replay them; the series are never mutated. */
export class TraceCache {
  private readonly cache = new Map<string, Series>();
  load(file: string, valueColumn: string | undefined, unit: RateUnit): Series {
    const key = JSON.stringify([file, valueColumn ?? null, unit]);
    let s = this.cache.get(key);
    if (!s) this.cache.set(key, (s = loadSeriesFile(file, { valueColumn, unit }).series));
    return s;
  }
}

export interface SourceDeps {
  readonly clients: Clients;
  readonly clock: Clock;
  readonly startedAtMs: number;
  readonly traces: TraceCache;
}

export function createSource(h: HistoryConfig, deps: SourceDeps): MetricSource {
  switch (h.source) {
    case 'cloudwatch':
      return cloudWatchSourceFromConfig(h, { api: need(deps.clients.metricData, 'CloudWatch'), clock: deps.clock });
    case 'prometheus':
      return new PrometheusSource({
        url: h.url,
        query: h.query,
        stepSeconds: h.stepSeconds,
        ...(h.bearerTokenFile ? { bearerToken: readSecretFile(h.bearerTokenFile, 'history.bearerTokenFile') } : {}),
      });
    case 'csv': {
      const series = deps.traces.load(h.path, h.valueColumn, h.unit);
      return new CsvReplaySource({
        trace: series,
        description: `csv replay ${h.path}`,
        clock: deps.clock,
        align: h.replay?.align ?? 'week',
        anchorMs: h.replay?.anchor ? Date.parse(h.replay.anchor) : undefined,
        startedAtMs: deps.startedAtMs,
        multiplier: h.multiplier,
      });
    }
    default: {
      const never: never = h;
      throw new Error(`unknown history source ${JSON.stringify(never)}`);
    }
  }
}

export function createActuator(a: ActuatorConfig, deps: { clients: Clients; quantile: number }): Actuator {
  switch (a.kind) {
    case 'lambda-provisioned-concurrency':
      return lambdaActuatorFromConfig(a, { api: need(deps.clients.scaling, 'Application Auto Scaling'), quantile: deps.quantile });
    case 'cloneset': {
      const kube = need(deps.clients.kube, 'Kubernetes');
      return new CloneSetActuator({
        namespace: a.namespace,
        name: a.name,
        workload: a.workload,
        mode: a.mode,
        model: { kind: 'cloneset', qpsPerReplica: a.qpsPerReplica },
        policy: { quantile: deps.quantile, leadMinutes: a.leadMinutes, min: a.min, max: a.max, scaleDownDelayMinutes: a.scaleDownDelayMinutes, maxStepUp: a.maxStepUp ?? Infinity },
        scale: kube,
        hpas: kube,
      });
    }
    default: {
      const never: never = a;
      throw new Error(`unknown actuator ${JSON.stringify(never)}`);
    }
  }
}

export function createTargets(c: Config, deps: { clients: Clients; clock: Clock; startedAtMs: number }): TargetRuntime[] {
  const traces = new TraceCache();
  const targets = c.targets.map((t: TargetConfig, i) => ({
    config: t,
    source: createSource(t.history, { ...deps, traces }),
    actuators: t.actuators.map((a) => createActuator(a, { clients: deps.clients, quantile: t.forecast.quantile })),
    events: loadTargetEvents(t, `targets[${i}].eventsFile`),
  }));
  const sim = deps.clients.world;
  if (sim) {
    for (const t of targets) {
      const loadAt = t.source.loadAt?.bind(t.source);
      if (loadAt) sim.demands.set(t.config.name, loadAt);
      addTargetTo(sim.world, t.config, { predictive: true });
    }
  }
  return targets;
}

/** This replica's name in the leader Lease: the pod name in cluster, else host and pid. */
export function identity(): string {
  return `${os.hostname()}-${process.pid}`;
}

/** A secret mounted as a file (token, password); the error names the config key, never the content. */
export function readSecretFile(file: string, key: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err: unknown) {
    throw new InputError(`${key}: cannot read ${file}: ${errorMessage(err)}`, { cause: err });
  }
}
