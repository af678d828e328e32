// Compare mode: one prompt to two versions (POST /v1/arena/battles), the answers side by side as A
// and B without names and on random sides, a vote (A, B, tie, both bad), and only then the names.
import { useState, type FormEvent } from 'react';
import { battleView, type BattleBody, type BattleView } from '#contract/arena.ts';
import { api } from '../api.ts';
import { ErrorNote } from './status.tsx';

const CHOICES = [
  { value: 'a', label: 'A is better' },
  { value: 'b', label: 'B is better' },
  { value: 'tie', label: 'Tie' },
  { value: 'both_bad', label: 'Both are bad' },
] as const;

export function ArenaPanel() {
  const [draft, setDraft] = useState('');
  const [battle, setBattle] = useState<BattleView | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const ask = async (e: FormEvent) => {
    e.preventDefault();
    const prompt = draft.trim();
    if (!prompt || busy) return;
    setBusy(true);
    setError(null);
    setBattle(null);
    try {
      setBattle(await api('/v1/arena/battles', battleView, { body: { prompt } satisfies BattleBody }));
      setDraft('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const vote = async (choice: (typeof CHOICES)[number]['value']) => {
    if (!battle) return;
    setError(null);
    try {
      setBattle(await api(`/v1/arena/battles/${battle.id}/vote`, battleView, { body: { choice } }));
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="thread arena" aria-label="Compare two models">
      <p className="muted">
        Two models answer your prompt. Their names stay hidden until you vote, and which one is A is drawn at
        random.
      </p>
      {battle && (
        <>
          <p className="bubble user">
            <span className="sr-only">You asked:</span>
            {battle.prompt}
          </p>
          <div className="side-by-side">
            {(['a', 'b'] as const).map((side) => (
              <div key={side} data-testid={`arena-side-${side}`}>
                <h3>
                  {side.toUpperCase()}
                  {battle.vote && <span className="muted"> · {battle.vote.versions[side]}</span>}
                </h3>
                <p className="text">{battle[side].content}</p>
              </div>
            ))}
          </div>
          {battle.vote ? (
            <p role="status" className="notice">
              Vote recorded: {CHOICES.find((c) => c.value === battle.vote!.choice)!.label}. A was{' '}
              <strong>{battle.vote.versions.a}</strong>, B was <strong>{battle.vote.versions.b}</strong>.
            </p>
          ) : (
            <div className="row" role="group" aria-label="Which answer is better?">
              {CHOICES.map((c) => (
                <button key={c.value} type="button" onClick={() => void vote(c.value)}>
                  {c.label}
                </button>
              ))}
            </div>
          )}
        </>
      )}
      <ErrorNote error={error} />
      <form className="composer" onSubmit={(e) => void ask(e)}>
        <label htmlFor="arena-prompt" className="sr-only">
          Your prompt for both models
        </label>
        <textarea
          id="arena-prompt"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          placeholder="Ask both models the same thing."
          rows={2}
        />
        <button type="submit" className="primary" disabled={!draft.trim() || busy}>
          {busy ? 'Both models are answering…' : 'Ask both'}
        </button>
      </form>
    </section>
  );
}
