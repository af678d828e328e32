// Loop fixtures: a tiny random model registered as the active version under the test's MODEL_DIR,
// approved corrections as feedback (each gives SFT, preference and KTO examples), and a training
// config small enough for tests.
import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { activateModelVersion, registerModelVersion } from '../../src/promotion/model-versions.ts';
import { startExchange } from './conversations.ts';
import type { TestApp, TestUser } from './app.ts';
import { writeTinyModel } from './llm.ts';
import { waitFor } from './wait-for.ts';

/** Writes a tiny model into MODEL_DIR/<name> and makes it the active version. */
export async function activateTinyModel(t: TestApp, name = 'tiny-base') {
  const source = writeTinyModel(11);
  await cp(source, path.join(t.config.MODEL_DIR, name), { recursive: true });
  await rm(source, { recursive: true, force: true });
  const version = await registerModelVersion(t.app.db.prisma, { name, path: name, actorId: null });
  await activateModelVersion(t.app.db.prisma, { id: version.id, actorId: null, reason: 'test base' });
  return version;
}

const FACTS = [
  ['France', 'Paris'],
  ['Italy', 'Rome'],
  ['Spain', 'Madrid'],
  ['Peru', 'Lima'],
  ['Japan', 'Tokyo'],
  ['Egypt', 'Cairo'],
  ['Kenya', 'Nairobi'],
  ['Chile', 'Santiago'],
  ['Norway', 'Oslo'],
  ['Poland', 'Warsaw'],
  ['Cuba', 'Havana'],
  ['Greece', 'Athens'],
  ['Ireland', 'Dublin'],
  ['Austria', 'Vienna'],
  ['Sweden', 'Stockholm'],
  ['Portugal', 'Lisbon'],
] as const;

/**
 * One approved correction per fact: the model answered wrongly, a user corrected it, a moderator
 * approved it. Returns how many feedback items were approved.
 */
export async function seedCorrections(
  t: TestApp,
  user: TestUser,
  moderator: TestUser,
  count: number = FACTS.length,
) {
  for (const [country, capital] of FACTS.slice(0, count)) {
    const { answerId } = await startExchange(
      t,
      user,
      `Name the capital of ${country}.`,
      'I do not know that one.',
    );
    const submitted = await request(t.app.server)
      .post(`/v1/messages/${answerId}/corrections`)
      .set('authorization', user.auth)
      .send({ text: `The capital of ${country} is ${capital}.` });
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const approved = await request(t.app.server)
      .post(`/v1/moderation/corrections/${submitted.body.id}/approve`)
      .set('authorization', moderator.auth)
      .send({ reason: 'correct' });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
  }
  return count;
}

/** A short SFT then DPO run on a handful of examples (steps capped, checkpoints often). */
export function smallTraining(sftSteps: number) {
  return {
    methods: ['sft', 'dpo'],
    batchSize: 4,
    checkpointEvery: 5,
    earlyStopping: { enabled: false },
    sft: { epochs: 1000, maxSteps: sftSteps, minExamples: 2 },
    dpo: { epochs: 1, maxSteps: 4, minExamples: 2 },
  };
}

/**
 * Waits until run `runId` has failed, or has succeeded and logged its last stage ("promote: done":
 * the last stage marks the run finished, then logs that it is done), and returns GET
 * /v1/loop/runs/:id's body.
 */
export function waitForRunEnd(t: TestApp, auth: string, runId: string, timeoutMs: number) {
  return waitFor(
    'the run to finish',
    async () => {
      const res = await request(t.app.server).get(`/v1/loop/runs/${runId}`).set('authorization', auth);
      const lastLogged = res.body.logs.some((l: { message: string }) => l.message === 'promote: done');
      return res.body.run.status === 'failed' || (res.body.run.status === 'succeeded' && lastLogged)
        ? res.body
        : null;
    },
    timeoutMs,
  );
}
