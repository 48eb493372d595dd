import {
  ApplicationAutoScalingClient,
  DeleteScheduledActionCommand,
  DescribeScalableTargetsCommand,
  DescribeScheduledActionsCommand,
  PutScheduledActionCommand,
  RegisterScalableTargetCommand,
  type ScheduledAction,
} from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient, GetMetricDataCommand, type GetMetricDataCommandInput, type GetMetricDataCommandOutput } from '@aws-sdk/client-cloudwatch';
import type { MetadataBearer, Pluggable } from '@smithy/types';

/**
 * The AWS clients prescale uses, each behind a narrow one-purpose interface so that unit tests pass fakes and
 * only the moto tests touch the SDK. Nothing here reads the environment: region, endpoint and credentials come
 * in from the config (without credentials the SDK's default chain applies: IRSA, instance role, env).
 */

export interface AwsClientOptions {
  readonly region: string;
  /** e.g. `http://127.0.0.1:5000` for moto_server. */
  readonly endpoint?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /** Attempts per call including the first (SDK retries throttling and 5xx with adaptive backoff). Default 4. */
  readonly maxAttempts?: number;
  /** Socket-level timeout per HTTP request; callers also pass an AbortSignal per call. Default 10 s. */
  readonly requestTimeoutMs?: number;
  /** Told the name of every command sent (before retries), e.g. `PutScheduledAction`: for the IAM test and audit. */
  readonly onCommand?: (service: AwsService, command: string) => void;
}

export type AwsService = 'application-autoscaling' | 'cloudwatch';

/** Identifies one scalable target. */
export interface TargetKey {
  readonly serviceNamespace: 'lambda';
  readonly resourceId: string;
  readonly scalableDimension: 'lambda:function:ProvisionedConcurrency';
}

export interface ScalableTargetState {
  readonly minCapacity: number;
  readonly maxCapacity: number;
}

export interface ScheduledActionState {
  readonly name: string;
  /** e.g. `at(2026-01-05T10:25:00)` (UTC). */
  readonly schedule: string;
  readonly minCapacity?: number;
  readonly maxCapacity?: number;
}

/** Exactly the Application Auto Scaling calls prescale makes. */
export interface ScalingApi {
  /** undefined when the target is not registered. */
  describeScalableTarget(key: TargetKey, signal?: AbortSignal): Promise<ScalableTargetState | undefined>;
  /** Creates the target, or updates only the capacities given (an omitted one is left as it is). */
  registerScalableTarget(key: TargetKey, capacity: { minCapacity?: number; maxCapacity?: number }, signal?: AbortSignal): Promise<void>;
  /** All scheduled actions of the target (every page). */
  describeScheduledActions(key: TargetKey, signal?: AbortSignal): Promise<ScheduledActionState[]>;
  /** Creates or replaces the action of that name. */
  putScheduledAction(key: TargetKey, action: ScheduledActionState, signal?: AbortSignal): Promise<void>;
  deleteScheduledAction(key: TargetKey, name: string, signal?: AbortSignal): Promise<void>;
}

/** The one CloudWatch call prescale makes. */
export interface MetricDataApi {
  getMetricData(input: GetMetricDataCommandInput, signal?: AbortSignal): Promise<GetMetricDataCommandOutput>;
}

/**
 * A quota was hit (Application Auto Scaling's `LimitExceededException`, e.g. 200 scheduled actions per target).
 * The SDK classes that name as throttling and would retry it; a quota does not go away by waiting, so the
 * clients turn it into this error before the retry layer sees it, and the caller decides.
 */
export class AwsQuotaError extends Error {
  override readonly name = 'AwsQuotaError';
}

/** Pages of DescribeScheduledActions read before giving up (moto repeats pages forever in some APIs). */
const MAX_PAGES = 50;

function commonConfig(o: AwsClientOptions): Record<string, unknown> {
  return {
    region: o.region,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    retryMode: 'adaptive',
    maxAttempts: o.maxAttempts ?? 4,
    requestHandler: { requestTimeout: o.requestTimeoutMs ?? 10_000, connectionTimeout: 3_000 },
  };
}

/** Records each command name once per call (initialize runs before the retry loop). */
function recorder<I extends object, O extends MetadataBearer>(service: AwsService, onCommand: (service: AwsService, command: string) => void): Pluggable<I, O> {
  return {
    applyToStack: (stack) => {
      stack.add(
        (next, context) => (args) => {
          onCommand(service, String(context.commandName ?? 'unknown').replace(/Command$/, ''));
          return next(args);
        },
        { step: 'initialize', name: 'prescaleCommandRecorder' },
      );
    },
  };
}

/** Sits inside the retry loop and turns LimitExceededException into AwsQuotaError so it is not retried. */
function quotaNotThrottling<I extends object, O extends MetadataBearer>(): Pluggable<I, O> {
  return {
    applyToStack: (stack) => {
      stack.add(
        (next) => async (args) => {
          try {
            return await next(args);
          } catch (err: unknown) {
            if (err instanceof Error && err.name === 'LimitExceededException') throw new AwsQuotaError(`LimitExceededException: ${err.message}`, { cause: err });
            throw err;
          }
        },
        { step: 'finalizeRequest', priority: 'low', name: 'prescaleQuotaNotThrottling' },
      );
    },
  };
}

