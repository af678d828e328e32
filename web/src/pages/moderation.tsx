// Moderation: the queues of corrections (as a diff against the answer) and flags, with the prompt,
// the submitter and their trust; approve, reject or edit-then-approve, each with a reason; keyboard
// shortcuts; filters; and the raters page.
import { useCallback, useEffect, useRef, useState } from 'react';
import { Link, Outlet } from '@tanstack/react-router';
import {
  correctionQueue,
  correctionReviewView,
  flagQueue,
  flagReviewView,
  type ApproveCorrectionBody,
  type CorrectionQueueItem,
  type FlagQueueItem,
  type SubmitterTrust,
} from '#contract/moderation.ts';
import type { ModelVersionView } from '#contract/model-versions.ts';
import { FLAG_CATEGORIES, api, listModelVersions } from '../api.ts';
import { DiffView } from '../components/diff-view.tsx';
import { Empty, ErrorNote, Loading } from '../components/status.tsx';

const SHORTCUTS =
  'Shortcuts: j / k next and previous item, a approve, r reject, e edit then approve (corrections).';

/** The moderation page: its tabs, and the queue or the raters below them (routes in router.tsx). */
export function ModerationLayout() {
  return (
    <main className="page" id="main">
      <h1>Moderation</h1>
      <nav className="tabs" aria-label="Moderation sections">
        <Link to="/moderation" activeOptions={{ exact: true }}>
          Corrections
        </Link>
        <Link to="/moderation/flags">Flags</Link>
        <Link to="/moderation/raters">Raters</Link>
        <Link to="/moderation/queues">Annotation queues</Link>
      </nav>
      <Outlet />
    </main>
  );
}

function TrustBadge({ trust }: { trust: SubmitterTrust }) {
  const label =
    trust.status === 'trusted'
      ? 'trusted'
      : trust.status === 'excluded'
        ? 'excluded from datasets'
        : 'down-weighted';
  return (
    <span
      className={`badge ${trust.status}`}
      title={trust.reasons.join('; ') || 'No reason to doubt this rater'}
    >
      trust {trust.trust.toFixed(2)} ({label})
    </span>
  );
}

