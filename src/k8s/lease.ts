import { log } from '../obs/log.js';
import { systemClock, type Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import type { LeaseApi, LeaseRecord } from './client.js';

/**
 * Leader election on a coordination.k8s.io/v1 Lease, the way client-go's leaderelection does it: every write
 * is a compare-and-swap on resourceVersion, a lease held by another identity counts as expired only after it
 * has stayed unchanged for leaseDuration by OUR clock (so clock skew between replicas does not matter), the
 * leader renews every retryPeriod and gives up leading when it could not renew for renewDeadline, and a clean
 * stop releases the lease so another replica takes over at once instead of waiting for expiry.
 */
export interface LeaderElectorOptions {
  readonly api: LeaseApi;
  readonly namespace: string;
  readonly name: string;
  /** Unique per replica, e.g. the pod name. */
  readonly identity: string;
  /** How long a lease is valid without renewal; whole seconds (the API field is seconds). Default 15. */
  readonly leaseDurationSeconds?: number;
  /** The leader stops leading when it has not renewed for this long; below the lease duration. Default 2/3 of it (10 s of 15). */
  readonly renewDeadlineMs?: number;
  /** Time between attempts to acquire or renew; below the renew deadline. Default 2/15 of the lease (2 s of 15). */
  readonly retryPeriodMs?: number;
  readonly clock?: Clock;
  readonly onStartedLeading?: () => void;
  readonly onStoppedLeading?: () => void;
  /** Called when the observed holder changes (including to ''); for logs and the dashboard. */
  readonly onNewLeader?: (identity: string) => void;
}

export class LeaderElector {
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly clock: Clock;
  private leading = false;
  private lastRenewMs = -Infinity;
  private observed?: LeaseRecord;
  private observedAtMs = -Infinity;
  private stopped = true;
  private loopDone: Promise<void> = Promise.resolve();
  private wake?: () => void;
  private timer?: NodeJS.Timeout;

  constructor(private readonly o: LeaderElectorOptions) {
    this.leaseDurationSeconds = o.leaseDurationSeconds ?? 15;
    // client-go's 15 s / 10 s / 2 s, scaled to whatever lease duration is configured.
    this.renewDeadlineMs = o.renewDeadlineMs ?? Math.round((this.leaseDurationSeconds * 1000 * 2) / 3);
    this.retryPeriodMs = o.retryPeriodMs ?? Math.round((this.leaseDurationSeconds * 1000 * 2) / 15);
    this.clock = o.clock ?? systemClock;
    if (!Number.isInteger(this.leaseDurationSeconds) || this.leaseDurationSeconds < 1) {
      throw new Error(`leader election: leaseDurationSeconds must be a whole number >= 1, ${this.leaseDurationSeconds} given`);
    }
    if (!(this.renewDeadlineMs > 0 && this.renewDeadlineMs < this.leaseDurationSeconds * 1000)) {
      throw new Error(`leader election: renewDeadlineMs must be in (0, leaseDuration), ${this.renewDeadlineMs} given for a ${this.leaseDurationSeconds} s lease`);
    }
    if (!(this.retryPeriodMs > 0 && this.retryPeriodMs < this.renewDeadlineMs)) {
      throw new Error(`leader election: retryPeriodMs must be in (0, renewDeadlineMs), ${this.retryPeriodMs} given`);
    }
  }

  /** True only while the lease was renewed within the renew deadline (a stalled loop stops counting as leader). */
  isLeader(): boolean {
    return this.leading && this.clock.now() - this.lastRenewMs < this.renewDeadlineMs;
  }

  /** The holder last seen on the lease ('' when released or never seen). */
  leader(): string {
    return this.observed?.holderIdentity ?? '';
  }

  /**
   * One attempt to acquire or renew. Returns whether this replica holds the lease afterwards. Never throws:
   * a failed call counts as a failed renewal.
   */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    try {
      const ok = await this.attempt(now);
      if (ok) {
        this.lastRenewMs = now;
        this.setLeading(true);
      } else if (this.leading && (this.leader() !== this.o.identity || now - this.lastRenewMs >= this.renewDeadlineMs)) {
        this.setLeading(false);
      }
      return ok;
    } catch (err) {
      log.warn({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity, err: errorMessage(err) }, 'lease acquire/renew failed');
      if (this.leading && now - this.lastRenewMs >= this.renewDeadlineMs) this.setLeading(false);
      return false;
    }
  }

  private async attempt(now: number): Promise<boolean> {
    const me = this.o.identity;
    const cur = await this.o.api.getLease(this.o.namespace, this.o.name);
    if (!cur) {
      const created = await this.casWrite(() =>
        this.o.api.createLease(this.o.namespace, this.o.name, {
          holderIdentity: me,
          leaseDurationSeconds: this.leaseDurationSeconds,
          acquireTimeMs: now,
          renewTimeMs: now,
          leaseTransitions: 0,
          resourceVersion: '',
        }),
      );
      if (created) this.observe(created, now);
      return created !== undefined;
    }
    this.observe(cur, now);
    const heldByOther = cur.holderIdentity !== '' && cur.holderIdentity !== me;
    if (heldByOther && this.observedAtMs + cur.leaseDurationSeconds * 1000 > now) return false;
    const mine = cur.holderIdentity === me;
    const written = await this.casWrite(() =>
      this.o.api.replaceLease(this.o.namespace, this.o.name, {
        holderIdentity: me,
        leaseDurationSeconds: this.leaseDurationSeconds,
        acquireTimeMs: mine ? (cur.acquireTimeMs ?? now) : now,
        renewTimeMs: now,
        leaseTransitions: mine ? cur.leaseTransitions : cur.leaseTransitions + 1,
        resourceVersion: cur.resourceVersion,
      }),
    );
    if (written) this.observe(written, now);
    return written !== undefined;
  }

  /** A write that lost the compare-and-swap (409: someone else wrote first) is a lost race, not an error. */
  private async casWrite(write: () => Promise<LeaseRecord>): Promise<LeaseRecord | undefined> {
    try {
      return await write();
    } catch (err) {
      if (err instanceof Error && 'kind' in err && err.kind === 'conflict') return undefined;
      throw err;
    }
  }

  private observe(r: LeaseRecord, now: number): void {
    const prev = this.observed;
    if (!prev || prev.resourceVersion !== r.resourceVersion) {
      this.observedAtMs = now;
      if (!prev || prev.holderIdentity !== r.holderIdentity) this.o.onNewLeader?.(r.holderIdentity);
    }
    this.observed = r;
  }

  private setLeading(v: boolean): void {
    if (v === this.leading) return;
    this.leading = v;
    log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity, leading: v }, v ? 'became leader' : 'stopped leading');
    if (v) this.o.onStartedLeading?.();
    else this.o.onStoppedLeading?.();
  }

  /** Runs attempts every retryPeriod until stop(). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loopDone = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      await this.tryAcquireOrRenew();
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, this.retryPeriodMs);
      });
    }
  }

  /** Stops the loop, waits for an attempt in flight, and releases the lease if held. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.loopDone;
    await this.release();
  }

  /** Hands the lease back (empty holder, 1 s duration) so another replica need not wait for it to expire. */
  async release(): Promise<void> {
    if (!this.leading) return;
    const now = this.clock.now();
    this.setLeading(false);
    const cur = this.observed;
    if (!cur || cur.holderIdentity !== this.o.identity) return;
    try {
      const r = await this.o.api.replaceLease(this.o.namespace, this.o.name, {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTimeMs: now,
        renewTimeMs: now,
        leaseTransitions: cur.leaseTransitions,
        resourceVersion: cur.resourceVersion,
      });
      this.observe(r, now);
    } catch (err) {
      // The lease expires on its own; releasing only shortens the handover.
      log.warn({ lease: `${this.o.namespace}/${this.o.name}`, err: errorMessage(err) }, 'lease release failed');
    }
  }
}
