// Moderation: annotation queues. Create one (guidelines with a preview, rubric, source, overlap, who
// may annotate), watch each queue's progress, agreement (Krippendorff's alpha with its 95%
// interval per rubric dimension) and every rater's agreement with the others and standing, and
// close it.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate } from '@tanstack/react-router';
import {
  agreementView,
  queueDetail,
  queueList,
  queueView,
  type AgreementView,
  type CreateQueueInput,
  type QueueDetail,
  type QueueView,
} from '#contract/annotation.ts';
import type { FlagCategory } from '#contract/feedback.ts';
import type { Role } from '#contract/users.ts';
import { FLAG_CATEGORIES, api } from '../api.ts';
import { SafeMarkdown } from '../components/markdown.tsx';
import { ConfirmDialog, type ConfirmRequest } from '../components/confirm-dialog.tsx';
import { Empty, ErrorNote, Loading } from '../components/status.tsx';

const pct = (x: number | null) => (x === null ? '—' : `${Math.round(x * 100)}%`);
const num = (x: number | null) => (x === null ? 'undefined' : x.toFixed(3));

const SOURCE_LABELS: Record<QueueView['source']['kind'], string> = {
  sample: 'A sample of answers',
  flagged: 'Flagged answers',
  disagreement: 'Answers whose raters disagreed',
  arena: 'Arena battles',
};

function describeSource(source: QueueView['source']): string {
  const parts = [SOURCE_LABELS[source.kind]];
  if (source.kind === 'sample' && source.pairs) parts.push('as pairs');
  if (source.kind === 'flagged' && source.categories) parts.push(`(${source.categories.join(', ')})`);
  if (source.from) parts.push(`from ${source.from.toLocaleDateString()}`);
  if (source.to) parts.push(`to ${source.to.toLocaleDateString()}`);
  return parts.join(' ');
}

