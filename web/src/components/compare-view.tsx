// Two answers to the same message side by side, and a pairwise vote on them (POST /v1/votes).
import { useState } from 'react';
import type { TreeMessageView } from '#contract/conversations.ts';
import { voteView, type VoteBody } from '#contract/feedback.ts';
import { api } from '../api.ts';
import { ErrorNote } from './status.tsx';

const CHOICES = [
  { value: 'a', label: 'A is better' },
  { value: 'b', label: 'B is better' },
  { value: 'tie', label: 'Tie' },
  { value: 'both_bad', label: 'Both are bad' },
] as const;

export function CompareView({
  current,
  siblings,
  onClose,
}: {
  current: TreeMessageView;
  siblings: TreeMessageView[];
  onClose(): void;
}) {
  const others = siblings.filter((s) => s.id !== current.id);
  const [otherId, setOtherId] = useState(others.at(-1)?.id ?? '');
  const [voted, setVoted] = useState('');
  const [error, setError] = useState<unknown>(null);
  const other = others.find((o) => o.id === otherId);
  if (!other) return null;

  const vote = async (choice: (typeof CHOICES)[number]['value']) => {
    setError(null);
    try {
      await api('/v1/votes', voteView, {
        body: { messageAId: current.id, messageBId: other.id, choice } satisfies VoteBody,
      });
      setVoted(CHOICES.find((c) => c.value === choice)!.label);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="panel compare" aria-label="Compare two answers">
      {others.length > 1 && (
        <label>
          Compare with
          <select value={otherId} onChange={(e) => setOtherId(e.target.value)}>
            {others.map((o) => (
              <option key={o.id} value={o.id}>
                Answer {siblings.indexOf(o) + 1}
              </option>
            ))}
          </select>
        </label>
      )}
      <div className="side-by-side">
        <div>
          <h3>A (answer {siblings.indexOf(current) + 1})</h3>
          <p className="text">{current.content}</p>
        </div>
        <div>
          <h3>B (answer {siblings.indexOf(other) + 1})</h3>
          <p className="text">{other.content}</p>
        </div>
      </div>
      <div className="row" role="group" aria-label="Which answer is better?">
        {CHOICES.map((c) => (
          <button key={c.value} type="button" onClick={() => vote(c.value)}>
            {c.label}
          </button>
        ))}
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <p role="status" className="notice">
        {voted && `Vote recorded: ${voted}.`}
      </p>
      <ErrorNote error={error} />
    </section>
  );
}
