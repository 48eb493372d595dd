/**
 * Polls `probe` until it returns a value (not undefined), and returns it. A probe that throws counts as "not
 * yet" (a server still starting, a resource not there yet). After `limitMs` the error names `what` and carries
 * `context()`, e.g. the tail of a process's log.
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, o: { limitMs: number; intervalMs: number; context?: () => string }): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() - start > o.limitMs) throw new Error(`${what}: not reached in ${o.limitMs / 1000} s${o.context ? `\n${o.context()}` : ''}`);
    await new Promise((r) => setTimeout(r, o.intervalMs));
  }
}
