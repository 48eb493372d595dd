import { writeFileSync, renameSync } from 'node:fs';
import { startCluster, stopCluster } from './cluster.js';

/**
 * Runs one test control plane for a jest run (started by test/support/cluster-global.js): starts it, writes its
 * ClusterInfo as JSON to the file named by argv[2], and keeps it up until SIGTERM, or until the process that
 * started it is gone (a killed jest leaves nothing running).
 */
const out = process.argv[2];
if (!out) throw new Error('usage: cluster-daemon.ts INFO_FILE');
const parent = process.ppid;
try {
  const info = await startCluster();
  writeFileSync(`${out}.tmp`, JSON.stringify(info));
  renameSync(`${out}.tmp`, out);
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    await stopCluster(info);
    process.exit(0);
  };
  const timer = setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      void stop();
    }
  }, 1000);
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
} catch (err) {
  writeFileSync(`${out}.error`, err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
}
