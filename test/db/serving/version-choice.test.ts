// Which version answers, from what this process last read (src/serving/version-choice.ts): a
// snapshot of the active version, the split and the versions requests named, used without a
// database read while young, read again beside the requests once REFRESH_MS old, waited for past
// MAX_STALE_MS, and forgotten at once when this process changes what it holds.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { startTestApp, makeUser, type TestApp, type TestUser } from '../../helpers/app.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import {
  activateModelVersion,
  registerUpstreamVersion,
  rejectModelVersion,
} from '../../../src/promotion/model-versions.ts';
import { MAX_STALE_MS, REFRESH_MS, VersionChoice } from '../../../src/serving/version-choice.ts';
import { setTrafficSplit, stopTrafficSplit } from '../../../src/serving/traffic-split.ts';
import type { Principal } from '../../../src/platform/auth/principal.ts';

// Nothing listens there: a request that gets past the choice of version fails with 502, and the
// message names the upstream model, so it tells which version was chosen.
const NOWHERE = 'http://127.0.0.1:9/v1';

describe('the versions this process serves, as it last read them', () => {
  let t: TestApp;
  let ops: TestUser;
  let opsPrincipal: Principal;
  let clock = 1_000_000;
  let counter = 0;

  const register = (model = 'm') =>
    registerUpstreamVersion(t.app.db.prisma, {
      name: `v${++counter}`,
      baseUrl: NOWHERE,
      model,
      reason: 'test',
      actorId: null,
    });
  /** Another process's change: straight to the database, this process is not told. */
  const activateElsewhere = (id: string) =>
    activateModelVersion(t.app.db.prisma, { id, actorId: null, reason: 'test' });
  /** A VersionChoice on the app's database whose clock only the test moves. */
  const held = () =>
    new VersionChoice(t.app.db.prisma, t.app.servedModels, { idleUnloadMs: 0, now: () => clock });
  /** As the API builds it: the stamp read on the pg pool. */
  const heldOnPool = () =>
    new VersionChoice(t.app.db.prisma, t.app.servedModels, {
      idleUnloadMs: 0,
      now: () => clock,
      pool: t.app.db.pool,
    });
  const nameOf = async (choice: VersionChoice, model?: string) =>
    (await choice.choose(opsPrincipal, model)).name;

  before(async () => {
    t = await startTestApp();
    ops = await makeUser(t.app, 'ops');
    opsPrincipal = { userId: ops.id, email: ops.email, role: 'ops', via: 'api_key', credentialId: 'test' };
    await activateElsewhere((await register()).id);
  });
  after(() => t.close());

  test('a young snapshot is used without reading; once REFRESH_MS old it is read again beside the requests', async () => {
    const choice = held();
    const first = (await choice.current()).active!;
    const next = await register();
    await activateElsewhere(next.id);

    clock += REFRESH_MS;
    assert.equal(await nameOf(choice), first.name, 'REFRESH_MS old: still the snapshot, no read');
    clock += 1;
    // Past REFRESH_MS and within MAX_STALE_MS: this request is answered from the snapshot, and a new
    // one is read beside it; the requests after it see the change.
    assert.equal(await nameOf(choice), first.name);
    assert.equal(await waitFor('the new snapshot', async () => (await nameOf(choice)) === next.name), true);
  });

  test('past MAX_STALE_MS a request waits for a new snapshot', async () => {
    const choice = held();
    await choice.current();
    const next = await register();
    await activateElsewhere(next.id);
    clock += MAX_STALE_MS + 1;
    assert.equal(await nameOf(choice), next.name);
  });

  test('keepFresh() (the timer) reads a new snapshot only once the one held is REFRESH_MS old', async () => {
    const choice = held();
    const first = (await choice.current()).active!;
    const next = await register();
    await activateElsewhere(next.id);
    await choice.keepFresh();
    assert.equal(await nameOf(choice), first.name, 'still young: not read again');
    clock += REFRESH_MS + 1;
    await choice.keepFresh();
    clock += 1;
    // Without that read the snapshot held would be answered from (REFRESH_MS + 2 old).
    assert.equal(await nameOf(choice), next.name);
  });

  test('a named version is kept with the snapshot; invalidate() forgets it', async () => {
    const choice = held();
    const named = await register();
    assert.equal(await nameOf(choice, named.name), named.name);
    await rejectModelVersion(t.app.db.prisma, { id: named.id, actorId: null, reason: 'test' });
    assert.equal(await nameOf(choice, named.name), named.name, 'the snapshot still holds it');
    choice.invalidate();
    await assert.rejects(choice.choose(opsPrincipal, named.name), { code: 'not_found' });
  });

  test('a named version is read again with the next snapshot', async () => {
    const choice = held();
    const named = await register();
    await nameOf(choice, named.name);
    await rejectModelVersion(t.app.db.prisma, { id: named.id, actorId: null, reason: 'test' });
    clock += MAX_STALE_MS + 1;
    await assert.rejects(choice.choose(opsPrincipal, named.name), { code: 'not_found' });
  });

  test('a name that does not exist is not remembered: a version registered after is found at once', async () => {
    const choice = held();
    const name = `v${counter + 1}`;
    await assert.rejects(choice.choose(opsPrincipal, name), { code: 'not_found' });
    await register();
    assert.equal(await nameOf(choice, name), name);
  });

  test('a new snapshot of unchanged rows keeps the rows held (the stamp alone is read)', async () => {
    for (const choice of [heldOnPool(), held()]) {
      const named = await register();
      await nameOf(choice, named.name);
      // The next snapshot reads the named version with the rest (its stamp covers it from then on).
      clock += MAX_STALE_MS + 1;
      const before = await choice.current();
      clock += MAX_STALE_MS + 1;
      const after = await choice.current();
      assert.equal(after.active, before.active, 'the same row object: not read again');
      assert.equal(await nameOf(choice, named.name), named.name);
    }
  });

  test('a change to any row a snapshot holds is seen by the next one', async () => {
    const choice = heldOnPool();
    const named = await register();
    const armA = await register();
    const armB = await register();
    await nameOf(choice, named.name);
    const next = async () => {
      clock += MAX_STALE_MS + 1;
      return choice.current();
    };

    await setTrafficSplit(t.app.db.prisma, {
      reason: 'test',
      actorId: null,
      splits: [
        { version: armA.name, weight: 1 },
        { version: armB.name, weight: 3 },
      ],
    });
    assert.deepEqual(
      (await next()).split?.arms.map((a) => a.modelVersion.name),
      [armA.name, armB.name],
    );

    await t.app.db.prisma.trafficSplitArm.updateMany({
      where: { modelVersionId: armB.id },
      data: { weight: 5 },
    });
    assert.equal((await next()).split?.arms[1]?.weight, 5, "an arm's weight");

    await t.app.db.prisma.modelVersion.update({ where: { id: armA.id }, data: { openToUsers: true } });
    assert.equal((await next()).split?.arms[0]?.modelVersion.openToUsers, true, "an arm's version");

    const active = (await choice.current()).active!;
    await t.app.db.prisma.modelVersion.update({
      where: { id: active.id },
      data: { samplingDefaults: { temperature: 0.3 } },
    });
    assert.deepEqual((await next()).active?.samplingDefaults, { temperature: 0.3 }, 'the active version');

    await rejectModelVersion(t.app.db.prisma, { id: named.id, actorId: null, reason: 'test' });
    clock += MAX_STALE_MS + 1;
    await assert.rejects(choice.choose(opsPrincipal, named.name), { code: 'not_found' }, 'a named version');

    await stopTrafficSplit(t.app.db.prisma, { actorId: null, reason: 'test' });
    assert.equal((await next()).split, null, 'the split ended');
  });

  test("this process's activations and rejections through the API take effect on its next request", async () => {
    const ask = (model?: string) =>
      request(t.app.server)
        .post('/v1/chat/completions')
        .set('Authorization', ops.auth)
        .send({ ...(model ? { model } : {}), messages: [{ role: 'user', content: 'Hi' }] });
    const candidate = await register('the-candidate');
    // Both requests get past the choice of version (the snapshot now holds the active version and
    // the candidate), then fail at the upstream.
    assert.equal((await ask(candidate.name)).status, 502);
    assert.doesNotMatch((await ask()).body.error.message, /the-candidate/);

    const activated = await request(t.app.server)
      .post(`/v1/model-versions/${candidate.id}/activate`)
      .set('Authorization', ops.auth)
      .send({ reason: 'test' });
    assert.equal(activated.status, 200);
    const served = await ask();
    assert.equal(served.status, 502);
    assert.match(served.body.error.message, /model the-candidate/);

    const other = await register();
    assert.equal((await ask(other.name)).status, 502);
    const rejected = await request(t.app.server)
      .post(`/v1/model-versions/${other.id}/reject`)
      .set('Authorization', ops.auth)
      .send({ reason: 'test' });
    assert.equal(rejected.status, 200);
    const refused = await ask(other.name);
    assert.equal(refused.status, 404);
    assert.equal(refused.body.error.code, 'model_not_found');
  });
});