export function createScalingApi(o: AwsClientOptions): ScalingApi {
  const client = new ApplicationAutoScalingClient(commonConfig(o));
  if (o.onCommand) client.middlewareStack.use(recorder('application-autoscaling', o.onCommand));
  client.middlewareStack.use(quotaNotThrottling());
  return new SdkScalingApi(client);
}

export function createMetricDataApi(o: AwsClientOptions): MetricDataApi {
  const client = new CloudWatchClient(commonConfig(o));
  if (o.onCommand) client.middlewareStack.use(recorder('cloudwatch', o.onCommand));
  return { getMetricData: (input, signal) => client.send(new GetMetricDataCommand(input), { abortSignal: signal }) };
}

class SdkScalingApi implements ScalingApi {
  constructor(private readonly client: ApplicationAutoScalingClient) {}

  async describeScalableTarget(key: TargetKey, signal?: AbortSignal): Promise<ScalableTargetState | undefined> {
    // No MaxResults: moto repeats page 2 forever when paging targets; one ResourceId gives one result anyway.
    const out = await this.client.send(
      new DescribeScalableTargetsCommand({ ServiceNamespace: key.serviceNamespace, ResourceIds: [key.resourceId], ScalableDimension: key.scalableDimension }),
      { abortSignal: signal },
    );
    const t = (out.ScalableTargets ?? []).find((x) => x.ResourceId === key.resourceId && x.ScalableDimension === key.scalableDimension);
    if (!t || t.MinCapacity === undefined || t.MaxCapacity === undefined) return undefined;
    return { minCapacity: t.MinCapacity, maxCapacity: t.MaxCapacity };
  }

  async registerScalableTarget(key: TargetKey, capacity: { minCapacity?: number; maxCapacity?: number }, signal?: AbortSignal): Promise<void> {
    await this.client.send(
      new RegisterScalableTargetCommand({
        ServiceNamespace: key.serviceNamespace,
        ResourceId: key.resourceId,
        ScalableDimension: key.scalableDimension,
        ...(capacity.minCapacity !== undefined ? { MinCapacity: capacity.minCapacity } : {}),
        ...(capacity.maxCapacity !== undefined ? { MaxCapacity: capacity.maxCapacity } : {}),
      }),
      { abortSignal: signal },
    );
  }

  async describeScheduledActions(key: TargetKey, signal?: AbortSignal): Promise<ScheduledActionState[]> {
    const all: ScheduledActionState[] = [];
    const seen = new Set<string>();
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const out = await this.client.send(
        new DescribeScheduledActionsCommand({
          ServiceNamespace: key.serviceNamespace,
          ResourceId: key.resourceId,
          ScalableDimension: key.scalableDimension,
          ...(token ? { NextToken: token } : {}),
        }),
        { abortSignal: signal },
      );
      for (const a of out.ScheduledActions ?? []) {
        // Describe filters by ResourceId; check again so that nothing of another target is ever touched.
        if (a.ResourceId !== key.resourceId || !a.ScheduledActionName || seen.has(a.ScheduledActionName)) continue;
        seen.add(a.ScheduledActionName);
        all.push(toState(a));
      }
      token = out.NextToken;
      if (!token) return all;
    }
    throw new Error(`DescribeScheduledActions for ${key.resourceId}: still paging after ${MAX_PAGES} pages`);
  }

  async putScheduledAction(key: TargetKey, action: ScheduledActionState, signal?: AbortSignal): Promise<void> {
    await this.client.send(
      new PutScheduledActionCommand({
        ServiceNamespace: key.serviceNamespace,
        ResourceId: key.resourceId,
        ScalableDimension: key.scalableDimension,
        ScheduledActionName: action.name,
        Schedule: action.schedule,
        ScalableTargetAction: {
          ...(action.minCapacity !== undefined ? { MinCapacity: action.minCapacity } : {}),
          ...(action.maxCapacity !== undefined ? { MaxCapacity: action.maxCapacity } : {}),
        },
      }),
      { abortSignal: signal },
    );
  }

  async deleteScheduledAction(key: TargetKey, name: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(
        new DeleteScheduledActionCommand({ ServiceNamespace: key.serviceNamespace, ResourceId: key.resourceId, ScalableDimension: key.scalableDimension, ScheduledActionName: name }),
        { abortSignal: signal },
      );
    } catch (err: unknown) {
      // Already gone (a retried call that had succeeded, or a run killed after deleting): the goal is reached.
      if (err instanceof Error && err.name === 'ObjectNotFoundException') return;
      throw err;
    }
  }
}

function toState(a: ScheduledAction): ScheduledActionState {
  return {
    name: a.ScheduledActionName ?? '',
    schedule: a.Schedule ?? '',
    ...(a.ScalableTargetAction?.MinCapacity !== undefined ? { minCapacity: a.ScalableTargetAction.MinCapacity } : {}),
    ...(a.ScalableTargetAction?.MaxCapacity !== undefined ? { maxCapacity: a.ScalableTargetAction.MaxCapacity } : {}),
  };
}

/** The error's AWS name (e.g. `ThrottlingException`) and message, for records and wrapped errors. */
export function awsErrorText(err: unknown): string {
  if (err instanceof Error) return err.name && !err.message.startsWith(err.name) ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}
