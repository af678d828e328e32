// The live loop socket: ops receive run changes and progress points as workers publish them, all
// runs by default or one run after subscribing to it; others may not connect.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { pino } from 'pino';
import { createWorkerRedis } from '../../../src/loop/jobs/queues.ts';
import { RedisLoopEvents } from '../../../src/loop/events.ts';
import { ProgressRecorder } from '../../../src/loop/progress-recorder.ts';
import { createRun } from '../../../src/loop/runs.ts';
import { scheduleDefaults } from '../../../src/loop/schedule.ts';
import type { LoopContext } from '../../../src/loop/context.ts';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { startLoopTest, type LoopTest } from '../../helpers/loop.ts';
import { waitFor } from '../../helpers/wait-for.ts';

interface Frame {
  type: string;
  runId?: string | null;
  point?: { runId: string; step: number; totalSteps: number; loss?: number; phase: string };
  run?: { id: string };
}

function connect(t: LoopTest, who: TestUser | null) {
  const address = t.app.server.address();
  if (!address || typeof address === 'string') throw new Error('not listening');
  const socket = new WebSocket(`ws://127.0.0.1:${address.port}/v1/loop/socket`, {
    headers: who ? { authorization: who.auth } : {},
  });
  const frames: Frame[] = [];
  socket.on('message', (data) => frames.push(JSON.parse(String(data)) as Frame));
  return { socket, frames };
}

describe('the loop socket', () => {
  let t: LoopTest;
  let ops: TestUser;
  let user: TestUser;
  let ctx: LoopContext;
  const workerRedis = createWorkerRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

  before(async () => {
    t = await startLoopTest();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    ops = await makeUser(t.app, 'ops');
    user = await makeUser(t.app, 'user');
    // A worker's side of the channel: its own connection, the same prefix.
    ctx = {
      config: t.config,
      prisma: t.app.db.prisma,
      queues: t.app.queues,
      events: new RedisLoopEvents(workerRedis, t.prefix),
      datasetBuilds: t.app.datasetBuilds.build,
      log: pino({ level: 'silent' }),
    };
  });
  after(async () => {
    workerRedis.disconnect();
    await t.close();
  });

  test('users may not connect', async () => {
    const { socket } = connect(t, user);
    const status = await new Promise<number>((resolve) => {
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => resolve(101));
    });
    assert.equal(status, 403);
  });

  test('ops get progress points as they are recorded, for all runs or the one subscribed to', async () => {
    const defaults = scheduleDefaults(t.config);
    const first = await createRun(ctx.prisma, defaults, { trigger: 'manual', actorId: ops.id });
    await ctx.prisma.loopRun.update({ where: { id: first.id }, data: { status: 'succeeded' } });
    const second = await createRun(ctx.prisma, defaults, { trigger: 'manual', actorId: ops.id });

    const all = connect(t, ops);
    const one = connect(t, ops);
    await waitFor(
      'both sockets ready',
      async () => all.frames.some((f) => f.type === 'ready') && one.frames.some((f) => f.type === 'ready'),
    );
    one.socket.send(JSON.stringify({ type: 'subscribe', runId: second.id }));
    await waitFor('the subscription', async () => one.frames.some((f) => f.type === 'subscribed'));

    const recorders = [first, second].map((run) => new ProgressRecorder(ctx, run.id, () => {}));
    for (let step = 1; step <= 3; step++) {
      for (const recorder of recorders) {
        await recorder.record({ phase: 'training', method: 'sft', step, totalSteps: 3, loss: 4 - step });
      }
    }
    await Promise.all(recorders.map((r) => r.flush()));

    const progress = (frames: Frame[]) => frames.filter((f) => f.type === 'progress').map((f) => f.point!);
    await waitFor('six points on the unfiltered socket', async () => progress(all.frames).length === 6);
    await waitFor('three points on the subscribed socket', async () => progress(one.frames).length === 3);
    assert.deepEqual(
      progress(one.frames).map((p) => [p.runId, p.step, p.loss]),
      [
        [second.id, 1, 3],
        [second.id, 2, 2],
        [second.id, 3, 1],
      ],
    );
    // The same points are in the database.
    const stored = await ctx.prisma.loopRunProgress.findMany({
      where: { runId: second.id },
      orderBy: { id: 'asc' },
    });
    assert.deepEqual(
      stored.map((p) => p.step),
      [1, 2, 3],
    );

    one.socket.send('not json');
    await waitFor('an error frame', async () => one.frames.some((f) => f.type === 'error'));
    all.socket.close();
    one.socket.close();
  });

  test('an ops user whose role is taken away is disconnected with 4403; a subscribe checks too', async () => {
    const demoted = await makeUser(t.app, 'ops');
    const watcher = connect(t, demoted);
    await waitFor('ready', async () => watcher.frames.some((f) => f.type === 'ready'));
    const closed = new Promise<number>((resolve) => watcher.socket.once('close', (code) => resolve(code)));
    // Changed behind this process's back (as by another API process): its cache does not know.
    await t.app.db.prisma.user.update({ where: { id: demoted.id }, data: { role: 'user' } });
    watcher.socket.send(JSON.stringify({ type: 'subscribe' }));
    assert.equal(await closed, 4403);
    assert.equal(watcher.frames.filter((f) => f.type === 'subscribed').length, 0);
  });

  test('an upgrade from another origin is refused with 403', async () => {
    const address = t.app.server.address();
    if (!address || typeof address === 'string') throw new Error('not listening');
    const socket = new WebSocket(`ws://127.0.0.1:${address.port}/v1/loop/socket`, {
      headers: { authorization: ops.auth, origin: 'https://evil.example' },
    });
    const status = await new Promise<number>((resolve) => {
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => resolve(101));
    });
    assert.equal(status, 403);
  });
});
