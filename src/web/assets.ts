import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the browser files live. They are plain files (no build step), kept in src/web/public; a compiled
 * copy under dist/ looks for them next to itself first and falls back to the source tree.
 */
export function publicDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'public'), join(here, '..', '..', '..', 'src', 'web', 'public')];
  const found = candidates.find((d) => existsSync(join(d, 'charts.js')));
  if (!found) throw new Error(`web assets not found; looked in ${candidates.join(', ')}`);
  return found;
}

/** Chart.js's UMD build (global `Chart`) from node_modules; the package exports no subpaths, so go via its main file. */
export function chartJsUmdPath(): string {
  const main = createRequire(import.meta.url).resolve('chart.js');
  return join(dirname(main), 'chart.umd.js');
}

/** The shared chart code (window.PrescaleCharts), also inlined by the backtest report. */
export function chartsJsPath(): string {
  return join(publicDir(), 'charts.js');
}