export function AnnotationQueuesPage() {
  const [queues, setQueues] = useState<QueueView[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [status, setStatus] = useState<'open' | 'closed' | 'all'>('open');
  useEffect(() => {
    setQueues(null);
    api(`/v1/annotation/queues?status=${status}`, queueList).then((r) => setQueues(r.queues), setError);
  }, [status]);
  return (
    <section aria-label="Annotation queues">
      <div className="filters row">
        <label>
          Show
          <select value={status} onChange={(e) => setStatus(e.target.value as typeof status)}>
            <option value="open">Open queues</option>
            <option value="closed">Closed queues</option>
            <option value="all">All queues</option>
          </select>
        </label>
        <button
          type="button"
          className="primary"
          aria-expanded={creating}
          onClick={() => setCreating(!creating)}
        >
          New queue
        </button>
      </div>
      {creating && <CreateQueueForm onCancel={() => setCreating(false)} />}
      <ErrorNote error={error} />
      {queues === null && !error && <Loading what="annotation queues" />}
      {queues?.length === 0 && (
        <Empty>
          No {status === 'all' ? '' : status} queues. Create one to have several raters judge the same
          answers.
        </Empty>
      )}
      {queues && queues.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Annotation queues, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col">Status</th>
                <th scope="col">Items complete</th>
                <th scope="col">Judgements</th>
                <th scope="col">Held now</th>
                <th scope="col">Source</th>
              </tr>
            </thead>
            <tbody>
              {queues.map((q) => (
                <tr key={q.id}>
                  <th scope="row">
                    <Link to="/moderation/queues/$queueId" params={{ queueId: q.id }}>
                      {q.name}
                    </Link>
                  </th>
                  <td>
                    <span className={`badge ${q.status}`}>{q.status}</span>
                  </td>
                  <td>
                    {q.progress.completeItems} of {q.progress.items}
                  </td>
                  <td>
                    {q.progress.judgements} of {q.progress.target} ({q.overlap} per item)
                  </td>
                  <td>{q.progress.activeLeases}</td>
                  <td>{describeSource(q.source)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

const ROLES: Role[] = ['user', 'moderator', 'ops', 'admin'];

function CreateQueueForm({ onCancel }: { onCancel(): void }) {
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [guidelines, setGuidelines] = useState('');
  const [thumbs, setThumbs] = useState(true);
  const [stars, setStars] = useState(false);
  const [labels, setLabels] = useState('');
  const [reason, setReason] = useState<'off' | 'optional' | 'required'>('optional');
  const [kind, setKind] = useState<'sample' | 'pairs' | 'flagged' | 'disagreement' | 'arena'>('sample');
  const [categories, setCategories] = useState<FlagCategory[]>([]);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [limit, setLimit] = useState(200);
  const [overlap, setOverlap] = useState(3);
  const [leaseMinutes, setLeaseMinutes] = useState(10);
  const [roles, setRoles] = useState<Role[]>(['user']);
  const [userIds, setUserIds] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const pairs = kind === 'pairs' || kind === 'arena';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const window = {
      ...(from ? { from: new Date(from).toISOString() } : {}),
      ...(to ? { to: new Date(to).toISOString() } : {}),
      limit,
    };
    const body: CreateQueueInput = {
      name,
      guidelines,
      rubric: {
        thumbs: !pairs && thumbs,
        stars: !pairs && stars,
        pairwise: pairs,
        labels: labels
          .split(',')
          .map((l) => l.trim())
          .filter(Boolean),
        reason,
      },
      source:
        kind === 'sample' || kind === 'pairs'
          ? { kind: 'sample', pairs, ...window }
          : kind === 'flagged'
            ? { kind: 'flagged', ...(categories.length ? { categories } : {}), ...window }
            : kind === 'arena'
              ? { kind: 'arena', ...window }
              : { kind: 'disagreement', ...window },
      overlap,
      leaseSeconds: leaseMinutes * 60,
      annotators: {
        roles,
        userIds: userIds
          .split(/[\s,]+/)
          .map((id) => id.trim())
          .filter(Boolean),
      },
    };
    try {
      const queue = await api('/v1/annotation/queues', queueView, { body });
      await navigate({ to: '/moderation/queues/$queueId', params: { queueId: queue.id } });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <form className="panel create-queue" onSubmit={submit} aria-label="New annotation queue">
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
      </label>
      <div className="two-columns">
        <label>
          Guidelines (Markdown; HTML is shown as text)
          <textarea value={guidelines} onChange={(e) => setGuidelines(e.target.value)} rows={8} />
        </label>
        <div aria-label="Guidelines preview" role="region">
          <p className="muted">Preview</p>
          <SafeMarkdown text={guidelines || '_Nothing written yet._'} />
        </div>
      </div>
      <fieldset>
        <legend>What raters give</legend>
        {!pairs && (
          <>
            <label className="switch">
              <input type="checkbox" checked={thumbs} onChange={(e) => setThumbs(e.target.checked)} /> Thumbs
            </label>
            <label className="switch">
              <input type="checkbox" checked={stars} onChange={(e) => setStars(e.target.checked)} /> 1 to 5
              stars
            </label>
          </>
        )}
        {pairs && <p className="muted">Pairs are judged with a choice: A, B, tie or both bad.</p>}
        <label>
          Labels (comma-separated; raters pick one)
          <input value={labels} onChange={(e) => setLabels(e.target.value)} />
        </label>
        <label>
          Reason
          <select value={reason} onChange={(e) => setReason(e.target.value as typeof reason)}>
            <option value="off">Not asked</option>
            <option value="optional">Optional</option>
            <option value="required">Required</option>
          </select>
        </label>
      </fieldset>
      <fieldset>
        <legend>Items</legend>
        <label>
          Source
          <select value={kind} onChange={(e) => setKind(e.target.value as typeof kind)}>
            <option value="sample">A sample of answers</option>
            <option value="pairs">A sample of pairs of answers to one prompt</option>
            <option value="flagged">Flagged answers</option>
            <option value="disagreement">Answers whose raters disagreed</option>
            <option value="arena">Arena battles (both answers, as the battle showed them)</option>
          </select>
        </label>
        {kind === 'flagged' && (
          <div className="row" role="group" aria-label="Flag categories (all when none is ticked)">
            {FLAG_CATEGORIES.map((c) => (
              <label key={c.value} className="switch">
                <input
                  type="checkbox"
                  checked={categories.includes(c.value)}
                  onChange={(e) =>
                    setCategories(
                      e.target.checked ? [...categories, c.value] : categories.filter((x) => x !== c.value),
                    )
                  }
                />
                {c.label}
              </label>
            ))}
          </div>
        )}
        <div className="row">
          <label>
            Answers from
            <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
          </label>
          <label>
            until
            <input type="date" value={to} onChange={(e) => setTo(e.target.value)} />
          </label>
          <label>
            At most
            <input
              type="number"
              min={1}
              max={5000}
              value={limit}
              onChange={(e) => setLimit(Number(e.target.value))}
            />
          </label>
          <label>
            Raters per item
            <input
              type="number"
              min={1}
              max={20}
              value={overlap}
              onChange={(e) => setOverlap(Number(e.target.value))}
            />
          </label>
          <label>
            Minutes a rater holds an item
            <input
              type="number"
              min={1}
              max={1440}
              value={leaseMinutes}
              onChange={(e) => setLeaseMinutes(Number(e.target.value))}
            />
          </label>
        </div>
      </fieldset>
      <fieldset>
        <legend>Who may annotate</legend>
        <div className="row" role="group" aria-label="Roles">
          {ROLES.map((r) => (
            <label key={r} className="switch">
              <input
                type="checkbox"
                checked={roles.includes(r)}
                onChange={(e) => setRoles(e.target.checked ? [...roles, r] : roles.filter((x) => x !== r))}
              />
              {r}
            </label>
          ))}
        </div>
        <label>
          Or these users (ids, separated by commas or spaces)
          <input value={userIds} onChange={(e) => setUserIds(e.target.value)} />
        </label>
      </fieldset>
      <ErrorNote error={error} />
      <div className="row">
        <button type="submit" className="primary" disabled={busy || !name.trim()}>
          {busy ? 'Creating…' : 'Create queue'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function AnnotationQueuePage({ queueId }: { queueId: string }) {
  const [queue, setQueue] = useState<QueueDetail | null>(null);
  const [agreement, setAgreement] = useState<AgreementView | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);

  const load = useCallback(() => {
    setError(null);
    api(`/v1/annotation/queues/${queueId}`, queueDetail).then(setQueue, setError);
    api(`/v1/annotation/queues/${queueId}/agreement`, agreementView).then(setAgreement, setError);
  }, [queueId]);
  useEffect(load, [load]);

  if (!queue) return <>{error ? <ErrorNote error={error} onRetry={load} /> : <Loading what="the queue" />}</>;
  const { progress } = queue;
  return (
    <section aria-label={`Queue ${queue.name}`}>
      <p>
        <Link to="/moderation/queues">All queues</Link>
      </p>
      <h2>
        {queue.name} <span className={`badge ${queue.status}`}>{queue.status}</span>
      </h2>
      <p className="muted">
        {describeSource(queue.source)} · {queue.overlap} raters per item · annotators:{' '}
        {[
          ...queue.annotators.roles.map((r) => `role ${r}`),
          ...queue.annotators.userIds.map((u) => `user ${u}`),
        ].join(', ')}
      </p>
      <div className="review-progress" aria-label="Progress">
        <label>
          {progress.completeItems} of {progress.items} items complete; {progress.judgements} of{' '}
          {progress.target} judgements, {progress.activeLeases} held now, {progress.skips} skips
          <progress max={Math.max(1, progress.target)} value={progress.judgements} />
        </label>
      </div>
      <div className="row">
        <button type="button" onClick={load}>
          Refresh
        </button>
        {queue.status === 'open' && (
          <button
            type="button"
            onClick={() =>
              setConfirm({
                title: `Close “${queue.name}”?`,
                body: 'No item is handed out after this; judgements already given stay and still count.',
                confirmLabel: 'Close queue',
                run: async () => {
                  await api(`/v1/annotation/queues/${queueId}/close`, queueView, { body: {} });
                  load();
                },
              })
            }
          >
            Close queue
          </button>
        )}
      </div>
      <ErrorNote error={error} />

      <h3>Agreement</h3>
      {!agreement && !error && <Loading what="agreement" />}
      {agreement && agreement.dimensions.length === 0 && <Empty>No judgements yet.</Empty>}
      {agreement && agreement.dimensions.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Krippendorff's alpha per rubric dimension</caption>
            <thead>
              <tr>
                <th scope="col">Dimension</th>
                <th scope="col">Krippendorff's alpha</th>
                <th scope="col">95% interval</th>
                <th scope="col">Items with 2+ judgements</th>
                <th scope="col">Judgements</th>
              </tr>
            </thead>
            <tbody>
              {agreement.dimensions.map((d) => (
                <tr key={d.dimension}>
                  <th scope="row">
                    {d.dimension} <span className="muted">({d.level})</span>
                  </th>
                  <td>{num(d.alpha)}</td>
                  <td>{d.interval ? `${d.interval[0].toFixed(3)} to ${d.interval[1].toFixed(3)}` : '—'}</td>
                  <td>{d.items}</td>
                  <td>{d.judgements}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted">
            1 is perfect agreement, 0 what chance gives, below 0 systematic disagreement; undefined when every
            judgement is the same or no item has two.
          </p>
        </div>
      )}

      <h3>Raters</h3>
      {agreement && agreement.raters.length === 0 && <Empty>Nobody has judged or skipped an item yet.</Empty>}
      {agreement && agreement.raters.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Raters, least trusted first</caption>
            <thead>
              <tr>
                <th scope="col">Rater</th>
                <th scope="col">Judged</th>
                <th scope="col">Skipped</th>
                <th scope="col">Agreement with the others</th>
                <th scope="col">Standing</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {agreement.raters.map((r) => (
                <tr key={r.userId}>
                  <th scope="row">{r.email}</th>
                  <td>{r.judged}</td>
                  <td>{r.skipped}</td>
                  <td>
                    {pct(r.agreement)} <span className="muted">of {r.comparisons}</span>
                  </td>
                  <td>
                    <span className={`badge ${r.standing.status}`}>
                      {r.standing.trust.toFixed(2)} {r.standing.status.replace('_', '-')}
                    </span>
                  </td>
                  <td>{r.standing.reasons.join('; ') || 'Trusted'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <details>
        <summary>Guidelines</summary>
        <SafeMarkdown text={queue.guidelines || '_No guidelines._'} />
      </details>
      {confirm && <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />}
    </section>
  );
}
