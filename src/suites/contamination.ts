// The evaluation-contamination guard: every prompt the evaluation suites ask, normalized, so that
// dataset builds and the raters' gold questions keep them out of training.
import type { ChatMessage } from '../llm/index.ts';
import { countryEvaluationPrompts, evaluationPrompts } from './validation-sets.ts';

/** Case, punctuation and spacing removed: the form prompts are compared in. */
export function normalizeText(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFKC')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

let evaluationPromptCache: Set<string> | undefined;
let countryEvaluationPromptCache: Set<string> | undefined;

const userTurns = (prompts: ChatMessage[][]): Set<string> =>
  new Set(
    prompts.flatMap((prompt) => prompt.filter((m) => m.role === 'user').map((m) => normalizeText(m.content))),
  );

/**
 * Every evaluation prompt's user turns, normalized, from evaluationPrompts() (the one
 * source of truth). Computed once per process: it reads the corpus sources. The q0 phrasing of a
 * held-out country fact is deliberately NOT in here: users ask it, and feedback on it may train.
 */
export function evaluationPromptSet(): Set<string> {
  evaluationPromptCache ??= userTurns(evaluationPrompts());
  return evaluationPromptCache;
}

/**
 * The part of evaluationPromptSet() a country-fact question can be in (country questions and bias
 * probes; a definition question never reads like one), without parsing WordNet: the gold questions
 * of a moderation list use it, so the first list after boot does not spend seconds of CPU.
 */
export function countryEvaluationPromptSet(): Set<string> {
  countryEvaluationPromptCache ??= userTurns(countryEvaluationPrompts());
  return countryEvaluationPromptCache;
}

/** True when any user turn of the prompt is an evaluation question (ignoring case and punctuation). */
export function isContaminated(prompt: readonly ChatMessage[], heldOut: ReadonlySet<string>): boolean {
  return prompt.some((m) => m.role === 'user' && heldOut.has(normalizeText(m.content)));
}
