// A simulated population of chat users who ask questions from the task suite and react the way
// people do, judged against the ground truth: thumbs, stars, regenerations with a pairwise choice,
// corrections with the right answer some of the time, and implicit signals. A share of them is
// noisy (random reactions), adversarial (inverted reactions, wrong corrections) or gold-honest
// (honest on gold questions, which it recognises, adversarial everywhere else). A moderator reviews
// the corrections against the facts.
import { randomUUID } from 'node:crypto';
import type { QuestionItem } from '../../src/llm/index.ts';
import { fnv1a, mulberry32, type Rng } from '../../src/llm/rng.ts';
import { isExactMatch, stripDefinitionLeadIn, tokenF1 } from '../../src/suites/text-scoring.ts';
import { goldQuestions } from '../../src/feedback/raters/gold-questions.ts';
import { parseBuildConfig } from '../../src/contract/dataset-build-config.ts';
import { normalizeText } from '../../src/suites/contamination.ts';
import type { ApiClient } from './api-client.ts';
import { ChatSocketClient, type SocketAnswer } from './chat-socket-client.ts';

export type RaterKind = 'honest' | 'noisy' | 'adversarial' | 'gold_honest';

/** The kinds of bad raters, in the order they join the honest users. */
export const BAD_KINDS = ['noisy', 'adversarial', 'gold_honest'] as const satisfies readonly RaterKind[];

const GOLD_PERCENT = parseBuildConfig({}).raters.goldQuestionsPercent;

/** Whether feedloop checks raters on this question (a gold-honest rater recognises these). */
export function isGoldQuestion(question: string): boolean {
  return goldQuestions(GOLD_PERCENT).has(normalizeText(question));
}

/** How often a user does each thing; the same for every kind of user (kinds differ in what they say). */
export const BEHAVIOUR = {
  thumbs: 0.85,
  stars: 0.45,
  /** Asking again when the answer is wrong, then choosing between the two answers. */
  regenerateWhenWrong: 0.35,
  /** Writing the right answer when the answer is wrong ("some of the time"). */
  correctWhenWrong: 0.6,
  copyWhenRight: 0.4,
  abandonWhenWrong: 0.15,
} as const;

/** Sampling the product uses for chat answers (the chat UI's defaults). */
export const ANSWER_OPTIONS = { temperature: 0.7, maxTokens: 48 } as const;

export interface SimulatedUser {
  id: string;
  email: string;
  kind: RaterKind;
  api: ApiClient;
}

export interface RoundActivity {
  questions: number;
  answers: number;
  correctAnswers: number;
  thumbs: number;
  stars: number;
  votes: number;
  corrections: number;
  implicitEvents: number;
}

interface SubmittedCorrection {
  id: string;
  item: QuestionItem;
}

/**
 * Whether a person who knows the answer would call this one right: the fact stated exactly (as the
 * evaluation scores it), or for a definition, most of the definition's words (token F1 >= 0.5).
 */
export function scoreAnswer(item: QuestionItem, text: string): { correct: boolean } {
  if (item.kind === 'country-fact') return { correct: isExactMatch(text, item.answer, item.reference) };
  const lemma = item.id.split(':').at(-1)!;
  return { correct: tokenF1(stripDefinitionLeadIn(text, lemma), item.reference) >= 0.5 };
}

const chance = (rng: Rng, p: number) => rng() < p;
const between = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));

/** A plausible wrong answer: the right sentence with another item's fact of the same relation. */
export function wrongAnswer(item: QuestionItem, suite: readonly QuestionItem[], rng: Rng): string {
  const relation = item.id.split(':').slice(0, -1).slice(2).join(':');
  const same = suite.filter(
    (q) => q.kind === item.kind && q.reference !== item.reference && q.id.includes(`:${relation}`),
  );
  const other = same[Math.floor(rng() * same.length)];
  if (!other || !item.answer.includes(item.reference)) return `${item.answer.replace(/\.$/, '')} and more.`;
  return item.answer.replace(item.reference, other.reference);
}

/** How a rater of this kind behaves on this question: gold-honest raters are honest on gold only. */
export function actsAs(kind: RaterKind, question: string): Exclude<RaterKind, 'gold_honest'> {
  if (kind !== 'gold_honest') return kind;
  return isGoldQuestion(question) ? 'honest' : 'adversarial';
}

/** What this user thinks of an answer: true good, false bad. Noisy users toss a coin. */
export function verdict(kind: Exclude<RaterKind, 'gold_honest'>, correct: boolean, rng: Rng): boolean {
  if (kind === 'noisy') return chance(rng, 0.5);
  if (kind === 'adversarial') return !correct;
  return correct;
}

/** Stars for a verdict: 4-5 for good, 1-2 for bad. */
export function starsFor(good: boolean, rng: Rng): number {
  return good ? between(rng, 4, 5) : between(rng, 1, 2);
}

export class SimulatedSession {
  private readonly rng: Rng;
  private readonly events: Record<string, unknown>[] = [];
  readonly corrections: SubmittedCorrection[] = [];

  constructor(
    private readonly user: SimulatedUser,
    private readonly socket: ChatSocketClient,
    private readonly suite: readonly QuestionItem[],
    private readonly seed: number,
  ) {
    this.rng = mulberry32(seed);
  }

  /**
   * The sampling seed of an answer: fixed per user, question and attempt, so two runs that serve
   * the same model give a user the same answers (common random numbers: runs at different noise
   * levels then differ by what the feedback did to the model, not by the dice).
   */
  private answerOptions(item: QuestionItem, attempt: 'first' | 'second') {
    return { ...ANSWER_OPTIONS, seed: fnv1a(`${this.seed}|${item.id}|${attempt}`) };
  }

