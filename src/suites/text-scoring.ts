// Answer scoring against references: SQuAD-style normalisation, exact match, containment
// (recall) and token F1, plus stripping the "X means" lead-in of definition answers.

/** Lower case, no punctuation, no articles (a, an, the), single spaces: SQuAD's normalize_answer. */
export function normalizeAnswer(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .replace(/\b(a|an|the)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The answer equals the expected sentence or the bare reference, after normalisation. */
export function isExactMatch(answer: string, expectedSentence: string, reference: string): boolean {
  const a = normalizeAnswer(answer);
  if (a === '') return false;
  return a === normalizeAnswer(expectedSentence) || a === normalizeAnswer(reference);
}

/** The normalised reference appears in the normalised answer as whole words. */
export function containsReference(answer: string, reference: string): boolean {
  const ref = normalizeAnswer(reference);
  if (ref === '') return false;
  return ` ${normalizeAnswer(answer)} `.includes(` ${ref} `);
}

/** SQuAD token F1 between a prediction and a reference (both normalised, bag of words). */
export function tokenF1(prediction: string, reference: string): number {
  const p = normalizeAnswer(prediction).split(' ').filter(Boolean);
  const r = normalizeAnswer(reference).split(' ').filter(Boolean);
  if (p.length === 0 || r.length === 0) return p.length === r.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of r) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of p) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      common++;
      counts.set(t, c - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / p.length;
  const recall = common / r.length;
  return (2 * precision * recall) / (precision + recall);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The definition part of an answer such as `"bank" means a financial institution.` or
 * `To run means to move fast.`: the lead-in naming the word is not part of the definition and
 * would inflate F1 for answers that only repeat the question. Only a lead-in that names the lemma
 * (or a short one ending in "means"/"is") is removed, so a bare definition is scored as written.
 */
export function stripDefinitionLeadIn(answer: string, lemma: string): string {
  const text = answer.trim();
  const word = escapeRegExp(lemma);
  const named = new RegExp(
    `^(?:to\\s+)?(?:the\\s+\\w+\\s+)?["'“]?${word}["'”]?(?:\\s*\\([a-z]+\\))?\\s*(?:means|is defined as|is|:)\\s*(?:to\\s+)?`,
    'i',
  );
  const m = named.exec(text);
  if (m) return text.slice(m[0].length).trim();
  const generic = /^(?:\S+\s+){0,3}?\S+\s+means\s+(?:to\s+)?/i.exec(text);
  return generic ? text.slice(generic[0].length).trim() : text;
}
