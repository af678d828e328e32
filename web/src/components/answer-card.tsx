// One answer with everything a user can say about it: thumbs and stars (each with an optional
// reason), flag, a suggested
// correction (with the diff before sending), regenerate, paging through earlier answers to the
// same prompt, and comparing two of them. Model output is always rendered as text.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { z } from 'zod';
import { messageDetailView, type TreeMessageView } from '#contract/conversations.ts';
import {
  correctionView,
  flagView,
  ratingView,
  type CorrectionBody,
  type FeedbackSummary,
  type FlagBody,
  type FlagCategory,
  type RatingBody,
} from '#contract/feedback.ts';
import { FLAG_CATEGORIES, api } from '../api.ts';
import { noteAnswerSeen, onBeforeHide, recordSignal } from '../signals.ts';
import { DiffView } from './diff-view.tsx';
import { ErrorNote } from './status.tsx';
import { CompareView } from './compare-view.tsx';

/** Answers longer than this start collapsed, with a button to expand them. */
const LONG_ANSWER_CHARS = 600;
/** Dwell shorter than this is scrolling past, not reading. */
const MIN_DWELL_MS = 500;

type Panel = 'none' | 'flag' | 'correct' | 'compare' | 'reason';

export function AnswerCard({
  message,
  siblings,
  busy,
  onSelectSibling,
  onRegenerate,
}: {
  message: TreeMessageView;
  siblings: TreeMessageView[];
  busy: boolean;
  onSelectSibling(id: string): void;
  onRegenerate(): void;
}) {
  const [mine, setMine] = useState<FeedbackSummary['mine']>({ thumbs: null, stars: null });
  const [reasons, setReasons] = useState<FeedbackSummary['myReasons']>({ thumbs: null, stars: null });
  /** The rating the reason box is about: the one given last. */
  const [reasonKind, setReasonKind] = useState<'thumbs' | 'stars'>('thumbs');
  const [panel, setPanel] = useState<Panel>('none');
  const [notice, setNotice] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [expanded, setExpanded] = useState(false);
  const ref = useRef<HTMLElement>(null);
  const index = siblings.findIndex((s) => s.id === message.id);
  const long = message.content.length > LONG_ANSWER_CHARS;
  const aborted = message.params?.finishReason === 'aborted' || message.params?.finishReason === 'cancelled';

  // Set once the user rates here: the first load's answer, if it arrives later (a slow server), is
  // older than what the user just did and must not overwrite it (it would close the reason form).
  const acted = useRef(false);
  useEffect(() => {
    let live = true;
    api(`/v1/messages/${message.id}`, messageDetailView).then(
      (m) => {
        if (!live || acted.current) return;
        setMine(m.feedback.mine);
        setReasons(m.feedback.myReasons);
      },
      (err) => live && setError(err),
    );
    return () => {
      live = false;
    };
  }, [message.id]);

  // Dwell: how long the answer was on screen while the page was visible.
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof IntersectionObserver === 'undefined') return;
    let since: number | null = null;
    let intersecting = false;
    const stop = () => {
      if (since !== null) {
        const ms = Date.now() - since;
        if (ms >= MIN_DWELL_MS) recordSignal('dwell', message.id, ms);
      }
      since = null;
    };
    const observer = new IntersectionObserver(
      ([entry]) => {
        intersecting = !!entry?.isIntersecting;
        if (intersecting && document.visibilityState === 'visible') {
          since ??= Date.now();
          noteAnswerSeen(message.id);
        } else stop();
      },
      { threshold: 0.5 },
    );
    observer.observe(el);
    const offHide = onBeforeHide(stop);
    const onVisible = () => {
      if (document.visibilityState === 'visible' && intersecting) since ??= Date.now();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      observer.disconnect();
      offHide();
      document.removeEventListener('visibilitychange', onVisible);
      stop();
    };
  }, [message.id]);

  const act = async (what: () => Promise<void>, done: string) => {
    setError(null);
    try {
      await what();
      setNotice(done);
    } catch (err) {
      setError(err);
    }
  };

  const rateThumbs = (value: 'up' | 'down') =>
    act(async () => {
      acted.current = true;
      if (mine.thumbs === value) {
        await api(`/v1/messages/${message.id}/rating?kind=thumbs`, z.null(), { method: 'DELETE' });
        setMine((m) => ({ ...m, thumbs: null }));
        if (panel === 'reason' && reasonKind === 'thumbs') setPanel('none');
      } else {
        await api(`/v1/messages/${message.id}/rating`, ratingView, {
          method: 'PUT',
          body: { kind: 'thumbs', value } satisfies RatingBody,
        });
        setMine((m) => ({ ...m, thumbs: value }));
        setReasons((r) => ({ ...r, thumbs: null }));
        setReasonKind('thumbs');
        setPanel('reason');
      }
    }, 'Thanks, your rating is saved.');

  const rateStars = (value: number) =>
    act(async () => {
      acted.current = true;
      await api(`/v1/messages/${message.id}/rating`, ratingView, {
        method: 'PUT',
        body: { kind: 'stars', value } satisfies RatingBody,
      });
      setMine((m) => ({ ...m, stars: value }));
      setReasons((r) => ({ ...r, stars: null }));
      setReasonKind('stars');
      setPanel('reason');
    }, `Saved: ${value} of 5 stars.`);

  const saveReason = (reason: string) =>
    act(async () => {
      const body: RatingBody =
        reasonKind === 'thumbs'
          ? { kind: 'thumbs', value: mine.thumbs!, reason }
          : { kind: 'stars', value: mine.stars!, reason };
      const saved = await api(`/v1/messages/${message.id}/rating`, ratingView, { method: 'PUT', body });
      setReasons((r) => ({ ...r, [reasonKind]: saved.reason }));
      setPanel('none');
    }, 'Thanks, your reason is saved.');

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(message.content);
      recordSignal('copy', message.id, message.content.length);
      setNotice('Copied to the clipboard.');
    } catch {
      setError(new Error('Copying was blocked by the browser: select the text and press Ctrl+C instead.'));
    }
  };

  const onSelectionCopy = () => {
    const length = window.getSelection()?.toString().length ?? 0;
    if (length > 0) recordSignal('copy', message.id, length);
  };

  const toggle = (p: Panel) => {
    setNotice('');
    setPanel(panel === p ? 'none' : p);
  };

  return (
    <article className="answer" ref={ref} aria-label={`Answer ${index + 1} of ${siblings.length}`}>
      <p className={`text${long && !expanded ? ' collapsed' : ''}`} onCopy={onSelectionCopy}>
        {message.content}
      </p>
      {aborted && <p className="muted">This answer was stopped before it finished.</p>}
      {long && (
        <button
          type="button"
          className="link"
          aria-expanded={expanded}
          onClick={() => {
            if (!expanded) recordSignal('expand', message.id, message.content.length);
            setExpanded(!expanded);
          }}
        >
          {expanded ? 'Show less' : 'Show the full answer'}
        </button>
      )}

      {siblings.length > 1 && (
        <div className="pager" role="group" aria-label="Other answers to the same message">
          <button
            type="button"
            aria-label="Previous answer"
            title="Previous answer"
            disabled={index <= 0}
            onClick={() => onSelectSibling(siblings[index - 1]!.id)}
          >
            ‹
          </button>
          <span aria-live="polite">
            Answer {index + 1} of {siblings.length}
          </span>
          <button
            type="button"
            aria-label="Next answer"
            title="Next answer"
            disabled={index >= siblings.length - 1}
            onClick={() => onSelectSibling(siblings[index + 1]!.id)}
          >
            ›
          </button>
        </div>
      )}

      <div className="toolbar" role="toolbar" aria-label="Feedback on this answer">
        <button
          type="button"
          aria-pressed={mine.thumbs === 'up'}
          aria-label="Thumbs up: a good answer"
          title="Good answer"
          onClick={() => rateThumbs('up')}
        >
          ▲ Good
        </button>
        <button
          type="button"
          aria-pressed={mine.thumbs === 'down'}
          aria-label="Thumbs down: a bad answer"
          title="Bad answer"
          onClick={() => rateThumbs('down')}
        >
          ▼ Bad
        </button>
        <span className="stars" role="group" aria-label="Rate from 1 to 5 stars">
          {[1, 2, 3, 4, 5].map((n) => (
            <button
              key={n}
              type="button"
              className="star"
              aria-pressed={mine.stars === n}
              aria-label={`${n} of 5 stars`}
              title={`${n} of 5 stars`}
              onClick={() => rateStars(n)}
            >
              {mine.stars !== null && n <= mine.stars ? '★' : '☆'}
            </button>
          ))}
        </span>
        <button type="button" onClick={copy} title="Copy the answer">
          Copy
        </button>
        <button
          type="button"
          aria-expanded={panel === 'flag'}
          onClick={() => toggle('flag')}
          title="Report a problem"
        >
          Flag
        </button>
        <button
          type="button"
          aria-expanded={panel === 'correct'}
          onClick={() => toggle('correct')}
          title="Write a better answer for the model to learn from"
        >
          Suggest a correction
        </button>
        <button
          type="button"
          onClick={onRegenerate}
          disabled={busy}
          title="Ask for another answer; this one stays available"
        >
          Regenerate
        </button>
        {siblings.length > 1 && (
          <button
            type="button"
            aria-expanded={panel === 'compare'}
            onClick={() => toggle('compare')}
            title="Compare two answers side by side and vote"
          >
            Compare answers
          </button>
        )}
      </div>

      <p className="notice" role="status">
        {notice}
      </p>
      <ErrorNote error={error} />

      {panel === 'reason' && (reasonKind === 'thumbs' ? mine.thumbs : mine.stars) !== null && (
        <ReasonForm
          key={`${reasonKind}:${reasonKind === 'thumbs' ? mine.thumbs : mine.stars}`}
          what={
            reasonKind === 'thumbs'
              ? `your ${mine.thumbs === 'up' ? 'thumbs up' : 'thumbs down'}`
              : `your ${mine.stars} stars`
          }
          initial={reasons[reasonKind] ?? ''}
          onSave={saveReason}
          onCancel={() => setPanel('none')}
        />
      )}
      {panel === 'flag' && (
        <FlagForm
          messageId={message.id}
          onDone={() => {
            setPanel('none');
            setNotice('Flag sent. A moderator will review it.');
          }}
          onCancel={() => setPanel('none')}
        />
      )}
      {panel === 'correct' && (
        <CorrectionEditor
          message={message}
          onDone={() => {
            setPanel('none');
            setNotice('Correction sent. A moderator will review it.');
          }}
          onCancel={() => setPanel('none')}
        />
      )}
      {panel === 'compare' && (
        <CompareView current={message} siblings={siblings} onClose={() => setPanel('none')} />
      )}
    </article>
  );
}

