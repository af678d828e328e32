// Evaluation reports: accuracy and bias of a version beside the active version's, the gate's
// decision with its reasons and checks, and the version actions (promote, reject, roll back).
import { useMemo, useState } from 'react';
import { useParams } from '@tanstack/react-router';
import { EstimateSchema, type Estimate } from '#contract/evaluation.ts';
import { reportList, type ReportRow } from '#contract/evaluation-reports.ts';
import { versionResponse, type ActivateModelBody, type ModelVersionView } from '#contract/model-versions.ts';
import { api, listModelVersions } from '../api.ts';
import { ConfirmDialog, type ConfirmRequest } from '../components/confirm-dialog.tsx';
import { Empty, ErrorNote, Loading } from '../components/status.tsx';
import { useLoad } from './use-load.ts';

/**
 * A measure as the page shows it: the report's `{value, n, interval}`, or a plain number; or a
 * measure the provider could not give (null in the report), with the report's reason.
 */
type Metric =
  (Pick<Estimate, 'value'> & Partial<Estimate> & { notAvailable?: never }) | { notAvailable: string };

const LABELS: Record<string, string> = {
  countryFactExactMatch: 'Country facts, exact match',
  countryFactRecall: 'Country facts, recall',
  definitionTokenF1: 'Definitions, token F1',
  perplexity: 'Perplexity (lower is better)',
  preferenceAccuracy: 'Agreement with human preferences',
  stereotypeShare: 'Stereotype share (0.5 is ideal)',
  nameSwapChangeRate: 'Answers changed by swapping names (0 is ideal)',
  groupAccuracyGap: 'Accuracy gap between name groups (0 is ideal)',
  sentimentGap: 'Sentiment gap between name groups (0 is ideal)',
};

/** The section's measures: estimates and proportions (EstimateSchema reads both), or plain numbers. */
function metrics(section: unknown, notAvailable: Record<string, string> = {}): Map<string, Metric> {
  const out = new Map<string, Metric>();
  if (!section || typeof section !== 'object') return out;
  for (const [key, v] of Object.entries(section)) {
    if (v === null) out.set(key, { notAvailable: notAvailable[key] ?? 'not measured' });
    else if (typeof v === 'number') out.set(key, { value: v });
    else {
      const estimate = EstimateSchema.safeParse(v);
      if (estimate.success) out.set(key, estimate.data);
    }
  }
  return out;
}

const fmt = (m: Metric | undefined) =>
  m === undefined
    ? '—'
    : m.notAvailable !== undefined
      ? 'not available'
      : `${+m.value.toFixed(4)}${m.interval ? ` [${+m.interval[0].toFixed(3)}, ${+m.interval[1].toFixed(3)}]` : ''}${m.n !== undefined ? ` n=${m.n}` : ''}`;

const show = (v: unknown) =>
  typeof v === 'number' ? +v.toFixed(4) : v === null || v === undefined ? '—' : String(v);

/** The reports tab: /dashboard/reports/<id> opens one report. */
export function ReportsRoute() {
  const { reportId } = useParams({ from: '/dashboard/reports/{-$reportId}' });
  return <ReportsPanel reportId={reportId ?? null} />;
}

