// Raters: how much feedback each gave, how often they agree with others and with answers of known
// quality, and why the datasets trust them less (GET /v1/datasets/raters).
import { useCallback, useEffect, useState } from 'react';
import { raterList, type RaterView } from '#contract/datasets.ts';
import { api } from '../api.ts';
import { Empty, ErrorNote, Loading } from '../components/status.tsx';

const pct = (v: number | null, n: number) => (v === null ? '—' : `${Math.round(v * 100)}% of ${n}`);

export function RatersPage() {
  const [raters, setRaters] = useState<RaterView[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  /** The first page, or with `cursor` the next one, appended. */
  const fetchPage = useCallback(
    (cursor: string | null) => {
      const query = new URLSearchParams();
      if (status) query.set('status', status);
      if (cursor) query.set('cursor', cursor);
      api(`/v1/datasets/raters?${query}`, raterList).then((r) => {
        setRaters((shown) => (cursor ? [...(shown ?? []), ...r.items] : r.items));
        setNextCursor(r.nextCursor);
      }, setError);
    },
    [status],
  );
  useEffect(() => {
    setRaters(null);
    fetchPage(null);
  }, [fetchPage]);
  return (
    <section aria-label="Raters">
      <div className="filters">
        <label>
          Show
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">All raters</option>
            <option value="down_weighted">Down-weighted</option>
            <option value="excluded">Excluded</option>
            <option value="trusted">Trusted</option>
          </select>
        </label>
      </div>
      <ErrorNote error={error} />
      {raters === null && !error && <Loading what="raters" />}
      {raters?.length === 0 && <Empty>No raters yet: they appear once users rate or vote on answers.</Empty>}
      {raters && raters.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Raters, least trusted first</caption>
            <thead>
              <tr>
                <th scope="col">Rater</th>
                <th scope="col">Ratings</th>
                <th scope="col">Votes</th>
                <th scope="col">Agreement with others</th>
                <th scope="col">Agreement with known answers</th>
                <th scope="col">Agreement in annotation queues</th>
                <th scope="col">Trust</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {raters.map((r) => (
                <tr key={r.userId}>
                  <th scope="row">{r.email ?? r.userId}</th>
                  <td>{r.ratings}</td>
                  <td>{r.votes}</td>
                  <td>{pct(r.consensusAgreement, r.consensusComparisons)}</td>
                  <td>{pct(r.goldAgreement, r.goldComparisons)}</td>
                  <td>{pct(r.queueAgreement, r.queueComparisons)}</td>
                  <td>
                    <span className={`badge ${r.status}`}>
                      {r.trust.toFixed(2)} {r.status.replace('_', '-')}
                    </span>
                  </td>
                  <td>{r.reasons.join('; ') || 'Trusted'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {nextCursor && (
        <button type="button" onClick={() => fetchPage(nextCursor)}>
          Load more
        </button>
      )}
    </section>
  );
}
