// Chooses the TF.js backend at run time (MODEL_BACKEND=auto|gpu|node|wasm|cpu). Optional native
// packages are imported dynamically so a machine without them still runs on wasm or cpu.
import * as tf from '@tensorflow/tfjs';

export type BackendChoice = 'auto' | 'gpu' | 'node' | 'wasm' | 'cpu';
export interface BackendReport {
  requested: BackendChoice;
  backend: string;
  reason: string;
  tried: { name: string; error?: string }[];
}

const CHOICES: readonly BackendChoice[] = ['auto', 'gpu', 'node', 'wasm', 'cpu'];

export function parseBackendChoice(value: string | undefined): BackendChoice {
  const v = (value ?? 'auto').trim().toLowerCase();
  if (!(CHOICES as readonly string[]).includes(v)) {
    throw new Error(`MODEL_BACKEND must be one of ${CHOICES.join(', ')}; got "${value}"`);
  }
  return v as BackendChoice;
}

// Each loader registers its backend with tf and returns the tf backend name it provides.
const LOADERS: Record<Exclude<BackendChoice, 'auto'>, () => Promise<string>> = {
  gpu: async () => {
    await import(/* @vite-ignore */ '@tensorflow/tfjs-node-gpu' as string);
    return 'tensorflow';
  },
  node: async () => {
    await import(/* @vite-ignore */ '@tensorflow/tfjs-node' as string);
    return 'tensorflow';
  },
  wasm: async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    return 'wasm';
  },
  cpu: async () => 'cpu',
};

async function activate(choice: Exclude<BackendChoice, 'auto'>): Promise<string> {
  const name = await LOADERS[choice]();
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend("${name}") returned false`);
  await tf.ready();
  return name;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/**
 * Activates a backend. An explicit choice that is unavailable throws; 'auto' walks
 * gpu -> node -> wasm -> cpu and reports what it picked and why the others were skipped.
 */
export async function selectBackend(
  requested: BackendChoice = parseBackendChoice(process.env.MODEL_BACKEND),
): Promise<BackendReport> {
  if (requested !== 'auto') {
    try {
      const backend = await activate(requested);
      return { requested, backend, reason: `requested ${requested}`, tried: [{ name: requested }] };
    } catch (err) {
      throw new Error(`MODEL_BACKEND=${requested} is not available here: ${message(err)}`, { cause: err });
    }
  }
  const tried: BackendReport['tried'] = [];
  for (const choice of ['gpu', 'node', 'wasm', 'cpu'] as const) {
    try {
      const backend = await activate(choice);
      tried.push({ name: choice });
      const skipped = tried.filter((t) => t.error).map((t) => `${t.name} (${t.error})`);
      const reason = skipped.length
        ? `auto: ${choice} is the first that loaded; skipped ${skipped.join('; ')}`
        : `auto: ${choice} loaded first`;
      return { requested, backend, reason, tried };
    } catch (err) {
      tried.push({ name: choice, error: message(err) });
    }
  }
  throw new Error(`no TF.js backend could be activated: ${JSON.stringify(tried)}`);
}
