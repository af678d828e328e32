// Arena battles: two different versions answer the same prompt through the normal completion path
// (the answers are sibling messages of one user turn, each recording its version). The caller sees
// them as sides A and B, the sides drawn at random and the versions unnamed until they vote; the
// vote is a pairwise vote on the two answers, so it feeds the preference datasets like any other.
import { randomInt } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Principal } from '../../platform/auth/principal.ts';
import { canReadAnyConversation } from '../../platform/auth/principal.ts';
import { AppError, notFound } from '../../platform/errors/app-error.ts';
import type { ArenaBattle, Message, ModelVersion, PairwiseVote } from '../../generated/prisma/client.ts';
import type { PairwiseChoice } from '../../generated/prisma/enums.ts';
import { recordVote } from '../../feedback/explicit/feedback.ts';
import { withStopList } from '../../contract/sampling.ts';
import type { BattleView } from '../../contract/arena.ts';
import type { z } from 'zod';
import type { battleBody } from '../../contract/arena.ts';
import { runCompletion } from '../completion-service.ts';

type BattleRow = ArenaBattle & {
  messageA: Message;
  messageB: Message;
  versionA: ModelVersion;
  versionB: ModelVersion;
  vote: PairwiseVote | null;
};

const withParts = { messageA: true, messageB: true, versionA: true, versionB: true, vote: true } as const;

const finishReason = (m: Message): string | null => {
  const params = m.params as { finishReason?: unknown } | null;
  return typeof params?.finishReason === 'string' ? params.finishReason : null;
};

/** What the caller sees: versions only once the vote is in. */
export function battleView(row: BattleRow): BattleView {
  return {
    id: row.id,
    prompt: row.prompt,
    conversationId: row.messageA.conversationId,
    userMessageId: row.messageA.parentId!,
    createdAt: row.createdAt,
    a: { messageId: row.messageAId, content: row.messageA.content, finishReason: finishReason(row.messageA) },
    b: { messageId: row.messageBId, content: row.messageB.content, finishReason: finishReason(row.messageB) },
    vote:
      row.vote && row.votedAt
        ? {
            choice: row.vote.choice,
            votedAt: row.votedAt,
            versions: { a: row.versionA.name, b: row.versionB.name },
          }
        : null,
  };
}

/** The two versions of a battle: those named (each one the caller may name), else two drawn at random. */
async function pickVersions(
  app: FastifyInstance,
  principal: Principal,
  named: readonly [string, string] | undefined,
): Promise<[ModelVersion, ModelVersion]> {
  const state = await app.versionChoice.current();
  if (named) {
    const versions = await Promise.all(
      named.map(async (name, i) => {
        const version = await app.db.prisma.modelVersion.findUnique({ where: { name } });
        if (!version || !app.versionChoice.mayName(principal, version, state)) {
          const path = `body.models.${i}`;
          throw new AppError('validation_failed', `Invalid ${path}: no model you may use is named ${name}`, [
            { path, message: 'must name a model version you may use (GET /v1/models)' },
          ]);
        }
        return version;
      }),
    );
    return [versions[0]!, versions[1]!];
  }
  const pool = await app.versionChoice.servedPool();
  if (pool.length < 2) {
    throw new AppError(
      'conflict',
      'The arena needs two versions users may be served: set a traffic split or open a version to users',
    );
  }
  const first = randomInt(pool.length);
  let second = randomInt(pool.length - 1);
  if (second >= first) second += 1;
  return [pool[first]!, pool[second]!];
}

/** Asks two versions the prompt and stores the battle; the answers come back on random sides. */
export async function startBattle(
  app: FastifyInstance,
  principal: Principal,
  body: z.output<typeof battleBody>,
  signal?: AbortSignal,
): Promise<BattleView> {
  const [x, y] = await pickVersions(app, principal, body.models);
  app.versionChoice.touch(x.id);
  app.versionChoice.touch(y.id);
  const options = withStopList(body.options ?? {});
  // The first answer starts the conversation; the second is another answer to the same user turn.
  const first = await runCompletion(app, {
    principal,
    version: x,
    options,
    prompt: { kind: 'continue', content: body.prompt },
    longPrompt: 'reject',
    signal,
  });
  const second = await runCompletion(app, {
    principal,
    version: y,
    options,
    prompt: { kind: 'regenerate', userMessageId: first.userMessage.id },
    longPrompt: 'reject',
    signal,
  });
  const [a, b] = randomInt(2) === 0 ? [first, second] : [second, first];
  const row = await app.db.prisma.arenaBattle.create({
    data: {
      userId: principal.userId,
      prompt: body.prompt,
      messageAId: a.message.id,
      messageBId: b.message.id,
      versionAId: a.version.id,
      versionBId: b.version.id,
    },
    include: withParts,
  });
  return battleView(row);
}

/** A battle the caller may see: their own (moderators, ops and admins: any). */
export async function findBattle(app: FastifyInstance, principal: Principal, id: string): Promise<BattleRow> {
  const row = await app.db.prisma.arenaBattle.findUnique({ where: { id }, include: withParts });
  if (!row || (row.userId !== principal.userId && !canReadAnyConversation(principal.role))) {
    throw notFound('Arena battle');
  }
  return row;
}

/** Records the caller's vote on their battle (once; 409 after), then names the versions. */
export async function voteOnBattle(
  app: FastifyInstance,
  principal: Principal,
  id: string,
  choice: PairwiseChoice,
): Promise<BattleView> {
  const row = await app.db.prisma.arenaBattle.findUnique({ where: { id } });
  if (!row || row.userId !== principal.userId) throw notFound('Arena battle');
  await app.db.prisma.$transaction(async (tx) => {
    const claimed = await tx.arenaBattle.updateMany({
      where: { id, voteId: null, votedAt: null },
      data: { votedAt: new Date() },
    });
    if (claimed.count === 0) throw new AppError('conflict', 'This battle has its vote already');
    const { vote } = await recordVote(tx, {
      userId: principal.userId,
      messageAId: row.messageAId,
      messageBId: row.messageBId,
      choice,
    });
    await tx.arenaBattle.update({ where: { id }, data: { voteId: vote.id } });
  });
  return battleView(await findBattle(app, principal, id));
}
