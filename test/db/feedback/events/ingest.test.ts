// POST /v1/events end to end: counts in the answer, rows in implicit_events, duplicates, limits,
// per-event rejections, a strict envelope, authentication and the ingestion metric.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, type TestUser } from '../../../helpers/app.ts';
import {
  countRows,
  event,
  eventId,
  makeMessages,
  startEventsApp,
  type EventsTestApp,
} from '../../../helpers/events.ts';

let t: EventsTestApp;
let alice: TestUser;
let bob: TestUser;
let aliceMessages: string[];
let bobMessage: string;

const post = (user: TestUser | null, body: unknown) => {
  const req = request(t.url).post('/v1/events');
  if (user) req.set('authorization', user.auth);
  return req.send(body as object);
};

function assertErrorShape(res: request.Response, status: number, code?: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(typeof res.body.error?.code, 'string', JSON.stringify(res.body));
  assert.equal(typeof res.body.error?.message, 'string', JSON.stringify(res.body));
  if (code) assert.equal(res.body.error.code, code, JSON.stringify(res.body));
}

before(async () => {
  t = await startEventsApp();
  alice = await makeUser(t.app, 'user');
  bob = await makeUser(t.app, 'user');
  aliceMessages = await makeMessages(t.app, alice.id, 3);
  [bobMessage] = (await makeMessages(t.app, bob.id, 1)) as [string];
});

after(async () => {
  await t.close();
});

