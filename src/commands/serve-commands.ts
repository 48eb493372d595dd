import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { log } from '../obs/log.js';
import { runOnce, runServe, type Running } from '../service/run.js';

/** The bundled demo config (`npm start`), found relative to this file in src/ and in dist/src/. */
export function demoConfigPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = path.basename(path.dirname(path.dirname(here))) === 'dist' ? path.resolve(here, '../../..') : path.resolve(here, '../..');
  return path.join(root, 'config', 'demo.yaml');
}

/** Runs until SIGTERM/SIGINT: stops schedulers, waits for the cycle in flight, closes servers, exits. */
async function serveUntilSignal(running: Running): Promise<void> {
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'shutting down');
      running.stop().then(resolve, (err: unknown) => {
        log.error({ err: String(err) }, 'unclean shutdown');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

async function serve(configFile: string, o: { once?: boolean; json?: boolean }): Promise<void> {
  const config = loadConfig(configFile);
  if (o.once) {
    const decisions = await runOnce(config);
    if (o.json) process.stdout.write(JSON.stringify({ decisions }, null, 2) + '\n');
    else for (const d of decisions) process.stdout.write(`${d.target} ${d.actuator}: ${d.currentCapacity ?? '?'} -> ${d.plannedCapacity} (${d.reason}${d.fallback ? `; fallback: ${d.fallback}` : ''}), ${d.actions.length} action(s)\n`);
    return;
  }
  const running = await runServe(config);
  process.stderr.write(`prescale is serving:\n${running.urls.map((u) => `  ${u}`).join('\n')}\n`);
  await serveUntilSignal(running);
}

export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('run the service: forecast, plan and actuate on a schedule; serve the dashboard, API, /metrics and the external metrics API')
    .requiredOption('--config <file>', 'YAML config (see README)')
    .option('--once', 'one full cycle (read history, forecast, plan, actuate), then exit')
    .option('--json', 'with --once: print the decisions as JSON')
    .action((o: { config: string; once?: boolean; json?: boolean }) => serve(o.config, o));
  program
    .command('demo')
    .description('the embedded demo: a real trace replayed as live traffic, dry-run actuators, no cloud or cluster needed')
    .option('--once', 'one cycle, then exit')
    .option('--json', 'with --once: print the decisions as JSON')
    .action((o: { once?: boolean; json?: boolean }) => serve(demoConfigPath(), o));
}
