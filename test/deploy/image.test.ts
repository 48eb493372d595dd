/**
 * The Dockerfile's commands, run without a Docker engine (there is none here).
 *
 * The test clones the repository (so only committed files count, as in a build context), removes what
 * .dockerignore excludes, reads the Dockerfile of the clone and executes its stages in order, each in a
 * directory of its own that stands for the stage's root filesystem: WORKDIR is a directory inside it, COPY
 * copies from the context (or, with --from, from an earlier stage's directory), RUN runs with bash in the
 * WORKDIR. Then it assembles nothing by hand: the runtime stage's directory is exactly what its COPY and RUN
 * lines made, and the ENTRYPOINT runs there with `demo --once` and the stage's ENV, as `docker run IMAGE demo
 * --once` would.
 *
 * What runs differently from `docker build`, and why (each rule below must still match the Dockerfile, so a
 * change there that makes a rule stale fails the test):
 * - the deps stage's `npm ci --omit=dev --include=optional` runs with `--omit=optional` instead:
 *   @tensorflow/tfjs-node's install script downloads libtensorflow from outside the npm registry, which this
 *   machine and CI cannot reach. The runtime directory therefore has no tfjs-node and prescale uses its wasm
 *   backend, as it does in CI;
 * - so the `node -e "require('@tensorflow/tfjs-node')"` check of that stage is skipped;
 * - `npm cache clean --force` is skipped: here it would wipe the developer's own npm cache (~/.npm), in the
 *   image it only keeps the layer small;
 * - absolute paths in RUN lines and ENV values are rebased into the stage's directory (`mkdir -p
 *   /etc/prescale` creates <stage>/etc/prescale, HOME=/tmp becomes <stage>/tmp), so nothing outside the
 *   temporary directories is touched; <stage>/tmp is created with mode 1777, standing for the base image's /tmp;
 * - the base images (FROM node:…) are not pulled: RUN lines use this machine's node, npm and bash (the test
 *   prints their versions beside the image names), and ENTRYPOINT's `node` is the node running this test;
 * - RUN lines get this machine's environment (HOME, so npm uses its cache and config) without the variables
 *   `npm run` and jest add; the ENTRYPOINT gets only PATH and the stage's ENV, as in a container;
 * - COPY --chown and RUN chown, and USER, are applied only when the test runs as root (the ENTRYPOINT then
 *   runs with USER's uid and gid); otherwise they are skipped and the test says so.
 *
 * What cannot be proven here and is skipped: HEALTHCHECK (it polls a long-running `serve` on port 8080),
 * EXPOSE (ports are published by the engine), VOLUME as a mount (only that its directory exists in the image
 * and belongs to USER is checked), the base images' contents, and the tfjs-node native backend (see above).
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { parse as parseYaml } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..');
/** Two `npm ci` runs and a `tsc` build: minutes on a 2-core machine. */
const SLOW_MS = 15 * 60_000;
const IS_ROOT = process.getuid?.() === 0;

const started = Date.now();
function progress(msg: string): void {
  process.stderr.write(`[image ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);
}

// ---------------------------------------------------------------------------------------------- parsing

interface Instruction {
  op: string;
  args: string;
  line: number;
}

interface Stage {
  name: string;
  image: string;
  instructions: Instruction[];
}

/** Instructions with continuation lines joined and comments (and parser directives) dropped, as Docker reads them. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    if (/^\s*#/.test(raw)) return;
    if (raw.trim() === '') return;
    if (buf === '') start = i + 1;
    if (/\\\s*$/.test(raw)) {
      buf += raw.replace(/\\\s*$/, '');
      return;
    }
    buf += raw;
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(buf);
    if (!m) throw new Error(`Dockerfile line ${start}: cannot read "${buf}"`);
    out.push({ op: m[1].toUpperCase(), args: m[2].trim(), line: start });
    buf = '';
  });
  if (buf !== '') throw new Error(`Dockerfile line ${start}: continuation runs past the end`);
  return out;
}

function substitute(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => vars[a ?? b ?? ''] ?? '');
}

/** `k=v k2="v 2"` or the legacy `k v`. */
function keyValues(args: string): [string, string][] {
  const unquote = (v: string): string => v.replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
  if (!/^[\w.-]+=/.test(args)) {
    const m = /^(\S+)\s+(.*)$/.exec(args);
    if (!m) throw new Error(`cannot read "${args}"`);
    return [[m[1], unquote(m[2])]];
  }
  return [...args.matchAll(/([\w.-]+)=("[^"]*"|'[^']*'|\S*)/g)].map((m) => [m[1], unquote(m[2])]);
}

function parseDockerfile(text: string): { stages: Stage[]; args: Record<string, string> } {
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions(text)) {
    if (ins.op === 'ARG' && stages.length === 0) {
      const [k, v] = ins.args.split('=', 2);
      args[k] = v ?? '';
    } else if (ins.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`Dockerfile line ${ins.line}: cannot read FROM ${ins.args}`);
      stages.push({ name: m[2] ?? String(stages.length), image: substitute(m[1], args), instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile line ${ins.line}: ${ins.op} before FROM`);
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { stages, args };
}