describe('accepting events', () => {
  test('stores a batch and answers 202 with counts; rows hold what was sent', async () => {
    const [m0, m1] = aliceMessages as [string, string];
    const events = [
      { id: eventId('copy'), type: 'copy', messageId: m0, value: 42, ts: '2026-01-31T12:00:00.123Z' },
      { id: eventId('dwell'), type: 'dwell', messageId: m1.toUpperCase(), value: 1.5, ts: 1769860800000 },
      { id: eventId('regen'), type: 'regenerate', messageId: m0, ts: '2026-01-31T14:00:00+02:00' },
      { id: eventId('end'), type: 'session_end', messageId: m1, value: null, ts: '2026-01-31T12:00:00Z' },
    ];
    const res = await post(alice, { events });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual(res.body, { accepted: 4, duplicates: 0, rejected: 0, errors: [] });

    const rows = await t.app.db.prisma.implicitEvent.findMany({
      where: { id: { in: events.map((e) => e.id) } },
    });
    const byId = new Map(rows.map((r) => [r.id, r]));
    assert.equal(rows.length, 4);
    const copy = byId.get(events[0]!.id)!;
    assert.equal(copy.type, 'copy');
    assert.equal(copy.messageId, m0);
    assert.equal(copy.userId, alice.id);
    assert.equal(copy.value, 42);
    assert.equal(copy.clientTs.toISOString(), '2026-01-31T12:00:00.123Z');
    assert.ok(
      Math.abs(copy.receivedAt.getTime() - Date.now()) < 60_000,
      'received_at is set by the database',
    );
    const dwell = byId.get(events[1]!.id)!;
    assert.equal(dwell.messageId, m1, 'upper-case UUIDs are stored in canonical form');
    assert.equal(dwell.clientTs.toISOString(), new Date(1769860800000).toISOString(), 'epoch ms');
    assert.equal(byId.get(events[2]!.id)!.clientTs.toISOString(), '2026-01-31T12:00:00.000Z', 'offset');
    assert.equal(byId.get(events[2]!.id)!.value, null);
    assert.equal(byId.get(events[3]!.id)!.value, null);
  });

  test('every role may post events about its own messages', async () => {
    for (const role of ['moderator', 'ops', 'admin'] as const) {
      const user = await makeUser(t.app, role);
      const [message] = (await makeMessages(t.app, user.id, 1)) as [string];
      const res = await post(user, { events: [event(message)] });
      assert.equal(res.status, 202, `${role}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.accepted, 1);
    }
  });

  test('an empty batch is fine', async () => {
    const res = await post(alice, { events: [] });
    assert.equal(res.status, 202);
    assert.deepEqual(res.body, { accepted: 0, duplicates: 0, rejected: 0, errors: [] });
  });

  test('a batch of 500 events is stored whole', async () => {
    const events = Array.from({ length: 500 }, (_, i) =>
      event(aliceMessages[i % aliceMessages.length]!, { type: i % 2 ? 'click' : 'expand', value: i }),
    );
    const res = await post(alice, { events });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual(res.body, { accepted: 500, duplicates: 0, rejected: 0, errors: [] });
    assert.equal(
      await countRows(
        t.app,
        events.map((e) => e.id as string),
      ),
      500,
    );
  });
});

describe('duplicates', () => {
  test('an event sent again is a duplicate, not a second row', async () => {
    const events = [event(aliceMessages[0]!), event(aliceMessages[1]!)];
    assert.equal((await post(alice, { events })).body.accepted, 2);
    const again = await post(alice, { events: [...events, event(aliceMessages[2]!)] });
    assert.equal(again.status, 202);
    assert.deepEqual(again.body, { accepted: 1, duplicates: 2, rejected: 0, errors: [] });
    assert.equal(
      await countRows(
        t.app,
        events.map((e) => e.id as string),
      ),
      2,
    );
  });

  test('an id repeated within one batch is stored once', async () => {
    const first = event(aliceMessages[0]!);
    const res = await post(alice, { events: [first, { ...first, type: 'click' }, first] });
    assert.deepEqual(res.body, { accepted: 1, duplicates: 2, rejected: 0, errors: [] });
    const rows = await t.app.db.prisma.implicitEvent.findMany({ where: { id: first.id as string } });
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.type, 'copy', 'the first occurrence wins');
  });

  test('the same ids sent by concurrent requests: one row each, credited to exactly one request', async () => {
    for (let round = 0; round < 10; round++) {
      const shared = Array.from({ length: 20 }, (_, i) => event(aliceMessages[i % 3]!));
      const [a, b] = await Promise.all([post(alice, { events: shared }), post(alice, { events: shared })]);
      assert.equal(a.status, 202, JSON.stringify(a.body));
      assert.equal(b.status, 202, JSON.stringify(b.body));
      assert.equal(a.body.accepted + b.body.accepted, 20, `round ${round}`);
      assert.equal(a.body.duplicates + b.body.duplicates, 20, `round ${round}`);
      assert.equal(
        await countRows(
          t.app,
          shared.map((e) => e.id as string),
        ),
        20,
      );
    }
  });

  test('one id sent by two requests at once: one says accepted, the other duplicate', async () => {
    for (let round = 0; round < 10; round++) {
      const one = event(aliceMessages[0]!);
      const answers = await Promise.all([post(alice, { events: [one] }), post(alice, { events: [one] })]);
      const counts = answers.map((r) => `${r.body.accepted}/${r.body.duplicates}`).sort();
      assert.deepEqual(counts, ['0/1', '1/0']);
      assert.equal(await countRows(t.app, [one.id as string]), 1);
    }
  });
});

describe('event ids are per user', () => {
  test("another user's event with the same id is stored, and the answer does not tell the id was taken", async () => {
    const id = eventId('shared');
    const first = await post(alice, { events: [event(aliceMessages[0]!, { id })] });
    assert.deepEqual(first.body, { accepted: 1, duplicates: 0, rejected: 0, errors: [] });
    const second = await post(bob, { events: [event(bobMessage, { id })] });
    assert.equal(second.status, 202, JSON.stringify(second.body));
    assert.deepEqual(second.body, { accepted: 1, duplicates: 0, rejected: 0, errors: [] });
    const rows = await t.app.db.prisma.implicitEvent.findMany({ where: { id } });
    assert.deepEqual(rows.map((r) => r.userId).sort(), [alice.id, bob.id].sort());
    // Each user's own repeat is still a duplicate.
    const again = await post(bob, { events: [event(bobMessage, { id })] });
    assert.deepEqual(again.body, { accepted: 0, duplicates: 1, rejected: 0, errors: [] });
    assert.equal(await countRows(t.app, [id]), 2);
  });

  test('two users sending one id at once (one group-commit statement): both are stored', async () => {
    for (let round = 0; round < 5; round++) {
      const id = eventId('both');
      const [a, b] = await Promise.all([
        post(alice, { events: [event(aliceMessages[1]!, { id })] }),
        post(bob, { events: [event(bobMessage, { id })] }),
      ]);
      assert.deepEqual(a.body, { accepted: 1, duplicates: 0, rejected: 0, errors: [] });
      assert.deepEqual(b.body, { accepted: 1, duplicates: 0, rejected: 0, errors: [] });
      assert.equal(await countRows(t.app, [id]), 2, `round ${round}`);
    }
  });
});

describe('per-event rejections', () => {
  test('each bad event is rejected with its index and path; the good ones are stored', async () => {
    const m = aliceMessages[0]!;
    const { id: _omitted, ...noId } = event(m);
    const inAnHour = new Date(Date.now() + 60 * 60 * 1000).toISOString();
    const events: unknown[] = [
      event(m), // 0 good
      noId, // 1 missing id
      event(m, { type: 'thumbs_up' }), // 2 bad type
      event('not-a-uuid'), // 3 bad uuid
      event(bobMessage), // 4 someone else's message
      event('00000000-0000-4000-8000-000000000000'), // 5 no such message
      event(m, { value: '12' }), // 6 value not a number
      event(m, { ts: 'yesterday' }), // 7 not a datetime
      event(m, { ts: '2026-01-31T12:00:00' }), // 8 no time zone
      event(m, { ts: new Date(Date.now() + 3 * 24 * 60 * 60 * 1000).toISOString() }), // 9 far future
      event(m, { ts: 0 }), // 10 epoch 0
      event(m, { id: 'has space' }), // 11 bad id characters
      event(m, { id: 'x'.repeat(129) }), // 12 id too long
      event(m, { extra: true }), // 13 unknown field
      null, // 14 not an object
      event(m, { ts: inAnHour, type: 'follow_up' }), // 15 good (slightly ahead is fine)
    ];
    const res = await post(alice, { events });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.accepted, 2);
    assert.equal(res.body.duplicates, 0);
    assert.equal(res.body.rejected, 14);
    const paths = res.body.errors.map((e: { index: number; path: string }) => `${e.index} ${e.path}`);
    assert.deepEqual(paths, [
      '1 events.1.id',
      '2 events.2.type',
      '3 events.3.messageId',
      '4 events.4.messageId',
      '5 events.5.messageId',
      '6 events.6.value',
      '7 events.7.ts',
      '8 events.8.ts',
      '9 events.9.ts',
      '10 events.10.ts',
      '11 events.11.id',
      '12 events.12.id',
      '13 events.13.extra',
      '14 events.14',
    ]);
    const message = (index: number) =>
      res.body.errors.find((e: { index: number }) => e.index === index).message as string;
    assert.equal(message(1), 'is required');
    assert.match(message(2), /must be one of copy, regenerate/);
    assert.equal(message(3), 'must be a UUID');
    assert.equal(message(4), 'must be the id of a message in one of your conversations');
    assert.equal(message(5), message(4), "others' messages and missing ones look the same");
    assert.match(message(6), /number/);
    assert.equal(message(7), 'must be an ISO 8601 datetime with a time zone, or epoch ms');
    assert.equal(message(8), message(7));
    assert.match(message(9), /24 hours ahead/);
    assert.equal(message(10), 'must not be before 2000-01-01T00:00:00Z');
    assert.match(message(13), /not a known field/);
    assert.equal(
      await countRows(
        t.app,
        [events[0], events[15]].map((e) => (e as { id: string }).id),
      ),
      2,
    );
    const badIds = events.slice(2, 14).map((e) => (e as { id: string }).id);
    assert.equal(await countRows(t.app, badIds), 0);
  });

  test('a message deleted after its owner was cached is rejected per event, the rest still stored', async () => {
    const [doomed, kept] = (await makeMessages(t.app, alice.id, 2)) as [string, string];
    await post(alice, { events: [event(doomed)] }); // caches the owner
    await t.app.db.prisma.message.delete({ where: { id: doomed } });
    const events = [event(kept), event(doomed)];
    const res = await post(alice, { events });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual(res.body, {
      accepted: 1,
      duplicates: 0,
      rejected: 1,
      errors: [
        {
          index: 1,
          path: 'events.1.messageId',
          message: 'must be the id of a message in one of your conversations',
        },
      ],
    });
    assert.equal(await countRows(t.app, [events[0]!.id as string]), 1);
  });
});

describe('the envelope', () => {
  test('501 events is a 400 naming events', async () => {
    const events = Array.from({ length: 501 }, () => event(aliceMessages[0]!));
    const res = await post(alice, { events });
    assertErrorShape(res, 400, 'validation_failed');
    assert.equal(res.body.error.details[0].path, 'body.events');
    assert.equal(
      await countRows(
        t.app,
        events.map((e) => e.id as string),
      ),
      0,
    );
  });

  test('bodies that are not {events: [...]} are 400s with the path', async () => {
    const cases: [unknown, string][] = [
      [[event(aliceMessages[0]!)], 'body'],
      [{}, 'body.events'],
      [{ events: 'many' }, 'body.events'],
      [{ events: [], extra: 1 }, 'body.extra'],
    ];
    for (const [body, path] of cases) {
      const res = await post(alice, body);
      assertErrorShape(res, 400, 'validation_failed');
      assert.equal(res.body.error.details[0].path, path, JSON.stringify(res.body));
    }
  });

  test('malformed JSON, other content types and oversized bodies are 4xx, never 500', async () => {
    const badJson = await request(t.url)
      .post('/v1/events')
      .set('authorization', alice.auth)
      .set('content-type', 'application/json')
      .send('{"events": [');
    assertErrorShape(badJson, 400, 'invalid_json');

    const xml = await request(t.url)
      .post('/v1/events')
      .set('authorization', alice.auth)
      .set('content-type', 'application/xml')
      .send('<events/>');
    assertErrorShape(xml, 415, 'unsupported_media_type');

    const text = await request(t.url)
      .post('/v1/events')
      .set('authorization', alice.auth)
      .set('content-type', 'text/plain')
      .send('{"events": []}');
    assert.ok(text.status >= 400 && text.status < 500, `text/plain: ${text.status}`);
    assertErrorShape(text, text.status);

    const huge = {
      events: [event(aliceMessages[0]!, { id: 'big', padding: 'x'.repeat(t.config.FEEDLOOP_BODY_LIMIT) })],
    };
    const tooLarge = await post(alice, huge);
    assertErrorShape(tooLarge, 413, 'payload_too_large');
  });

  test('without credentials it is a 401', async () => {
    const res = await post(null, { events: [event(aliceMessages[0]!)] });
    assertErrorShape(res, 401, 'unauthorized');
    const badKey = await request(t.url)
      .post('/v1/events')
      .set('authorization', 'Bearer fl_not_a_key')
      .send({ events: [] });
    assertErrorShape(badKey, 401, 'unauthorized');
  });
});

test('/metrics counts the events stored, by type', async () => {
  const user = await makeUser(t.app, 'user');
  const [m] = (await makeMessages(t.app, user.id, 1)) as [string];
  const read = async () => {
    const text = (await request(t.url).get('/metrics')).text;
    const value = (type: string) =>
      Number(
        new RegExp(`^feedloop_events_ingested_total\\{type="${type}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0,
      );
    return { abandon: value('abandon'), edit: value('edit') };
  };
  const before = await read();
  const events = [event(m, { type: 'abandon' }), event(m, { type: 'abandon' }), event(m, { type: 'edit' })];
  await post(user, { events });
  await post(user, { events }); // duplicates are not counted again
  const afterwards = await read();
  assert.equal(afterwards.abandon - before.abandon, 2);
  assert.equal(afterwards.edit - before.edit, 1);
});

test('deleting a user deletes their events (through their conversations and messages: events keep no key to users)', async () => {
  const user = await makeUser(t.app, 'user');
  const [m] = (await makeMessages(t.app, user.id, 1)) as [string];
  const events = [event(m), event(m, { type: 'copy' })];
  assert.equal((await post(user, { events })).body.accepted, 2);
  const ids = events.map((e) => e.id as string);
  assert.equal(await countRows(t.app, ids), 2);
  await t.app.db.prisma.user.delete({ where: { id: user.id } });
  assert.equal(await countRows(t.app, ids), 0);
});
