// Review: the annotation queues a rater may work on, and the review screen of one queue: the
// guidelines always in view, progress, the prompt and answer(s) rendered as text, the rubric's
// controls with keyboard shortcuts (1-5 stars, g/b thumbs, a/b/t/n pairwise, s skip, Enter
// submits), and the next item as soon as one is judged or skipped.
import { useCallback, useEffect, useLayoutEffect, useState, type FormEvent } from 'react';
import { Link } from '@tanstack/react-router';
import {
  judgementResponse,
  nextItemResponse,
  queueDetail,
  queueList,
  skipResponse,
  type JudgementBody,
  type LeasedItem,
  type ProgressPair,
  type QueueDetail,
  type QueueView,
} from '#contract/annotation.ts';
import type { PairwiseChoice } from '#contract/feedback.ts';
import { api } from '../api.ts';
import { SafeMarkdown } from '../components/markdown.tsx';
import { Empty, ErrorNote, Loading } from '../components/status.tsx';

/** The queues you may annotate, open ones first. */
export function ReviewListPage() {
  const [queues, setQueues] = useState<QueueView[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api('/v1/annotation/queues?status=open', queueList).then(
      (r) => setQueues(r.queues.filter((q) => q.mine !== null)),
      setError,
    );
  }, []);
  return (
    <main className="page" id="main">
      <h1>Review</h1>
      <p className="muted">Queues of answers a moderator asked several people to judge.</p>
      <ErrorNote error={error} />
      {queues === null && !error && <Loading what="your review queues" />}
      {queues?.length === 0 && (
        <Empty>No queue is waiting for you. Moderators open queues and name who reviews them.</Empty>
      )}
      {queues && queues.length > 0 && (
        <ul className="queue-list">
          {queues.map((q) => (
            <li key={q.id}>
              <Link to="/review/$queueId" params={{ queueId: q.id }}>
                {q.name}
              </Link>{' '}
              <span className="muted">
                {q.mine!.available} waiting for you · you judged {q.mine!.judged} · {q.progress.completeItems}{' '}
                of {q.progress.items} items complete
              </span>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}

const STAR_KEYS = ['1', '2', '3', '4', '5'];
const PAIRWISE: { key: string; value: PairwiseChoice; label: string }[] = [
  { key: 'a', value: 'a', label: 'A is better' },
  { key: 'b', value: 'b', label: 'B is better' },
  { key: 't', value: 'tie', label: 'Tie' },
  { key: 'n', value: 'both_bad', label: 'Both bad' },
];

type Draft = {
  thumbs?: 'up' | 'down';
  stars?: number;
  choice?: PairwiseChoice;
  label?: string;
  reason: string;
};

function ProgressBar({ progress }: { progress: ProgressPair }) {
  const { queue, mine } = progress;
  return (
    <div className="review-progress" aria-label="Progress">
      <label>
        Queue: {queue.judgements} of {queue.target} judgements ({queue.completeItems} of {queue.items} items
        complete)
        <progress max={Math.max(1, queue.target)} value={queue.judgements} />
      </label>
      <p>
        You: <strong>{mine.judged}</strong> judged, {mine.skipped} skipped, {mine.available} more waiting
      </p>
    </div>
  );
}

/** A message of the conversation, as text. */
function Turn({ role, content }: { role: string; content: string }) {
  return (
    <div className={`turn ${role}`}>
      <span className="role">
        {role === 'user' ? 'Prompt' : role === 'assistant' ? 'Earlier answer' : 'System'}
      </span>
      <p className="text">{content}</p>
    </div>
  );
}

export function ReviewPage({ queueId }: { queueId: string }) {
  const [queue, setQueue] = useState<QueueDetail | null>(null);
  const [item, setItem] = useState<LeasedItem | null | undefined>(undefined);
  const [progress, setProgress] = useState<ProgressPair | null>(null);
  const [draft, setDraft] = useState<Draft>({ reason: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState('');

  const next = useCallback(async () => {
    setError(null);
    setDraft({ reason: '' });
    // The shortcuts work on the next item at once, even if the reason box had the focus.
    if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
    try {
      const res = await api(`/v1/annotation/queues/${queueId}/next`, nextItemResponse, { body: {} });
      setItem(res.item);
      setProgress(res.progress);
    } catch (err) {
      setItem(null);
      setError(err);
    }
  }, [queueId]);

  useEffect(() => {
    api(`/v1/annotation/queues/${queueId}`, queueDetail).then(setQueue, setError);
    void next();
  }, [queueId, next]);

  const rubric = queue?.rubric;
  const pairwise = item?.answerB != null;
  const missing: string[] = [];
  if (rubric && item) {
    if (rubric.thumbs && !pairwise && !draft.thumbs) missing.push('thumbs');
    if (rubric.stars && !pairwise && !draft.stars) missing.push('stars');
    if (rubric.pairwise && pairwise && !draft.choice) missing.push('a choice between the answers');
    if (rubric.labels.length > 0 && !draft.label) missing.push('a label');
    if (rubric.reason === 'required' && !draft.reason.trim()) missing.push('a reason');
  }

  const submit = useCallback(async () => {
    if (!item || !rubric || missing.length > 0 || busy) return;
    setBusy(true);
    setError(null);
    const body: JudgementBody = {
      ...(draft.thumbs ? { thumbs: draft.thumbs } : {}),
      ...(draft.stars ? { stars: draft.stars } : {}),
      ...(draft.choice ? { choice: draft.choice } : {}),
      ...(draft.label ? { label: draft.label } : {}),
      ...(rubric.reason !== 'off' && draft.reason.trim() ? { reason: draft.reason.trim() } : {}),
    };
    try {
      await api(`/v1/annotation/queues/${queueId}/items/${item.itemId}/judgement`, judgementResponse, {
        body,
      });
      setNotice('Saved. Here is the next one.');
      await next();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }, [item, rubric, missing.length, busy, draft, queueId, next]);

  const skip = useCallback(async () => {
    if (!item || busy) return;
    setBusy(true);
    setError(null);
    try {
      await api(`/v1/annotation/queues/${queueId}/items/${item.itemId}/skip`, skipResponse, { body: {} });
      setNotice('Skipped: someone else will judge it.');
      await next();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }, [item, busy, queueId, next]);

  // Shortcuts, except while typing the reason (Ctrl+Enter submits from there). A layout effect, so
  // the keys work for the item on screen from the moment it is painted.
  useLayoutEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target instanceof HTMLElement ? e.target : null;
      const typing = target?.closest('input, textarea, select');
      if (e.key === 'Enter') {
        // Enter submits from anywhere but the reason (there Ctrl+Enter does) and the buttons that
        // do something else (Skip, links).
        if (target?.closest('textarea') && !e.ctrlKey && !e.metaKey) return;
        if (target?.closest('[data-own-enter], a')) return;
        e.preventDefault();
        void submit();
        return;
      }
      if (typing || e.ctrlKey || e.metaKey || e.altKey || !rubric || !item) return;
      const key = e.key.toLowerCase();
      if (key === 's') return void skip();
      if (pairwise && rubric.pairwise) {
        const choice = PAIRWISE.find((p) => p.key === key);
        if (choice) setDraft((d) => ({ ...d, choice: choice.value }));
        return;
      }
      if (rubric.thumbs && (key === 'g' || key === 'b'))
        setDraft((d) => ({ ...d, thumbs: key === 'g' ? 'up' : 'down' }));
      if (rubric.stars && STAR_KEYS.includes(key)) setDraft((d) => ({ ...d, stars: Number(key) }));
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [rubric, item, pairwise, submit, skip]);

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void submit();
  };

  const shortcuts = [
    ...(rubric?.stars && !pairwise ? ['1-5 stars'] : []),
    ...(rubric?.thumbs && !pairwise ? ['g good, b bad'] : []),
    ...(rubric?.pairwise && pairwise ? ['a / b better, t tie, n both bad'] : []),
    's skip',
    'Enter submit (Ctrl+Enter in the reason)',
  ];

  return (
    <main className="page review" id="main">
      <h1>Review{queue ? `: ${queue.name}` : ''}</h1>
      <p>
        <Link to="/review">All your queues</Link>
      </p>
      <div className="review-layout">
        <aside className="guidelines" aria-label="Guidelines">
          <h2>Guidelines</h2>
          {queue ? (
            queue.guidelines.trim() ? (
              <SafeMarkdown text={queue.guidelines} />
            ) : (
              <p className="muted">This queue has no written guidelines.</p>
            )
          ) : (
            <Loading what="the guidelines" />
          )}
        </aside>
        <section className="review-main" aria-label="Item to judge">
          {progress && <ProgressBar progress={progress} />}
          <p className="notice" role="status">
            {notice}
          </p>
          <ErrorNote error={error} />
          {item === undefined && !error && <Loading what="the next item" />}
          {item === null && (
            <Empty>
              Nothing left for you in this queue. Thank you! Items others still hold may come back if their
              time runs out.
            </Empty>
          )}
          {item && rubric && (
            <form className="judge" onSubmit={onSubmit} aria-label="Your judgement">
              <div className="conversation" aria-label="The conversation">
                {item.prompt.map((m, i) => (
                  <Turn key={i} role={m.role} content={m.content} />
                ))}
              </div>
              {pairwise ? (
                <div className="pair">
                  <article aria-label="Answer A">
                    <h3>Answer A</h3>
                    <p className="text">{item.answer.content}</p>
                  </article>
                  <article aria-label="Answer B">
                    <h3>Answer B</h3>
                    <p className="text">{item.answerB!.content}</p>
                  </article>
                </div>
              ) : (
                <article aria-label="The answer">
                  <h3>The answer</h3>
                  <p className="text">{item.answer.content}</p>
                </article>
              )}

              {rubric.thumbs && !pairwise && (
                <div className="row" role="group" aria-label="Thumbs">
                  <button
                    type="button"
                    aria-pressed={draft.thumbs === 'up'}
                    onClick={() => setDraft({ ...draft, thumbs: 'up' })}
                  >
                    ▲ Good (g)
                  </button>
                  <button
                    type="button"
                    aria-pressed={draft.thumbs === 'down'}
                    onClick={() => setDraft({ ...draft, thumbs: 'down' })}
                  >
                    ▼ Bad (b)
                  </button>
                </div>
              )}
              {rubric.stars && !pairwise && (
                <div className="row stars" role="group" aria-label="Stars">
                  {[1, 2, 3, 4, 5].map((n) => (
                    <button
                      key={n}
                      type="button"
                      className="star"
                      aria-pressed={draft.stars === n}
                      aria-label={`${n} of 5 stars`}
                      onClick={() => setDraft({ ...draft, stars: n })}
                    >
                      {draft.stars !== undefined && n <= draft.stars ? '★' : '☆'} {n}
                    </button>
                  ))}
                </div>
              )}
              {rubric.pairwise && pairwise && (
                <div className="row" role="group" aria-label="Which answer is better">
                  {PAIRWISE.map((p) => (
                    <button
                      key={p.value}
                      type="button"
                      aria-pressed={draft.choice === p.value}
                      onClick={() => setDraft({ ...draft, choice: p.value })}
                    >
                      {p.label} ({p.key})
                    </button>
                  ))}
                </div>
              )}
              {rubric.labels.length > 0 && (
                <fieldset className="labels">
                  <legend>Label</legend>
                  {rubric.labels.map((l) => (
                    <label key={l} className="switch">
                      <input
                        type="radio"
                        name="label"
                        value={l}
                        checked={draft.label === l}
                        onChange={() => setDraft({ ...draft, label: l })}
                      />
                      {l}
                    </label>
                  ))}
                </fieldset>
              )}
              {rubric.reason !== 'off' && (
                <label>
                  Reason {rubric.reason === 'required' ? '(required)' : '(optional)'}
                  <textarea
                    value={draft.reason}
                    onChange={(e) => setDraft({ ...draft, reason: e.target.value })}
                    rows={2}
                    maxLength={2000}
                  />
                </label>
              )}
              <div className="row">
                <button type="submit" className="primary" disabled={busy || missing.length > 0}>
                  Submit
                </button>
                <button type="button" data-own-enter onClick={() => void skip()} disabled={busy}>
                  Skip (s)
                </button>
                <span className="muted">
                  {missing.length > 0 ? `Still needed: ${missing.join(', ')}.` : 'Ready to submit.'} Held
                  until {item.expiresAt.toLocaleTimeString()}.
                </span>
              </div>
              <p className="muted shortcuts">Shortcuts: {shortcuts.join(' · ')}</p>
            </form>
          )}
        </section>
      </div>
    </main>
  );
}
