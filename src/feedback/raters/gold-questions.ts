// Gold questions: prompts whose right answer feedloop already knows, so an answer to one has a
// known verdict and the ratings on it show how reliable a rater is ("agreement with gold items",
// like the honeypot tasks of labelling tools). They come from the task suite: country facts from
// the `world-countries` package the base model was pretrained on, in the phrasings users ask.
// A fixed hash picks `percent` of them, and no evaluation prompt is ever one, so gold stays a
// sample of everyday questions and never touches what reports measure. Gold verdicts only weigh
// raters; they never become training labels.
import { fnv1a } from '../../llm/rng.ts';
import { countryQuestionSuite, type ChatMessage, type QuestionItem } from '../../llm/index.ts';
import { isExactMatch } from '../../suites/text-scoring.ts';
import { countryEvaluationPromptSet, normalizeText } from '../../suites/contamination.ts';

const byPercent = new Map<number, Map<string, QuestionItem>>();

/** The gold questions at `percent` of the suite, keyed by their normalized question text. */
export function goldQuestions(percent: number): Map<string, QuestionItem> {
  let gold = byPercent.get(percent);
  if (!gold) {
    const evaluation = countryEvaluationPromptSet();
    gold = new Map();
    for (const item of countryQuestionSuite()) {
      const question = item.messages.findLast((m) => m.role === 'user')?.content;
      if (question === undefined) continue;
      const key = normalizeText(question);
      if (evaluation.has(key) || fnv1a(`gold|${item.id}|${key}`) % 100 >= percent) continue;
      gold.set(key, item);
    }
    byPercent.set(percent, gold);
  }
  return gold;
}

/**
 * +1 when `answer` gives the known fact, -1 when it does not, undefined when the prompt's last user
 * turn is not a gold question.
 */
export function goldVerdict(
  context: readonly ChatMessage[],
  answer: string,
  percent: number,
): 1 | -1 | undefined {
  if (percent <= 0) return undefined;
  const last = context.at(-1);
  if (!last || last.role !== 'user') return undefined;
  const item = goldQuestions(percent).get(normalizeText(last.content));
  if (!item) return undefined;
  return isExactMatch(answer, item.answer, item.reference) ? 1 : -1;
}
