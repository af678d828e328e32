// Deterministic splits, decided by a hash of a stable key so that corpus building, training and
// evaluation agree without sharing state.
import { fnv1a } from '../rng.ts';

/** Share of corpus documents kept out of training to measure validation loss. */
export const VALIDATION_PERCENT = 2;
/** Share of chat questions (country facts, word definitions) never trained in chat form. */
export const HELD_OUT_PERCENT = { countryFact: 20, definition: 5 } as const;

function bucket(key: string, salt: string): number {
  return fnv1a(`${salt}|${key}`) % 100;
}

/** True when a corpus document belongs to the validation split. */
export function isValidationDocument(key: string): boolean {
  return bucket(key, 'validation') < VALIDATION_PERCENT;
}

export type QuestionKind = 'country-fact' | 'definition';

/**
 * True when a chat question is held out for evaluation: its Q&A form is not in the training corpus
 * (the underlying fact may still appear as a plain statement, so it is learnable but not drilled).
 * Keys: `country:<CCA3>:<relation>` and `definition:<pos>:<lemma>`.
 */
export function isHeldOutQuestion(kind: QuestionKind, key: string): boolean {
  const percent = kind === 'country-fact' ? HELD_OUT_PERCENT.countryFact : HELD_OUT_PERCENT.definition;
  return bucket(key, 'held-out') < percent;
}