export function ReviewQueue({ kind }: { kind: 'corrections' | 'flags' }) {
  const [items, setItems] = useState<(CorrectionQueueItem | FlagQueueItem)[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [versions, setVersions] = useState<ModelVersionView[]>([]);
  const [modelVersionId, setModelVersionId] = useState('');
  const [category, setCategory] = useState('');
  const [current, setCurrent] = useState(0);
  const [notice, setNotice] = useState('');
  const [nextCursor, setNextCursor] = useState<string | null>(null);

  /** The first page, or with `cursor` the next one, appended. */
  const fetchPage = useCallback(
    (cursor: string | null) => {
      setError(null);
      const query = new URLSearchParams({ status: 'pending', limit: '50' });
      if (modelVersionId) query.set('modelVersionId', modelVersionId);
      if (kind === 'flags' && category) query.set('category', category);
      if (cursor) query.set('cursor', cursor);
      const loaded =
        kind === 'corrections'
          ? api(`/v1/moderation/corrections?${query}`, correctionQueue).then((r) => ({
              page: r.corrections as (CorrectionQueueItem | FlagQueueItem)[],
              next: r.nextCursor,
            }))
          : api(`/v1/moderation/flags?${query}`, flagQueue).then((r) => ({
              page: r.flags as (CorrectionQueueItem | FlagQueueItem)[],
              next: r.nextCursor,
            }));
      loaded.then(({ page, next }) => {
        setItems((list) => (cursor ? [...(list ?? []), ...page] : page));
        setNextCursor(next);
      }, setError);
    },
    [kind, modelVersionId, category],
  );
  const load = useCallback(() => fetchPage(null), [fetchPage]);

  useEffect(() => {
    setItems(null);
    setCurrent(0);
    load();
  }, [load]);
  useEffect(() => {
    listModelVersions().then(setVersions, setError);
  }, []);

  const decided = (id: string, what: string) => {
    setItems((list) => list?.filter((i) => i.id !== id) ?? null);
    setNotice(what);
  };

  return (
    <section aria-label={kind === 'corrections' ? 'Corrections to review' : 'Flags to review'}>
      <div className="filters" role="group" aria-label="Filters">
        <label>
          Model version
          <select value={modelVersionId} onChange={(e) => setModelVersionId(e.target.value)}>
            <option value="">All versions</option>
            {versions.map((v) => (
              <option key={v.id} value={v.id}>
                {v.name} ({v.status})
              </option>
            ))}
          </select>
        </label>
        {kind === 'flags' && (
          <label>
            Category
            <select value={category} onChange={(e) => setCategory(e.target.value)}>
              <option value="">All categories</option>
              {FLAG_CATEGORIES.map((c) => (
                <option key={c.value} value={c.value}>
                  {c.label}
                </option>
              ))}
            </select>
          </label>
        )}
        <button type="button" onClick={load}>
          Refresh
        </button>
      </div>
      <p className="muted" id="shortcuts">
        {SHORTCUTS}
      </p>
      <p role="status" className="notice">
        {notice}
      </p>
      <ErrorNote error={error} onRetry={load} />
      {items === null && !error && <Loading what="the queue" />}
      {items?.length === 0 && (
        <Empty>
          Nothing to review. New {kind} from users appear here; try another filter or come back later.
        </Empty>
      )}
      <ol className="queue">
        {items?.map((item, i) => (
          <li key={item.id}>
            <ReviewCard
              kind={kind}
              item={item}
              active={i === current}
              onFocus={() => setCurrent(i)}
              onMove={(delta) =>
                setCurrent((c) => Math.max(0, Math.min((items?.length ?? 1) - 1, c + delta)))
              }
              onDecided={decided}
              versionName={(id) => versions.find((v) => v.id === id)?.name ?? id.slice(0, 8)}
            />
          </li>
        ))}
      </ol>
      {nextCursor && (
        <button type="button" onClick={() => fetchPage(nextCursor)}>
          Load more
        </button>
      )}
    </section>
  );
}

function ReviewCard({
  kind,
  item,
  active,
  onFocus,
  onMove,
  onDecided,
  versionName,
}: {
  versionName(id: string): string;
  kind: 'corrections' | 'flags';
  item: CorrectionQueueItem | FlagQueueItem;
  active: boolean;
  onFocus(): void;
  onMove(delta: number): void;
  onDecided(id: string, what: string): void;
}) {
  const correction = 'correctedText' in item ? item : null;
  const flag = 'category' in item ? item : null;
  const [reason, setReason] = useState('');
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(correction?.correctedText ?? '');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const card = useRef<HTMLElement>(null);
  const reasonInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (active && !card.current?.contains(document.activeElement)) card.current?.focus();
  }, [active]);

  const decide = async (decision: 'approve' | 'reject') => {
    if (!reason.trim()) {
      setError(new Error('Give a reason first: it is kept with the decision.'));
      reasonInput.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body: ApproveCorrectionBody = { reason: reason.trim() };
      if (decision === 'approve' && editing && correction) body.text = text;
      await api(
        `/v1/moderation/${kind}/${item.id}/${decision}`,
        kind === 'corrections' ? correctionReviewView : flagReviewView,
        { body },
      );
      onDecided(item.id, `${decision === 'approve' ? 'Approved' : 'Rejected'}${editing ? ' (edited)' : ''}.`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  const onKeyDown = (e: React.KeyboardEvent) => {
    const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
    if (typing || e.ctrlKey || e.metaKey || e.altKey) {
      if (e.key === 'Enter' && e.target === reasonInput.current) e.preventDefault();
      return;
    }
    const actions: Record<string, () => void> = {
      j: () => onMove(1),
      k: () => onMove(-1),
      a: () => void decide('approve'),
      r: () => void decide('reject'),
      ...(correction ? { e: () => setEditing(true) } : {}),
    };
    const run = actions[e.key];
    if (run) {
      e.preventDefault();
      run();
    }
  };

  const version = item.message.modelVersionId ? versionName(item.message.modelVersionId) : 'none (logged)';
  return (
    <article
      ref={card}
      tabIndex={-1}
      className={`review${active ? ' active' : ''}`}
      aria-label={`${correction ? 'Correction' : 'Flag'} from ${item.submitter.email}`}
      aria-describedby="shortcuts"
      onFocus={onFocus}
      onKeyDown={onKeyDown}
    >
      <p className="meta">
        From <strong>{item.submitter.email}</strong> <TrustBadge trust={item.submitterTrust} /> ·{' '}
        {new Date(item.createdAt).toLocaleString()} · model {version}
        {flag && (
          <>
            {' '}
            · <span className="badge">{FLAG_CATEGORIES.find((c) => c.value === flag.category)?.label}</span>
          </>
        )}
      </p>
      {item.submitterTrust.reasons.length > 0 && (
        <p className="muted">Why trust is reduced: {item.submitterTrust.reasons.join('; ')}</p>
      )}
      <h3>Prompt</h3>
      <p className="text quote">{item.prompt?.content ?? '(no prompt)'}</p>
      {correction ? (
        <>
          <h3>Answer and correction</h3>
          <DiffView
            before={item.message.content}
            after={correction.correctedText}
            label="Correction against the answer"
          />
          {editing && (
            <label>
              Edited correction (approving saves this text)
              <textarea value={text} onChange={(e) => setText(e.target.value)} rows={4} />
            </label>
          )}
        </>
      ) : (
        <>
          <h3>Answer</h3>
          <p className="text quote">{item.message.content}</p>
          {flag?.comment && (
            <>
              <h3>Comment</h3>
              <p className="text">{flag.comment}</p>
            </>
          )}
        </>
      )}
      <label>
        Reason for the decision
        <input ref={reasonInput} value={reason} onChange={(e) => setReason(e.target.value)} />
      </label>
      <ErrorNote error={error} />
      <div className="row">
        <button
          type="button"
          className="primary"
          disabled={busy}
          onClick={() => decide('approve')}
          aria-keyshortcuts="a"
        >
          {editing ? 'Approve edited' : flag ? 'Uphold flag' : 'Approve'} (a)
        </button>
        <button type="button" disabled={busy} onClick={() => decide('reject')} aria-keyshortcuts="r">
          {flag ? 'Dismiss flag' : 'Reject'} (r)
        </button>
        {correction && !editing && (
          <button type="button" disabled={busy} onClick={() => setEditing(true)} aria-keyshortcuts="e">
            Edit then approve (e)
          </button>
        )}
      </div>
    </article>
  );
}