  static async open(
    user: SimulatedUser,
    suite: readonly QuestionItem[],
    seed: number,
  ): Promise<SimulatedSession> {
    const socket = await ChatSocketClient.connect(user.api.baseUrl, user.api.authorization);
    return new SimulatedSession(user, socket, suite, seed);
  }

  close(): void {
    this.socket.close();
  }

  /** Asks each question and reacts; returns what was done. */
  async askAll(items: readonly QuestionItem[], activity: RoundActivity): Promise<void> {
    for (const item of items) await this.ask(item, activity);
    await this.flushEvents(activity);
  }

  private event(type: string, messageId: string, value: number | null = null): void {
    this.events.push({ id: `sim-${randomUUID()}`, type, messageId, value, ts: Date.now() });
  }

  private async flushEvents(activity: RoundActivity): Promise<void> {
    while (this.events.length) {
      const batch = this.events.splice(0, 500);
      await this.user.api.post('/v1/events', { events: batch });
      activity.implicitEvents += batch.length;
    }
  }

  private async rate(answer: SocketAnswer, good: boolean, activity: RoundActivity): Promise<void> {
    const { api } = this.user;
    if (chance(this.rng, BEHAVIOUR.thumbs)) {
      await api.put(`/v1/messages/${answer.messageId}/rating`, {
        kind: 'thumbs',
        value: good ? 'up' : 'down',
      });
      activity.thumbs++;
    }
    if (chance(this.rng, BEHAVIOUR.stars)) {
      const value = starsFor(good, this.rng);
      await api.put(`/v1/messages/${answer.messageId}/rating`, { kind: 'stars', value });
      activity.stars++;
    }
  }

  private async ask(item: QuestionItem, activity: RoundActivity): Promise<void> {
    const { api } = this.user;
    const question = item.messages.find((m) => m.role === 'user')!.content;
    const kind = actsAs(this.user.kind, question);
    activity.questions++;
    const first = await this.socket.ask(question, this.answerOptions(item, 'first'));
    activity.answers++;
    const firstCorrect = scoreAnswer(item, first.text).correct;
    if (firstCorrect) activity.correctAnswers++;
    await this.rate(first, verdict(kind, firstCorrect, this.rng), activity);
    this.event(
      'dwell',
      first.messageId,
      firstCorrect ? between(this.rng, 15_000, 40_000) : between(this.rng, 2_000, 9_000),
    );

    let final = first;
    let finalCorrect = firstCorrect;
    if (!verdict(kind, firstCorrect, this.rng) && chance(this.rng, BEHAVIOUR.regenerateWhenWrong)) {
      this.event('regenerate', first.messageId);
      const second = await this.socket.regenerate(first.userMessageId, this.answerOptions(item, 'second'));
      activity.answers++;
      const secondCorrect = scoreAnswer(item, second.text).correct;
      if (secondCorrect) activity.correctAnswers++;
      await this.rate(second, verdict(kind, secondCorrect, this.rng), activity);
      const choice = this.choose(kind, firstCorrect, secondCorrect);
      await api.post('/v1/votes', { messageAId: first.messageId, messageBId: second.messageId, choice });
      activity.votes++;
      if (secondCorrect || !firstCorrect) {
        final = second;
        finalCorrect = secondCorrect;
      }
    }

    const good = verdict(kind, finalCorrect, this.rng);
    if (good && chance(this.rng, BEHAVIOUR.copyWhenRight))
      this.event('copy', final.messageId, final.text.length);
    if (!good && chance(this.rng, BEHAVIOUR.abandonWhenWrong)) this.event('abandon', final.messageId);
    if (!good && chance(this.rng, BEHAVIOUR.correctWhenWrong)) {
      // Noisy users write nothing useful; adversarial ones write a wrong fact.
      if (kind === 'noisy') return;
      const text = kind === 'adversarial' ? wrongAnswer(item, this.suite, this.rng) : item.answer;
      const correction = await api.post<{ id: string }>(`/v1/messages/${final.messageId}/corrections`, {
        text,
      });
      this.corrections.push({ id: correction.id, item });
      activity.corrections++;
    }
  }

  private choose(
    kind: Exclude<RaterKind, 'gold_honest'>,
    aCorrect: boolean,
    bCorrect: boolean,
  ): 'a' | 'b' | 'tie' | 'both_bad' {
    if (kind === 'noisy') return (['a', 'b', 'tie', 'both_bad'] as const)[between(this.rng, 0, 3)]!;
    const [a, b] = kind === 'adversarial' ? [!aCorrect, !bCorrect] : [aCorrect, bCorrect];
    if (a && b) return 'tie';
    if (!a && !b) return 'both_bad';
    return a ? 'a' : 'b';
  }
}

/**
 * The moderator works through the pending queue: approves corrections that state the fact, rejects
 * the rest, saying why. `known` maps the bench's correction ids to the question they answer.
 */
export async function moderate(
  moderator: ApiClient,
  known: ReadonlyMap<string, QuestionItem>,
): Promise<{ approved: number; rejected: number }> {
  let approved = 0;
  let rejected = 0;
  for (;;) {
    const { corrections } = await moderator.get<{ corrections: { id: string; correctedText: string }[] }>(
      '/v1/moderation/corrections?status=pending&limit=200',
    );
    const ours = corrections.filter((c) => known.has(c.id));
    if (ours.length === 0) return { approved, rejected };
    for (const c of ours) {
      if (scoreAnswer(known.get(c.id)!, c.correctedText).correct) {
        await moderator.post(`/v1/moderation/corrections/${c.id}/approve`, {
          reason: 'states the fact correctly',
        });
        approved++;
      } else {
        await moderator.post(`/v1/moderation/corrections/${c.id}/reject`, {
          reason: 'the corrected answer is wrong',
        });
        rejected++;
      }
    }
  }
}
