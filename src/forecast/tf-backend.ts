import { createRequire } from 'node:module';
import path from 'node:path';
import { log } from '../obs/log.js';

/** The TensorFlow.js namespace (tfjs-node re-exports the same API). */
export type Tf = typeof import('@tensorflow/tfjs');
export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface TfRuntime {
  readonly tf: Tf;
  readonly backend: TfBackendName;
}

let runtime: Promise<TfRuntime> | undefined;

/**
 * Loads TensorFlow.js once per process with the fastest backend that works here: the native tfjs-node
 * (optional dependency, often not installable), else WebAssembly, else the pure-JS cpu backend. Logs the
 * choice once. Later calls return the same runtime, whatever they prefer.
 */
export function initTf(o: { readonly prefer?: TfBackendName } = {}): Promise<TfRuntime> {
  runtime ??= chooseBackend(o.prefer);
  return runtime;
}

/** The runtime if `initTf` already finished, for code that must stay synchronous (predict). */
let ready: TfRuntime | undefined;
export function tfIfReady(): TfRuntime | undefined {
  return ready;
}

/** Live tensors in the process (0 before TensorFlow.js loads); exported as a gauge so leaks show. */
export function liveTensorCount(): number {
  return ready ? ready.tf.memory().numTensors : 0;
}

/** `prefer` skips the faster backends (e.g. `cpu` to debug numerics); the first call decides for the process. */
async function chooseBackend(forced: TfBackendName | undefined): Promise<TfRuntime> {
  const native = forced === undefined || forced === 'tensorflow' ? await tryNative() : undefined;
  if (native) return done(native, 'tensorflow');
  const tf = await import('@tensorflow/tfjs');
  if (forced !== 'cpu' && (await tryWasm(tf))) return done(tf, 'wasm');
  await tf.setBackend('cpu');
  await tf.ready();
  return done(tf, 'cpu');
}

function done(tf: Tf, backend: TfBackendName): TfRuntime {
  ready = { tf, backend };
  log.info({ backend, tfjs: tf.version.tfjs }, 'tensorflow.js backend chosen');
  return ready;
}

async function tryNative(): Promise<Tf | undefined> {
  try {
    // A variable specifier keeps TypeScript from needing the optional package's types.
    const name = '@tensorflow/tfjs-node';
    return (await import(name)) as Tf;
  } catch {
    return undefined;
  }
}

async function tryWasm(tf: Tf): Promise<boolean> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    // The package's main file lives in dist/, next to the .wasm binaries it must fetch.
    const distDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    // Paths, not URLs: without platform fetch, the Emscripten loader reads the binary with fs in Node.
    // Threads need a worker setup the Node build lacks; one thread works everywhere.
    wasm.setThreadsCount(1);
    wasm.setWasmPaths(distDir + path.sep);
    const ok = await tf.setBackend('wasm');
    await tf.ready();
    return ok && tf.getBackend() === 'wasm';
  } catch (err: unknown) {
    log.warn({ err }, 'wasm backend unavailable, falling back to cpu');
    return false;
  }
}
