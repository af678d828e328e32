// Live loop events over Redis pub/sub: workers publish run changes and progress points, every API
// process relays them to its WebSocket subscribers. Pub/sub is fire-and-forget on purpose: the
// database holds the record, the channel only makes it live.
import type { Redis } from 'ioredis';
import { loopEvent, type LoopEvent } from '../contract/loop.ts';

export type { LoopEvent };

export const loopEventsChannel = (prefix: string) => `${prefix}:loop-events`;

export interface LoopEventPublisher {
  publish(event: LoopEvent): Promise<void>;
}

export class RedisLoopEvents implements LoopEventPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  async publish(event: LoopEvent): Promise<void> {
    // A lost live update must not fail a training job: the row is already stored.
    await this.redis.publish(loopEventsChannel(this.prefix), JSON.stringify(event)).catch(this.onError);
  }
}

/**
 * The API side: one subscriber connection per process, opened when the first socket listens and
 * shared by all of them.
 */
export class LoopEventHub {
  private subscriber: Redis | null = null;
  private subscribed: Promise<unknown> | null = null;
  private readonly listeners = new Set<(event: LoopEvent) => void>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async listen(listener: (event: LoopEvent) => void): Promise<() => void> {
    this.listeners.add(listener);
    if (!this.subscriber) {
      const subscriber = this.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
      subscriber.on('error', () => {});
      subscriber.on('message', (_channel: string, message: string) => {
        // Parsed with the contract: the timestamps that travelled as text are Dates again.
        let data: unknown;
        try {
          data = JSON.parse(message);
        } catch {
          return;
        }
        const parsed = loopEvent.safeParse(data);
        if (!parsed.success) return;
        for (const l of this.listeners) l(parsed.data);
      });
      this.subscriber = subscriber;
      this.subscribed = subscriber.subscribe(loopEventsChannel(this.prefix));
    }
    await this.subscribed;
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    const subscriber = this.subscriber;
    this.subscriber = null;
    this.subscribed = null;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }
}
