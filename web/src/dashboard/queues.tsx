// Queue health: waiting, active and failed jobs per queue, and retrying a failed job.
import { useState } from 'react';
import { queueHealth, retriedView } from '#contract/queues.ts';
import { api } from '../api.ts';
import { ConfirmDialog, type ConfirmRequest } from '../components/confirm-dialog.tsx';
import { Empty, ErrorNote, Loading } from '../components/status.tsx';
import { useLoad } from './use-load.ts';

export function QueuesPanel() {
  const queues = useLoad(() => api('/v1/jobs/queues', queueHealth));
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [notice, setNotice] = useState('');
  return (
    <section aria-labelledby="queues-heading">
      <h2 id="queues-heading">Queues</h2>
      <button type="button" onClick={queues.reload}>
        Refresh
      </button>
      <p role="status" className="notice">
        {notice}
      </p>
      <ErrorNote error={queues.error} onRetry={queues.reload} />
      {!queues.data && !queues.error && <Loading what="queues" />}
      {queues.data?.queues.length === 0 && <Empty>No queues are registered.</Empty>}
      {queues.data && queues.data.queues.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col">Waiting</th>
                <th scope="col">Active</th>
                <th scope="col">Delayed</th>
                <th scope="col">Failed</th>
                <th scope="col">Completed</th>
              </tr>
            </thead>
            <tbody>
              {queues.data.queues.map((q) => (
                <tr key={q.name}>
                  <th scope="row">{q.name}</th>
                  <td>{q.counts.waiting}</td>
                  <td>{q.counts.active}</td>
                  <td>{q.counts.delayed}</td>
                  <td className={q.counts.failed ? 'bad' : undefined}>{q.counts.failed}</td>
                  <td>{q.counts.completed}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {queues.data?.queues.map((q) =>
        q.failed.length === 0 ? null : (
          <article key={q.name} className="card">
            <h3>Failed jobs in {q.name}</h3>
            <ul>
              {q.failed.map((job) => (
                <li key={job.id}>
                  <strong>{job.name}</strong> #{job.id}: {job.failedReason} ({job.attemptsMade} attempts){' '}
                  <button
                    type="button"
                    onClick={() =>
                      setConfirm({
                        title: `Retry job ${job.id}?`,
                        body: `Runs ${job.name} in ${q.name} again.`,
                        confirmLabel: 'Retry',
                        async run() {
                          await api(
                            `/v1/jobs/${encodeURIComponent(q.name)}/${encodeURIComponent(job.id)}/retry`,
                            retriedView,
                            { method: 'POST' },
                          );
                          setNotice(`Job ${job.id} is queued again.`);
                          queues.reload();
                        },
                      })
                    }
                  >
                    Retry
                  </button>
                </li>
              ))}
            </ul>
          </article>
        ),
      )}
      {confirm && <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />}
    </section>
  );
}
