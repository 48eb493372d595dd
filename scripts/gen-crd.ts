/**
 * npm run gen:crd: writes the PredictiveScaler CRD generated from src/crd/predictive-scaler.ts to
 * deploy/crd/ and deploy/helm/prescale/crds/. `npm run gen:crd -- --check` writes nothing and exits 1 when a
 * checked-in file differs from what it would write.
 */
import { join } from 'node:path';
import { staleCrdFiles, writeCrdFiles } from '../src/crd/manifest.js';

const ROOT = join(import.meta.dirname, '..');
const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--check');
if (unknown.length > 0) {
  process.stderr.write(`gen-crd: unknown argument ${unknown.join(' ')} (usage: gen-crd [--check])\n`);
  process.exit(2);
}

try {
  if (args.includes('--check')) {
    const stale = staleCrdFiles(ROOT);
    for (const m of stale) process.stderr.write(`gen-crd --check: ${m}\n`);
    if (stale.length > 0) process.exit(1);
    process.stdout.write('gen-crd --check: the checked-in CRD files are current\n');
  } else {
    for (const f of writeCrdFiles(ROOT)) process.stdout.write(`wrote ${f}\n`);
  }
} catch (err) {
  // A schema with no structural form (src/crd/openapi.ts names the path and the rule): nothing is written.
  process.stderr.write(`gen-crd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
