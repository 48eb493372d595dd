import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { ROOT } from './cli.js';

/**
 * helm, as pinned in test/helm/go.mod and built by scripts/cluster/build-helm.sh (npm test builds it), run on
 * the chart in deploy/helm/prescale with a home of its own, so no repository or cache of the user's is read
 * or written.
 */

export const CHART = join(ROOT, 'deploy/helm/prescale');

/** Loose shapes: the tests check the fields they rely on. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = any;

export interface HelmResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let bin: string | undefined;

/** Where build-helm.sh put helm; an error naming the command when it is not built. */
export function helmPath(): string {
  if (bin) return bin;
  const r = spawnSync('bash', [join(ROOT, 'scripts/cluster/build-helm.sh'), '--print'], { encoding: 'utf8' });
  const dir = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !existsSync(join(dir, 'helm'))) {
    throw new Error(`helm is not built (${dir || r.stderr.trim()}): run \`bash scripts/cluster/build-helm.sh\` (npm test runs it)`);
  }
  bin = join(dir, 'helm');
  return bin;
}

export class Helm {
  private readonly home = mkdtempSync(join(tmpdir(), 'prescale-helm-'));
  private values = 0;

  run(args: string[]): HelmResult {
    const env = {
      PATH: process.env.PATH,
      HOME: this.home,
      HELM_CACHE_HOME: join(this.home, 'cache'),
      HELM_CONFIG_HOME: join(this.home, 'config'),
      HELM_DATA_HOME: join(this.home, 'data'),
    };
    const r = spawnSync(helmPath(), args, { encoding: 'utf8', env, timeout: 60_000 });
    if (r.error) throw r.error;
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** A values file holding `values`, for `-f`. */
  valuesFile(values: object): string {
    const f = join(this.home, `values-${++this.values}.yaml`);
    writeFileSync(f, stringify(values));
    return f;
  }

  /** `helm template` of the chart; the text, or an error carrying helm's stderr. */
  templateText(values: object, o: { release?: string; namespace?: string; includeCrds?: boolean; showOnly?: string } = {}): string {
    const args = ['template', o.release ?? 'prescale', CHART, '--namespace', o.namespace ?? 'prescale', '-f', this.valuesFile(values)];
    if (o.includeCrds) args.push('--include-crds');
    if (o.showOnly) args.push('--show-only', o.showOnly);
    const r = this.run(args);
    if (r.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** `helm template`, parsed: one object per rendered document, empty ones dropped. */
  template(values: object, o: { release?: string; namespace?: string; includeCrds?: boolean; showOnly?: string } = {}): Obj[] {
    return parseAllDocuments(this.templateText(values, o)).flatMap((d, i) => {
      if (d.errors.length > 0) throw new Error(`rendered document ${i}: ${d.errors.map((e) => e.message).join('; ')}`);
      const obj = d.toJS() as Obj;
      return obj === null ? [] : [obj];
    });
  }

  dispose(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}