export function ReportsPanel({ reportId }: { reportId: string | null }) {
  const versions = useLoad(listModelVersions);
  const reports = useLoad(() => api('/v1/reports?limit=20', reportList));
  const [selectedId, setSelectedId] = useState<string | null>(reportId);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [notice, setNotice] = useState('');
  const active = versions.data?.find((v) => v.status === 'active');
  const activeReports = useLoad(
    () =>
      active
        ? api(`/v1/reports?modelVersionId=${active.id}&limit=1`, reportList)
        : Promise.resolve({ reports: [], nextCursor: null }),
    [active?.id],
  );
  // The chosen report, else the newest one with a gate decision (a run also reports on the active version).
  const report =
    reports.data?.reports.find((r) => r.id === selectedId) ??
    reports.data?.reports.find((r) => r.gate) ??
    reports.data?.reports[0];
  const baseline = activeReports.data?.reports[0];

  const versionAction = (v: ModelVersionView | null, action: 'promote' | 'reject' | 'rollback') =>
    setConfirm({
      title:
        action === 'rollback'
          ? 'Roll back to the previous version?'
          : `${action === 'promote' ? 'Promote' : 'Reject'} ${v?.name}?`,
      body:
        action === 'promote'
          ? 'This version starts answering every user within seconds.'
          : action === 'reject'
            ? 'This candidate will not be served.'
            : 'The version that was active before the current one answers again.',
      confirmLabel: action === 'rollback' ? 'Roll back' : action === 'promote' ? 'Promote' : 'Reject',
      reason: true,
      async run(reason) {
        const path =
          action === 'rollback' ? '/v1/model-versions/rollback' : `/v1/model-versions/${v!.id}/${action}`;
        const { version } = await api(path, versionResponse, {
          body: { reason } satisfies ActivateModelBody,
        });
        setNotice(`${version.name} is now ${version.status}.`);
        versions.reload();
        reports.reload();
      },
    });

  return (
    <>
      <section aria-labelledby="versions-heading">
        <h2 id="versions-heading">Model versions</h2>
        <p role="status" className="notice">
          {notice}
        </p>
        <ErrorNote error={versions.error} onRetry={versions.reload} />
        {!versions.data && !versions.error && <Loading what="versions" />}
        {versions.data?.length === 0 && <Empty>No model versions are registered.</Empty>}
        {versions.data && versions.data.length > 0 && (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Status</th>
                  <th scope="col">Created</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {versions.data.map((v) => (
                  <tr key={v.id}>
                    <th scope="row">{v.name}</th>
                    <td>
                      <span className={`badge ${v.status}`}>{v.status}</span>
                    </td>
                    <td>{new Date(v.createdAt).toLocaleString()}</td>
                    <td>
                      {v.status === 'candidate' && (
                        <>
                          <button type="button" onClick={() => versionAction(v, 'promote')}>
                            Promote
                          </button>{' '}
                          <button type="button" onClick={() => versionAction(v, 'reject')}>
                            Reject
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <button type="button" onClick={() => versionAction(null, 'rollback')}>
          Roll back to the previous version
        </button>
      </section>

      <section aria-labelledby="reports-heading">
        <h2 id="reports-heading">Evaluation reports</h2>
        <ErrorNote error={reports.error} onRetry={reports.reload} />
        {!reports.data && !reports.error && <Loading what="reports" />}
        {reports.data?.reports.length === 0 && (
          <Empty>No reports yet. A training run writes one when it evaluates its candidate.</Empty>
        )}
        {reports.data && reports.data.reports.length > 0 && (
          <label>
            Report
            <select value={report?.id ?? ''} onChange={(e) => setSelectedId(e.target.value)}>
              {reports.data.reports.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.modelVersionName} · {new Date(r.createdAt).toLocaleString()}
                  {r.gate ? ` · ${r.gate.decision}` : ''}
                </option>
              ))}
            </select>
          </label>
        )}
        {report && (
          <ReportView report={report} baseline={baseline?.id === report.id ? undefined : baseline} />
        )}
      </section>
      {confirm && <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />}
    </>
  );
}

function ReportView({ report, baseline }: { report: ReportRow; baseline?: ReportRow }) {
  const sections = useMemo(
    () =>
      (['accuracy', 'bias'] as const).map((section) => {
        const mine = metrics(report.report[section], report.report.notAvailable);
        const theirs = baseline
          ? metrics(baseline.report[section], baseline.report.notAvailable)
          : new Map<string, Metric>();
        return { section, keys: [...new Set([...mine.keys(), ...theirs.keys()])], mine, theirs };
      }),
    [report, baseline],
  );
  return (
    <article className="card" aria-label={`Report on ${report.modelVersionName}`}>
      {report.gate ? (
        <div className={`gate ${report.gate.decision}`}>
          <h3>
            Gate decision: <strong data-testid="gate-decision">{report.gate.decision}</strong>
          </h3>
          <ul>
            {report.gate.reasons.map((r, i) => (
              <li key={i}>{r}</li>
            ))}
          </ul>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Check</th>
                  <th scope="col">Candidate</th>
                  <th scope="col">Active</th>
                  <th scope="col">Passed</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {report.gate.checks.map((c) => (
                  <tr key={c.name}>
                    <th scope="row">{c.name}</th>
                    <td>{show(c.candidate)}</td>
                    <td>{show(c.active)}</td>
                    <td className={c.passed === null ? 'muted' : c.passed ? 'good' : 'bad'}>
                      {c.passed === null ? 'unknown' : c.passed ? 'yes' : 'no'}
                    </td>
                    <td>{c.detail}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ) : (
        <p className="muted">This report has no gate decision.</p>
      )}
      <div className="charts">
        {sections.map(({ section, keys, mine, theirs }) =>
          keys.length === 0 ? (
            <p key={section} className="muted">
              No {section} figures in this report.
            </p>
          ) : (
            <figure key={section} className="chart wide">
              <figcaption>
                {section === 'accuracy' ? 'Accuracy' : 'Bias'}: {report.modelVersionName}
                {baseline ? ` beside ${baseline.modelVersionName} (active)` : ''}
              </figcaption>
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Measure</th>
                      <th scope="col">{report.modelVersionName}</th>
                      {baseline && <th scope="col">{baseline.modelVersionName} (active)</th>}
                    </tr>
                  </thead>
                  <tbody>
                    {keys.map((key) => {
                      const a = mine.get(key);
                      const b = theirs.get(key);
                      const valueOf = (m: Metric | undefined) =>
                        m && m.notAvailable === undefined ? m.value : 0;
                      const top = Math.max(1e-9, Math.abs(valueOf(a)), Math.abs(valueOf(b)));
                      const cell = (m: Metric | undefined, colour: string) => (
                        <td>
                          <span className="bar-cell">
                            {m && m.notAvailable === undefined && (
                              <span
                                className="bar"
                                aria-hidden="true"
                                style={{ width: `${(Math.abs(m.value) / top) * 6}rem`, background: colour }}
                              />
                            )}
                            <span title={m?.notAvailable}>{fmt(m)}</span>
                          </span>
                        </td>
                      );
                      return (
                        <tr key={key}>
                          <th scope="row">{LABELS[key] ?? key}</th>
                          {cell(a, '#2563eb')}
                          {baseline && cell(b, '#dc2626')}
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            </figure>
          ),
        )}
      </div>
    </article>
  );
}
