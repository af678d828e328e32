// The credential cache (src/platform/auth/credentials.ts): requests arriving together with one key
// share its lookup, a revocation in this process is never undone by a lookup that was already
// under way when it happened, and a key in use is read again beside the requests using it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, makeUser, type TestApp } from '../../helpers/app.ts';
import { CredentialResolver } from '../../../src/platform/auth/credentials.ts';
import type { PrismaClient } from '../../../src/platform/db/client.ts';
import { waitFor } from '../../helpers/wait-for.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

/** A resolver on the app's database that counts key reads and can hold the first one's answer. */
function resolverWithHeldRead(now?: () => number) {
  let reads = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let firstRead!: () => void;
  const firstReadDone = new Promise<void>((resolve) => (firstRead = resolve));
  const db = t.app.db.prisma.$extends({
    query: {
      apiKey: {
        async findUnique({ args, query }) {
          const n = ++reads;
          const row = await query(args);
          if (n === 1) {
            firstRead();
            await released;
          }
          return row;
        },
      },
    },
  });
  return {
    resolver: new CredentialResolver(db as unknown as PrismaClient, now),
    reads: () => reads,
    firstReadDone,
    release,
  };
}

test('lookups of one key under way together share one database read', async () => {
  const user = await makeUser(t.app);
  const held = resolverWithHeldRead();
  const lookups = Array.from({ length: 16 }, () => held.resolver.fromApiKey(user.key));
  await held.firstReadDone;
  held.release();
  const principals = await Promise.all(lookups);
  assert.ok(principals.every((p) => p?.userId === user.id));
  assert.equal(held.reads(), 1);
});

// A timeout: a lookup that joined the held one would wait for ever.
test(
  'a lookup that read the key before it was revoked neither answers nor is cached after invalidate()',
  { timeout: 20_000 },
  async () => {
    const user = await makeUser(t.app);
    const held = resolverWithHeldRead();
    const underWay = held.resolver.fromApiKey(user.key);
    await held.firstReadDone; // it has read the key, still valid
    await t.app.db.prisma.apiKey.updateMany({ where: { userId: user.id }, data: { revokedAt: new Date() } });
    held.resolver.invalidate();
    assert.equal(await held.resolver.fromApiKey(user.key), null, 'a new lookup, not the one under way');
    held.release();
    assert.equal((await underWay)?.userId, user.id, 'the lookup begun before the revocation saw the key');
    assert.equal(await held.resolver.fromApiKey(user.key), null, 'its answer was not cached');
  },
);

test('a key in use is read again in the background once its entry is 5 s old, so a revocation elsewhere is seen within 10 s without a request waiting', async () => {
  const user = await makeUser(t.app);
  let clock = 0;
  const held = resolverWithHeldRead(() => clock);
  held.release();
  assert.equal((await held.resolver.fromApiKey(user.key))?.userId, user.id);
  // Revoked through another process: this one is not told.
  await t.app.db.prisma.apiKey.updateMany({ where: { userId: user.id }, data: { revokedAt: new Date() } });
  clock = 4_999;
  assert.equal(held.resolver.knownApiKey(user.key)?.userId, user.id);
  assert.equal(held.reads(), 1, 'a young entry is used as it is');
  clock = 5_000;
  assert.equal(held.resolver.knownApiKey(user.key)?.userId, user.id, 'the request goes on with the entry');
  await waitFor(
    'the background read to see the revocation',
    () => held.resolver.knownApiKey(user.key) === null,
  );
  assert.equal(held.reads(), 2);
  assert.equal(await held.resolver.fromApiKey(user.key), null);
  clock = 15_000;
  assert.equal(held.resolver.knownApiKey(user.key), undefined, 'an entry 10 s old is not used');
});
