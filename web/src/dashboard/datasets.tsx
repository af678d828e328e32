// Dataset snapshots: versions, sizes by source, JSONL downloads, and building a new one.
import { useState } from 'react';
import {
  buildView,
  datasetCounts,
  datasetPage,
  DATASET_FORMATS,
  DATASET_SPLITS,
} from '#contract/datasets.ts';
import { api } from '../api.ts';
import { ConfirmDialog, type ConfirmRequest } from '../components/confirm-dialog.tsx';
import { Empty, ErrorNote, Loading } from '../components/status.tsx';
import { useLoad } from './use-load.ts';

/** A snapshot's counts per format (stored as JSON; empty when they cannot be read). */
const counts = (value: unknown) => datasetCounts.safeParse(value).data ?? {};

export function DatasetsPanel() {
  const list = useLoad(() => api('/v1/datasets?limit=50', datasetPage));
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [notice, setNotice] = useState('');
  /** The next page, appended. */
  const more = () => {
    const shown = list.data;
    if (!shown?.nextCursor) return;
    api(`/v1/datasets?limit=50&cursor=${encodeURIComponent(shown.nextCursor)}`, datasetPage).then(
      (page) => list.setData({ items: [...shown.items, ...page.items], nextCursor: page.nextCursor }),
      () => setNotice('Could not load older datasets.'),
    );
  };

  const build = () =>
    setConfirm({
      title: 'Build datasets now?',
      body: 'Builds SFT, preference and KTO snapshots from the feedback approved so far. An unchanged build returns the existing snapshot.',
      confirmLabel: 'Build',
      async run() {
        const r = await api('/v1/datasets/builds', buildView, { body: {} });
        setNotice(
          r.created
            ? `Built ${r.dataset.contentHash.slice(0, 12)}.`
            : 'Nothing changed: the latest snapshot is current.',
        );
        list.reload();
      },
    });

  return (
    <section aria-labelledby="datasets-heading">
      <h2 id="datasets-heading">Dataset versions</h2>
      <div className="row">
        <button type="button" className="primary" onClick={build}>
          Build datasets now
        </button>
      </div>
      <p role="status" className="notice">
        {notice}
      </p>
      <ErrorNote error={list.error} onRetry={list.reload} />
      {!list.data && !list.error && <Loading what="datasets" />}
      {list.data?.items.length === 0 && (
        <Empty>No datasets yet. Build one with the button above once users have given feedback.</Empty>
      )}
      {list.data?.items.map((d) => (
        <article key={d.id} className="card">
          <h3>
            {d.contentHash.slice(0, 12)}{' '}
            <span className="muted">{new Date(d.createdAt).toLocaleString()}</span>
          </h3>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Format</th>
                  <th scope="col">Train</th>
                  <th scope="col">Validation</th>
                  <th scope="col">By source</th>
                  <th scope="col">Download JSONL</th>
                </tr>
              </thead>
              <tbody>
                {DATASET_FORMATS.map((f) => (
                  <tr key={f}>
                    <th scope="row">{f}</th>
                    <td>{counts(d.sizes)[f]?.train ?? 0}</td>
                    <td>{counts(d.sizes)[f]?.validation ?? 0}</td>
                    <td>
                      {Object.entries(counts(d.sizesBySource)[f] ?? {})
                        .map(([source, n]) => `${source} ${n}`)
                        .join(', ') || '—'}
                    </td>
                    <td>
                      {DATASET_SPLITS.map((s) => (
                        <a
                          key={s}
                          className="download"
                          href={`/v1/datasets/${d.id}/${s}.jsonl?format=${f}`}
                          download
                        >
                          {s}
                        </a>
                      ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </article>
      ))}
      {list.data?.nextCursor && (
        <button type="button" onClick={more}>
          Older datasets
        </button>
      )}
      {confirm && <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />}
    </section>
  );
}
