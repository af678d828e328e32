// Progress points of a running stage: each one is published at once (live charts) and written to
// the database in batches (one INSERT per second or per 50 points), so a fast training loop does
// not wait on a round trip per step. A flush also notices a run cancelled meanwhile.
import type { LoopContext } from './context.ts';
import { appendProgress } from './runs.ts';
import type { ProgressPointView } from './views.ts';

const FLUSH_MS = 1000;
const FLUSH_POINTS = 50;

export class ProgressRecorder {
  private buffer: ProgressPointView[] = [];
  private lastFlush = Date.now();
  /** The last point recorded (for logs and tests). */
  last: ProgressPointView | null = null;

  constructor(
    private readonly ctx: LoopContext,
    private readonly runId: string,
    private readonly onCancelled: () => void,
  ) {}

  async record(point: Omit<ProgressPointView, 'runId' | 'at'>): Promise<void> {
    const full: ProgressPointView = { runId: this.runId, at: new Date(), ...point };
    this.last = full;
    this.buffer.push(full);
    await this.ctx.events.publish({ type: 'progress', point: full });
    if (this.buffer.length >= FLUSH_POINTS || Date.now() - this.lastFlush >= FLUSH_MS) await this.flush();
  }

  async flush(): Promise<void> {
    const points = this.buffer;
    this.buffer = [];
    this.lastFlush = Date.now();
    await appendProgress(this.ctx.prisma, points);
    const run = await this.ctx.prisma.loopRun.findUnique({
      where: { id: this.runId },
      select: { status: true },
    });
    if (run?.status === 'cancelled') this.onCancelled();
  }
}

/**
 * Lets timers run (BullMQ renews the job's lock on a timer): a CPU-bound loop that only awaits
 * resolved promises would starve them, and the job would look stalled while it is working.
 */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
