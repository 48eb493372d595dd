import { log } from '../obs/log.js';
import { errorMessage } from '../util/errors.js';

/**
 * Runs an async job on demand such that runs never overlap: a trigger while a run is in flight is counted
 * as skipped, not queued (the next tick does the work with fresher data). `stop()` waits for the run in
 * flight.
 */
export class NonOverlappingJob {
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  skipped = 0;
  runs = 0;

  constructor(
    readonly name: string,
    private readonly fn: () => Promise<void>,
  ) {}

  /** Starts a run unless one is in flight; resolves when this trigger's run (if any) ends. Never rejects. */
  trigger(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.inFlight) {
      this.skipped++;
      log.warn({ job: this.name, skipped: this.skipped }, 'previous run still in flight; skipping this tick');
      return Promise.resolve();
    }
    this.runs++;
    const run = this.fn()
      .catch((err: unknown) => {
        log.error({ job: this.name, err: errorMessage(err) }, 'job failed');
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    this.inFlight = run;
    return run;
  }

  get running(): boolean {
    return this.inFlight !== undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.inFlight;
  }
}
