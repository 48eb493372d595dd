/**
 * A simulated Lambda alias with provisioned concurrency (PC) managed by Application Auto Scaling, one minute
 * at a time:
 * - desired capacity is clamped to [MinCapacity, MaxCapacity]; a scheduled action that raises MinCapacity
 *   above the desired capacity raises it at once (what prescale's Lambda actuator relies on);
 * - new PC becomes ready `allocationMs` after it is requested; removing PC is immediate (pending units go
 *   first);
 * - target tracking on ProvisionedConcurrencyUtilization (optional): its alarms need 3 consecutive one-minute
 *   averages above the target to scale out and 15 below 0.9 x target to scale in; the new capacity is
 *   ceil(ready x utilization / target), and a scaling action restarts the count;
 * - concurrency needed = QPS x mean duration (Little's law); invocations beyond ready PC spill over to on-demand
 *   instances and count as cold starts (CloudWatch `ProvisionedConcurrencySpilloverInvocations`).
 */

export interface LambdaSimOptions {
  readonly meanDurationMs: number;
  /** Target utilization of target tracking, in (0, 1]. */
  readonly targetUtilization: number;
  readonly allocationMs: number;
  /** MinCapacity and MaxCapacity of the scalable target at the start. */
  readonly min: number;
  readonly max: number;
  /** Whether a target-tracking policy is attached. */
  readonly targetTracking: boolean;
  /** PC ready at the start (a warm alias); default `min`. */
  readonly initial?: number;
}

export interface LambdaMinute {
  readonly atMs: number;
  readonly qps: number;
  /** Concurrency the load needs (QPS x duration). */
  readonly needed: number;
  /** PC ready during this minute. */
  readonly ready: number;
  /** Desired capacity at the end of the minute (ready or allocating). */
  readonly desired: number;
  readonly minCapacity: number;
  readonly invocations: number;
  readonly coldStarts: number;
  /** ProvisionedConcurrencyUtilization for the minute; NaN when no PC is ready. */
  readonly utilization: number;
}

const SCALE_OUT_DATAPOINTS = 3;
const SCALE_IN_DATAPOINTS = 15;
const SCALE_IN_FACTOR = 0.9;

export class LambdaSimulator {
  /** Requested units not yet ready, oldest first. */
  private pending: { readyAtMs: number; units: number }[] = [];
  private readyUnits: number;
  private minCapacity: number;
  private max: number;
  private high = 0;
  private low = 0;

  constructor(private readonly o: LambdaSimOptions) {
    this.minCapacity = o.min;
    this.max = o.max;
    this.readyUnits = Math.min(o.max, Math.max(o.min, o.initial ?? o.min));
  }

  desired(): number {
    return this.readyUnits + this.pending.reduce((s, p) => s + p.units, 0);
  }

  /** A scheduled action setting MinCapacity at `nowMs`. */
  setMinCapacity(nowMs: number, minCapacity: number): void {
    this.minCapacity = Math.min(this.max, Math.max(0, Math.ceil(minCapacity)));
    if (this.desired() < this.minCapacity) this.setDesired(nowMs, this.minCapacity);
  }

  /** MaxCapacity changed (RegisterScalableTarget or a scheduled action): desired capacity above it is released. */
  setMaxCapacity(maxCapacity: number): void {
    this.max = Math.max(0, Math.floor(maxCapacity));
    if (this.desired() > this.max) this.setDesired(Number.NaN, this.max);
  }

  /** Simulates the minute starting at `atMs` with the given mean QPS. Minutes must come in order. */
  minute(atMs: number, qps: number): LambdaMinute {
    this.promote(atMs);
    const load = Number.isFinite(qps) && qps > 0 ? qps : 0;
    const needed = (load * this.o.meanDurationMs) / 1000;
    const ready = this.readyUnits;
    const invocations = load * 60;
    const spill = Math.max(0, needed - ready);
    const coldStarts = needed > 0 ? (invocations * spill) / needed : 0;
    const utilization = ready > 0 ? Math.min(needed, ready) / ready : Number.NaN;
    if (this.o.targetTracking) this.track(atMs + 60_000, ready, utilization);
    return { atMs, qps: load, needed, ready, desired: this.desired(), minCapacity: this.minCapacity, invocations, coldStarts, utilization };
  }

  private track(nowMs: number, ready: number, utilization: number): void {
    const t = this.o.targetUtilization;
    // No ready PC means no datapoint: the alarms see missing data and keep their state.
    if (Number.isNaN(utilization)) return;
    this.high = utilization > t ? this.high + 1 : 0;
    this.low = utilization < SCALE_IN_FACTOR * t ? this.low + 1 : 0;
    const want = Math.ceil(Math.round(((ready * utilization) / t) * 1e9) / 1e9);
    if (this.high >= SCALE_OUT_DATAPOINTS) {
      this.high = 0;
      if (want > this.desired()) this.setDesired(nowMs, want);
    } else if (this.low >= SCALE_IN_DATAPOINTS) {
      this.low = 0;
      if (want < this.desired()) this.setDesired(nowMs, want);
    }
  }

  private setDesired(nowMs: number, n: number): void {
    const target = Math.min(this.max, Math.max(this.minCapacity, n));
    let diff = target - this.desired();
    if (diff > 0) {
      this.pending.push({ readyAtMs: nowMs + this.o.allocationMs, units: diff });
      return;
    }
    // Release the newest requests first, then ready units.
    while (diff < 0 && this.pending.length > 0) {
      const last = this.pending[this.pending.length - 1];
      const take = Math.min(last.units, -diff);
      last.units -= take;
      diff += take;
      if (last.units === 0) this.pending.pop();
    }
    this.readyUnits += diff;
  }

  private promote(nowMs: number): void {
    while (this.pending.length > 0 && this.pending[0].readyAtMs <= nowMs) {
      this.readyUnits += this.pending[0].units;
      this.pending.shift();
    }
  }
}
