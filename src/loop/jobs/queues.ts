// Redis connections and BullMQ queues. Workers block on Redis and must wait out a restart
// (maxRetriesPerRequest: null); queues used by HTTP handlers fail fast instead (no offline queue),
// so a request gets a 503 when Redis is down rather than hanging.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { z } from 'zod';
import type { Config } from '../../platform/config.ts';
import { QUEUE_NAMES } from './catalog.ts';
import type { JobDefinition } from './job-definition.ts';

/** A connection for workers (and their queues): commands wait for Redis to come back. */
export function createWorkerRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null });
}

/** A connection for queues used from HTTP handlers: commands fail at once while Redis is down. */
export function createHttpQueueRedis(url: string): Redis {
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // reconnects on its own; failed commands surface as 503s
  return redis;
}

/** One Queue per catalog queue, sharing one connection and the configured key prefix. */
export class Queues {
  private readonly queues = new Map<string, Queue>();

  constructor(
    readonly connection: Redis,
    readonly prefix: string,
    private readonly backoffMs: number,
  ) {}

  static fromConfig(config: Config, connection: Redis): Queues {
    return new Queues(connection, config.FEEDLOOP_QUEUE_PREFIX, config.FEEDLOOP_JOB_BACKOFF_MS);
  }

  get(name: string): Queue {
    if (!QUEUE_NAMES.includes(name)) throw new Error(`unknown queue ${name}`);
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      queue.on('error', () => {}); // connection errors surface on the commands that fail
      this.queues.set(name, queue);
    }
    return queue;
  }

  all(): Queue[] {
    return QUEUE_NAMES.map((name) => this.get(name));
  }

  /**
   * Validates the payload and adds the job under its derived jobId: adding the same work twice
   * leaves one job. Returns the jobId.
   */
  async enqueue<S extends z.ZodType>(job: JobDefinition<S>, payload: z.input<S>): Promise<string> {
    const data = job.payload.parse(payload);
    const jobId = job.jobId(data);
    await this.get(job.queue).add(job.name, data, { ...job.options({ backoffMs: this.backoffMs }), jobId });
    return jobId;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