describe('a process that has read that nothing is active', () => {
  let t: TestApp;
  let ops: TestUser;
  after(() => t?.close());

  test('sees a first activation made elsewhere on the next request, not after MAX_STALE_MS', async () => {
    t = await startTestApp();
    ops = await makeUser(t.app, 'ops');
    const principal: Principal = {
      userId: ops.id,
      email: ops.email,
      role: 'ops',
      via: 'api_key',
      credentialId: 'test',
    };
    const clock = 1_000_000;
    const choice = new VersionChoice(t.app.db.prisma, t.app.servedModels, {
      idleUnloadMs: 0,
      now: () => clock,
    });
    assert.equal((await choice.current()).active, null);
    await assert.rejects(choice.choose(principal), /No model version is active yet/);

    const version = await registerUpstreamVersion(t.app.db.prisma, {
      name: 'first-active',
      baseUrl: NOWHERE,
      model: 'm',
      reason: 'test',
      actorId: null,
    });
    await activateModelVersion(t.app.db.prisma, { id: version.id, actorId: null, reason: 'test' });
    // The clock has not moved: the snapshot is young, yet it says nothing is active.
    assert.equal((await choice.choose(principal)).name, 'first-active');
    assert.equal((await choice.current()).active?.name, 'first-active', 'the fresh read is kept');
  });
});
