// Hand-built feedback rows for the pure dataset-builder tests.
import type { AnswerRow, FeedbackRows, RatingRow } from '../../src/feedback/feedback-rows.ts';

export const T0 = new Date('2026-11-01T10:00:00Z');
export const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

export function answer(id: string, parentId: string, prompt: string, content: string): AnswerRow {
  return {
    id,
    conversationId: `conv-${parentId}`,
    parentId,
    content,
    modelVersionId: 'mv-1',
    createdAt: T0,
    context: [{ role: 'user', content: prompt }],
  };
}

let ratingCounter = 0;
export function rating(
  userId: string,
  messageId: string,
  kind: RatingRow['kind'],
  value: number,
  seconds = ratingCounter * 60,
): RatingRow {
  ratingCounter += 1;
  return { id: `r-${userId}-${messageId}-${kind}`, messageId, userId, kind, value, at: at(seconds) };
}

export const PROMPTS = {
  haiku: 'Write a haiku about rain.',
  apology: 'How do I apologise to a colleague?',
  bread: 'How long should bread dough rise?',
  sleep: 'Any tips for falling asleep faster?',
  tea: 'How hot should water be for green tea?',
} as const;

/** One scenario exercising every builder; see builders.test.ts for the rows it must produce. */
export function scenario(): FeedbackRows {
  return {
    answers: [
      answer(
        'a1',
        'p1',
        PROMPTS.haiku,
        'Rain taps the window, grey sky hums a lullaby, puddles hold the clouds.',
      ),
      answer('a2', 'p1', PROMPTS.haiku, 'Rain is wet.'),
      answer('a3', 'p2', PROMPTS.apology, 'Just ignore it.'),
      answer('a4', 'p3', PROMPTS.bread, 'Until it doubles in size, usually one to two hours.'),
      answer('a5', 'p4', PROMPTS.sleep, 'Drink coffee before bed.'),
      answer('a6', 'p5', PROMPTS.tea, 'About 80 degrees Celsius, below boiling.'),
      answer('a7', 'p5', PROMPTS.tea, 'Boiling hot, as hot as possible.'),
    ],
    ratings: [
      rating('u1', 'a1', 'thumbs', 1),
      rating('u1', 'a2', 'thumbs', -1),
      rating('u2', 'a6', 'stars', 5),
      rating('u2', 'a7', 'stars', 2),
    ],
    votes: [{ id: 'v1', userId: 'u3', messageAId: 'a1', messageBId: 'a2', choice: 'b', at: at(10) }],
    corrections: [
      {
        id: 'c1',
        messageId: 'a3',
        userId: 'u4',
        correctedText: 'Say sorry in person and name what you did.',
      },
    ],
    flags: [],
    implicitEvents: [
      { id: 'e1', messageId: 'a4', userId: 'u5', type: 'copy', value: 40 },
      { id: 'e2', messageId: 'a4', userId: 'u5', type: 'dwell', value: 20_000 },
      { id: 'e3', messageId: 'a5', userId: 'u6', type: 'regenerate', value: null },
      // Too short to count as reading.
      { id: 'e4', messageId: 'a5', userId: 'u6', type: 'dwell', value: 500 },
    ],
  };
}
