/**
 * A simulated OpenKruise CloneSet: pods exist as soon as `spec.replicas` asks for them and become Ready
 * `readySeconds` later (image pull, start-up, readiness probe). Scaling down deletes pods at once, the newest
 * (not-ready) first, which is what the controller prefers when it picks pods to delete.
 */
export class CloneSetSimulator {
  /** Creation times of the existing pods, oldest first. */
  private created: number[] = [];
  private spec = 0;

  /**
   * @param readyMs delay from pod creation to Ready, in milliseconds
   * @param initial pods that exist and are ready at the start
   */
  constructor(
    private readonly readyMs: number,
    initial: number,
  ) {
    this.spec = initial;
    this.created = Array.from({ length: initial }, () => -Infinity);
  }

  /** Writes `spec.replicas` at `nowMs`. */
  scale(nowMs: number, replicas: number): void {
    const n = Math.max(0, Math.floor(replicas));
    this.spec = n;
    if (n > this.created.length) {
      for (let i = this.created.length; i < n; i++) this.created.push(nowMs);
    } else {
      this.created.length = n;
    }
  }

  specReplicas(): number {
    return this.spec;
  }

  /** `status.replicas`: pods that exist. */
  statusReplicas(): number {
    return this.created.length;
  }

  /** Pods Ready at `nowMs`. */
  readyReplicas(nowMs: number): number {
    // Creation times are non-decreasing, so the ready pods are a prefix: binary search for its end.
    let lo = 0;
    let hi = this.created.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.created[mid] + this.readyMs <= nowMs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