// ------------------------------------------------------------------------------------- build context

interface IgnoreRule {
  re: RegExp;
  source: string;
  negate: boolean;
}

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      re += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function ignoreRules(text: string): IgnoreRule[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const source = posix.normalize(negate ? l.slice(1).trim() : l).replace(/^\/+/, '');
      return { re: globToRegExp(source), source, negate };
    });
}

/** Docker's rule: the last pattern that matches the path or one of its parent directories decides. */
function ignored(rel: string, rules: IgnoreRule[]): boolean {
  const parts = rel.split('/');
  const prefixes = parts.map((_p, i) => parts.slice(0, i + 1).join('/'));
  let out = false;
  for (const r of rules) if (prefixes.some((p) => r.re.test(p))) out = !r.negate;
  return out;
}

/** Deletes what .dockerignore excludes; returns how many entries went. */
function pruneContext(dir: string, rules: IgnoreRule[], rel = ''): number {
  let removed = 0;
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    // An excluded directory is kept (and searched) while an exception could re-include something inside it.
    const mayReinclude = rules.some((x) => x.negate && (x.source.startsWith(`${r}/`) || /[*?]/.test(x.source)));
    if (e.isDirectory() && (!ignored(r, rules) || mayReinclude)) removed += pruneContext(dir, rules, r);
    else if (ignored(r, rules)) {
      rmSync(join(dir, r), { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}

// ------------------------------------------------------------------------------------------ executing

/** A RUN command (one part of an `&&` chain) that cannot run here as written. */
interface Rule {
  readonly command: RegExp;
  readonly reason: string;
  /** Absent: the command is skipped. */
  readonly replace?: (cmd: string) => string;
  readonly active: boolean;
  hits: number;
}

const RULES: Rule[] = [
  {
    command: /^npm ci\b.*--include=optional\b/,
    replace: (c) => c.replace(/--include=optional\b/, '--omit=optional'),
    reason: "optional dependencies omitted: @tensorflow/tfjs-node's install script downloads libtensorflow from outside the npm registry, unreachable here",
    active: true,
    hits: 0,
  },
  {
    command: /^node -e .*@tensorflow\/tfjs-node/,
    reason: 'skipped: tfjs-node is not installed (optional dependencies omitted above)',
    active: true,
    hits: 0,
  },
  {
    command: /^npm cache clean\b/,
    reason: "skipped: it would wipe this machine's npm cache (~/.npm); in the image it only keeps the layer small",
    active: true,
    hits: 0,
  },
  {
    command: /^chown\b/,
    reason: 'skipped: the test does not run as root, so it cannot change owners',
    active: !IS_ROOT,
    hits: 0,
  },
];

/** Splits `a && b` at the top level (outside quotes). */
function andChain(cmd: string): string[] {
  const parts: string[] = [];
  let quote: string | null = null;
  let cur = '';
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '&' && cmd[i + 1] === '&') {
      parts.push(cur.trim());
      cur = '';
      i++;
      continue;
    }
    cur += c;
  }
  parts.push(cur.trim());
  return parts;
}

function rebase(root: string, p: string): string {
  return join(root, p);
}

/** Absolute paths in a shell command, rebased into the stage's root directory. */
function rebaseCommand(root: string, cmd: string): string {
  return cmd.replace(/(^|\s)(\/[A-Za-z][^\s;&|<>'"]*)/g, (_m, pre: string, p: string) => pre + rebase(root, p));
}

/** This machine's environment for RUN lines, without what `npm run` and jest put there. */
function hostEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^npm_/i.test(k) || /^(INIT_CWD|NODE_OPTIONS|JEST_WORKER_ID|PRESCALE_.*)$/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

function sh(cmd: string, o: { cwd: string; env: Record<string, string>; label: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', cmd], { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const relay = (b: Buffer): void => {
      const s = b.toString();
      tail = (tail + s).slice(-6000);
      for (const line of s.split('\n')) if (line.trim() !== '') process.stderr.write(`    | ${line}\n`);
    };
    child.stdout.on('data', relay);
    child.stderr.on('data', relay);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${o.label} exited with ${signal ?? code}:\n${tail}`));
    });
  });
}

interface BuiltStage {
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  entrypoint?: string[];
  volumes: string[];
}

interface Build {
  work: string;
  context: string;
  stages: Map<string, BuiltStage>;
  last: BuiltStage;
  skipped: string[];
}

/** Copies like COPY: a directory's contents into dest, a file into dest (a directory when dest ends in / or there are several sources). */
function copy(srcs: string[], dest: string, destIsDir: boolean): string[] {
  const made: string[] = [];
  for (const src of srcs) {
    if (!existsSync(src)) throw new Error(`COPY: ${src} does not exist`);
    if (statSync(src).isDirectory()) {
      mkdirSync(dest, { recursive: true });
      const r = spawnSync('cp', ['-a', `${src}/.`, `${dest}/`], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`cp ${src} → ${dest}: ${r.stderr}`);
      made.push(dest);
    } else {
      const target = destIsDir ? join(dest, src.split('/').pop() ?? '') : dest;
      mkdirSync(dirname(target), { recursive: true });
      const r = spawnSync('cp', ['-a', src, target], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`cp ${src} → ${target}: ${r.stderr}`);
      made.push(target);
    }
  }
  return made;
}

async function runCopy(ins: Instruction, stage: BuiltStage, b: Build): Promise<void> {
  if (ins.args.startsWith('[')) throw new Error(`Dockerfile line ${ins.line}: COPY's JSON form is not handled by this test`);
  const tokens = ins.args.split(/\s+/);
  let from: string | undefined;
  let chown: string | undefined;
  while (tokens[0]?.startsWith('--')) {
    const flag = tokens.shift() ?? '';
    const m = /^--(from|chown)=(.+)$/.exec(flag);
    if (!m) throw new Error(`Dockerfile line ${ins.line}: COPY flag ${flag} is not handled by this test`);
    if (m[1] === 'from') from = m[2];
    else chown = m[2];
  }
  const dest = tokens.pop() ?? '';
  if (tokens.length === 0) throw new Error(`Dockerfile line ${ins.line}: COPY without a source`);
  if (tokens.some((t) => /[*?[]/.test(t))) throw new Error(`Dockerfile line ${ins.line}: COPY wildcards are not handled by this test`);
  let srcs: string[];
  if (from !== undefined) {
    const source = b.stages.get(from);
    if (!source) throw new Error(`Dockerfile line ${ins.line}: COPY --from=${from}: no earlier stage of that name`);
    srcs = tokens.map((t) => rebase(source.root, t));
  } else {
    srcs = tokens.map((t) => {
      const n = posix.normalize(t);
      if (n.startsWith('..')) throw new Error(`Dockerfile line ${ins.line}: ${t} is outside the build context`);
      return join(b.context, n);
    });
  }
  const destPath = dest.startsWith('/') ? rebase(stage.root, dest) : join(stage.workdir, dest);
  const made = copy(srcs, destPath, dest.endsWith('/') || srcs.length > 1);
  if (chown !== undefined) {
    if (IS_ROOT) {
      const r = spawnSync('chown', ['-R', chown, ...made], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`COPY --chown=${chown}: ${r.stderr}`);
    } else b.skipped.push(`line ${ins.line}: COPY --chown=${chown} (not root)`);
  }
}

async function runRun(ins: Instruction, stage: BuiltStage, name: string): Promise<void> {
  if (ins.args.startsWith('[')) throw new Error(`Dockerfile line ${ins.line}: RUN's JSON form is not handled by this test`);
  const kept: string[] = [];
  for (const part of andChain(ins.args)) {
    const rule = RULES.find((r) => r.active && r.command.test(part));
    if (rule) rule.hits++;
    if (rule && !rule.replace) {
      progress(`${name}: skip \`${part}\`: ${rule.reason}`);
      continue;
    }
    const cmd = rule?.replace ? rule.replace(part) : part;
    if (rule) progress(`${name}: \`${part}\` runs as \`${cmd}\`: ${rule.reason}`);
    kept.push(rebaseCommand(stage.root, cmd));
  }
  if (kept.length === 0) return;
  const cmd = kept.join(' && ');
  const t = Date.now();
  progress(`${name}: RUN ${cmd}`);
  await sh(cmd, { cwd: stage.workdir, env: { ...hostEnv(), ...stage.env }, label: `${name} stage, Dockerfile line ${ins.line}` });
  progress(`${name}: RUN done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}

async function runStage(s: Stage, b: Build, dockerArgs: Record<string, string>): Promise<BuiltStage> {
  const root = join(b.work, 'stages', s.name);
  const parent = b.stages.get(s.image);
  mkdirSync(root, { recursive: true });
  if (parent) copy([parent.root], root, true);
  mkdirSync(join(root, 'tmp'), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
  const stage: BuiltStage = parent ? { ...parent, root, workdir: root, env: { ...parent.env }, volumes: [] } : { root, workdir: root, env: {}, volumes: [] };
  progress(`stage ${s.name} (FROM ${s.image}${parent ? '' : ', not pulled'}) in ${root}`);
  for (const ins of s.instructions) {
    switch (ins.op) {
      case 'ARG': {
        const [k, v] = ins.args.split('=', 2);
        stage.env[k] = v ?? dockerArgs[k] ?? '';
        break;
      }
      case 'ENV':
        for (const [k, v] of keyValues(ins.args)) stage.env[k] = v.startsWith('/') ? rebase(root, v) : v;
        break;
      case 'WORKDIR': {
        const w = substitute(ins.args, stage.env);
        stage.workdir = w.startsWith('/') ? rebase(root, w) : join(stage.workdir, w);
        mkdirSync(stage.workdir, { recursive: true });
        break;
      }
      case 'COPY':
        await runCopy(ins, stage, b);
        break;
      case 'RUN':
        await runRun(ins, stage, s.name);
        break;
      case 'USER':
        stage.user = ins.args;
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = JSON.parse(ins.args) as string[];
        break;
      case 'VOLUME':
        stage.volumes = ins.args.startsWith('[') ? (JSON.parse(ins.args) as string[]) : ins.args.split(/\s+/);
        b.skipped.push(`line ${ins.line}: VOLUME ${ins.args} (a mount needs an engine; its directory is checked)`);
        break;
      case 'EXPOSE':
        b.skipped.push(`line ${ins.line}: EXPOSE ${ins.args} (ports are published by an engine)`);
        break;
      case 'HEALTHCHECK':
        b.skipped.push(`line ${ins.line}: HEALTHCHECK (it polls a long-running serve; an engine runs it)`);
        break;
      case 'CMD':
        b.skipped.push(`line ${ins.line}: CMD ${ins.args} (replaced here by demo --once; it needs a mounted config)`);
        break;
      case 'LABEL':
        b.skipped.push(`line ${ins.line}: LABEL (image metadata)`);
        break;
      default:
        throw new Error(`Dockerfile line ${ins.line}: ${ins.op} is not handled by this test: run it or list it as skipped`);
    }
  }
  return stage;
}

async function buildImage(): Promise<Build> {
  const work = mkdtempSync(join(tmpdir(), 'prescale-image-'));
  // The USER's uid must be able to reach the runtime directory.
  chmodSync(work, 0o755);
  const context = join(work, 'context');
  let t = Date.now();
  const clone = spawnSync('git', ['clone', '--quiet', ROOT, context], { encoding: 'utf8' });
  if (clone.status !== 0) throw new Error(`git clone: ${clone.stderr}`);
  progress(`git clone of ${ROOT} (committed files only) in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const dockerfile = readFileSync(join(context, 'Dockerfile'), 'utf8');
  const removed = existsSync(join(context, '.dockerignore')) ? pruneContext(context, ignoreRules(readFileSync(join(context, '.dockerignore'), 'utf8'))) : 0;
  progress(`.dockerignore removed ${removed} entries from the context; left: ${readdirSync(context).sort().join(' ')}`);
  const { stages, args } = parseDockerfile(dockerfile);
  const node = process.version;
  const npm = spawnSync('npm', ['--version'], { encoding: 'utf8', env: hostEnv() }).stdout.trim();
  progress(`stages: ${stages.map((s) => `${s.name} (FROM ${s.image})`).join(', ')}; this machine runs node ${node}, npm ${npm}`);
  const b: Build = { work, context, stages: new Map(), last: { root: '', workdir: '', env: {}, volumes: [] }, skipped: [] };
  for (const s of stages) {
    t = Date.now();
    const built = await runStage(s, b, args);
    b.stages.set(s.name, built);
    b.last = built;
    progress(`stage ${s.name} done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  for (const r of RULES) if (r.active && r.hits === 0) throw new Error(`the rule for \`${r.command.source}\` matched no RUN command: the Dockerfile changed, revisit the rule (${r.reason})`);
  progress(`not proven here: ${b.skipped.join('; ')}`);
  return b;
}

/** Whether a user other than root could execute `file` (every directory above it searchable by others). */
function othersCanExecute(file: string): boolean {
  const modes: number[] = [];
  for (let p = file; p !== dirname(p); p = dirname(p)) modes.push(statSync(p).mode);
  return modes.every((m) => (m & 0o001) !== 0);
}

// -------------------------------------------------------------------------------------------- tests

describe('the Dockerfile, run in a temporary clone', () => {
  let build: Build | undefined;
  const built = (): Build => {
    if (!build) throw new Error('the image stages did not build (see the first test)');
    return build;
  };

  afterAll(() => {
    if (build) rmSync(build.work, { recursive: true, force: true });
  });

  it(
    "runs every stage's COPY and RUN lines: npm ci, npm run build, the production npm ci",
    async () => {
      build = await buildImage();
      expect(existsSync(join(build.last.workdir, 'package.json'))).toBe(true);
    },
    SLOW_MS,
  );

  it("assembles the runtime from the stages' outputs, with production dependencies only", () => {
    const b = built();
    const app = b.last.workdir;
    const entry = b.last.entrypoint ?? [];
    expect(entry[0]).toBe('node');
    expect(existsSync(join(app, entry[1] ?? ''))).toBe(true);
    const lock = JSON.parse(readFileSync(join(b.context, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
    };
    const dev = Object.entries(lock.packages).filter(([p, v]) => p.startsWith('node_modules/') && v.dev === true);
    // Needed by production dependencies, not only by optional ones (omitted here, see the top) or dev ones.
    const prod = Object.entries(lock.packages).filter(([p, v]) => p.startsWith('node_modules/') && !v.dev && !v.optional && !v.devOptional);
    expect(dev.length).toBeGreaterThan(0);
    expect(dev.map(([p]) => p).filter((p) => existsSync(join(app, p)))).toEqual([]);
    expect(existsSync(join(app, 'node_modules/typescript'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/jest'))).toBe(false);
    expect(prod.map(([p]) => p).filter((p) => !existsSync(join(app, p)))).toEqual([]);
  });

  it(
    'runs the ENTRYPOINT with `demo --once` in the runtime directory, with its ENV and USER: exit 0, one decision per actuator',
    () => {
      const b = built();
      const app = b.last.workdir;
      const [cmd, ...entryArgs] = b.last.entrypoint ?? [];
      expect(cmd).toBe('node');
      // As in a container: PATH and the stage's ENV only (HOME and TMPDIR point at the stage's own tmp).
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...b.last.env };
      const user = /^(\d+)(?::(\d+))?$/.exec(b.last.user ?? '');
      const asUser = IS_ROOT && user !== null && othersCanExecute(process.execPath);
      if (!asUser) progress(`the ENTRYPOINT runs as this user, not USER ${b.last.user ?? '(none)'}: ${IS_ROOT ? 'node is not executable by others' : 'not root'}`);
      const ids = asUser && user ? { uid: Number(user[1]), gid: Number(user[2] ?? user[1]) } : {};
      const t = Date.now();
      const r = spawnSync(process.execPath, [...entryArgs, 'demo', '--once'], { cwd: app, env, encoding: 'utf8', timeout: 180_000, ...ids });
      progress(`node ${[...entryArgs, 'demo', '--once'].join(' ')}${asUser ? ` as ${b.last.user}` : ''}: exit ${r.status} in ${((Date.now() - t) / 1000).toFixed(1)} s\n${r.stdout}`);
      if (r.status !== 0) process.stderr.write(r.stderr.slice(-4000));
      expect(r.status).toBe(0);
      const config = parseYaml(readFileSync(join(app, 'config', 'demo.yaml'), 'utf8')) as { targets: { name: string; actuators: unknown[] }[] };
      const actuators = config.targets.reduce((n, tg) => n + tg.actuators.length, 0);
      const decisions = r.stdout.split('\n').filter((l) => /^\S+ \S+: (\d+|\?) -> \d+ \(/.test(l));
      expect(actuators).toBeGreaterThan(0);
      expect(decisions).toHaveLength(actuators);
      // The shipped model forecast them: no fallback to the observed load.
      expect(decisions.filter((l) => l.includes('fallback'))).toEqual([]);
      expect(r.stderr).toMatch(/"msg":"model loaded"/);
    },
    SLOW_MS,
  );

  it("has the VOLUME directories in the runtime, owned by USER so that a fresh volume is the user's", () => {
    const b = built();
    expect(b.last.volumes.length).toBeGreaterThan(0);
    for (const v of b.last.volumes) {
      const dir = rebase(b.last.root, v);
      expect(existsSync(dir) && statSync(dir).isDirectory()).toBe(true);
      const user = /^(\d+)(?::(\d+))?$/.exec(b.last.user ?? '');
      if (IS_ROOT && user) expect(statSync(dir).uid).toBe(Number(user[1]));
    }
  });
});
