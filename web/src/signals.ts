// Implicit signals (copy, dwell, expand, regenerate, abandon, follow-up, session end) collected
// in the page and sent to POST /v1/events in batches. When the page is hidden, what is left goes
// with navigator.sendBeacon so it survives the tab closing. Nothing is collected when the user
// turned it off in Settings.
import type { ImplicitEventBody } from '#contract/events.ts';
import { signalsEnabled } from './settings.ts';

type SignalType = ImplicitEventBody['type'];

const FLUSH_EVERY_MS = 5_000;
const FLUSH_AT = 20;
/** The server takes up to 500 events per request. */
const MAX_BATCH = 500;

function newId(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

let queue: ImplicitEventBody[] = [];
let timer: ReturnType<typeof setTimeout> | null = null;
let lastAnswerId: string | null = null;
const sessionStart = Date.now();
let sessionEnded = false;

/** Records one signal about an assistant message (dropped when collection is off). */
export function recordSignal(type: SignalType, messageId: string, value: number | null = null) {
  if (!signalsEnabled()) return;
  queue.push({ id: `${type}-${newId()}`, type, messageId, value, ts: new Date().toISOString() });
  if (queue.length >= FLUSH_AT) void flushSignals();
  else if (!timer) timer = setTimeout(() => void flushSignals(), FLUSH_EVERY_MS);
}

/** The answer the user saw last: the session-end signal is about it. */
export function noteAnswerSeen(messageId: string) {
  lastAnswerId = messageId;
  sessionEnded = false;
}

/** Sends what is queued now. A failed batch is put back and tried again with the next one. */
export async function flushSignals(): Promise<void> {
  if (timer) clearTimeout(timer);
  timer = null;
  if (queue.length === 0) return;
  const batch = queue.slice(0, MAX_BATCH);
  queue = queue.slice(batch.length);
  try {
    const res = await fetch('/v1/events', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: batch }),
    });
    // 4xx other than rate limiting will not get better by retrying (e.g. signed out).
    if (res.status === 429 || res.status >= 500) queue = [...batch, ...queue];
  } catch {
    queue = [...batch, ...queue];
  }
  if (queue.length && !timer) timer = setTimeout(() => void flushSignals(), FLUSH_EVERY_MS);
}

const beforeHide = new Set<() => void>();
/** Runs `fn` when the page is hidden, before the last batch leaves (e.g. to record dwell time). */
export function onBeforeHide(fn: () => void): () => void {
  beforeHide.add(fn);
  return () => void beforeHide.delete(fn);
}

/** The page is going away or out of sight: end the session and send the rest with a beacon. */
function sendOnHide() {
  for (const fn of beforeHide) fn();
  if (lastAnswerId && !sessionEnded) {
    recordSignal('session_end', lastAnswerId, Date.now() - sessionStart);
    sessionEnded = true;
  }
  if (timer) clearTimeout(timer);
  timer = null;
  while (queue.length) {
    const batch = queue.slice(0, MAX_BATCH);
    const body = new Blob([JSON.stringify({ events: batch })], { type: 'application/json' });
    if (!navigator.sendBeacon('/v1/events', body)) {
      void fetch('/v1/events', {
        method: 'POST',
        keepalive: true,
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ events: batch }),
      }).catch(() => {});
    }
    queue = queue.slice(batch.length);
  }
}

let installed = false;
export function installSignalFlushOnHide() {
  if (installed) return;
  installed = true;
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') sendOnHide();
  });
  window.addEventListener('pagehide', sendOnHide);
}

/** Forget everything queued (on sign-out: the events belong to the previous user). */
export function dropPendingSignals() {
  queue = [];
  lastAnswerId = null;
}