function ReasonForm({
  what,
  initial,
  onSave,
  onCancel,
}: {
  what: string;
  initial: string;
  onSave(reason: string): Promise<void>;
  onCancel(): void;
}) {
  const [reason, setReason] = useState(initial);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void onSave(reason.trim());
  };
  return (
    <form className="panel reason" onSubmit={submit} aria-label="Why you rated it so">
      <label>
        Why {what}? (optional)
        <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={2000} />
      </label>
      <div className="row">
        <button type="submit" className="primary" disabled={!reason.trim()}>
          Save reason
        </button>
        <button type="button" onClick={onCancel}>
          No thanks
        </button>
      </div>
    </form>
  );
}

function FlagForm({ messageId, onDone, onCancel }: { messageId: string; onDone(): void; onCancel(): void }) {
  const [category, setCategory] = useState<FlagCategory | ''>('');
  const [comment, setComment] = useState('');
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!category) return; // the select is required: the browser asks for it first
    try {
      await api(`/v1/messages/${messageId}/flags`, flagView, {
        body: { category, ...(comment.trim() ? { comment: comment.trim() } : {}) } satisfies FlagBody,
      });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="panel" onSubmit={submit} aria-label="Flag this answer">
      <label>
        What is wrong?
        <select value={category} onChange={(e) => setCategory(e.target.value as FlagCategory)} required>
          <option value="">Choose a category…</option>
          {FLAG_CATEGORIES.map((c) => (
            <option key={c.value} value={c.value}>
              {c.label}
            </option>
          ))}
        </select>
      </label>
      <label>
        Comment (optional)
        <textarea value={comment} onChange={(e) => setComment(e.target.value)} maxLength={2000} rows={2} />
      </label>
      <ErrorNote error={error} />
      <div className="row">
        <button type="submit" className="primary" disabled={!category}>
          Send flag
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function CorrectionEditor({
  message,
  onDone,
  onCancel,
}: {
  message: TreeMessageView;
  onDone(): void;
  onCancel(): void;
}) {
  const [text, setText] = useState(message.content);
  const [error, setError] = useState<unknown>(null);
  const changed = text.trim() !== '' && text.trim() !== message.content.trim();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api(`/v1/messages/${message.id}/corrections`, correctionView, {
        body: { text } satisfies CorrectionBody,
      });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="panel" onSubmit={submit} aria-label="Suggest a correction">
      <label>
        Edit the answer into what it should have said
        <textarea value={text} onChange={(e) => setText(e.target.value)} rows={5} maxLength={20000} />
      </label>
      <h3>Your changes</h3>
      {changed ? (
        <DiffView before={message.content} after={text} label="Changes from the original answer" />
      ) : (
        <p className="muted">No changes yet: edit the text above and the difference shows here.</p>
      )}
      <ErrorNote error={error} />
      <div className="row">
        <button type="submit" className="primary" disabled={!changed}>
          Send correction
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
