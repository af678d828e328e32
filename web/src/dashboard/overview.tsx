// Feedback volume over time by kind and model version, and per-version online metrics with 95%
// intervals (GET /v1/insights/volume and /metrics).
import { useMemo, useState } from 'react';
import { metricsView, volumeView, type EstimateView, type VersionMetricsView } from '#contract/insights.ts';
import { api } from '../api.ts';
import { DAY_TICKS, LineChart } from '../components/line-chart.tsx';
import { Empty, ErrorNote, Loading } from '../components/status.tsx';
import { useLoad } from './use-load.ts';

const METRICS = [
  { key: 'thumbsUpRate', label: 'Thumbs-up rate', rate: true },
  { key: 'meanStars', label: 'Mean stars', rate: false },
  { key: 'correctionRate', label: 'Correction rate', rate: true },
  { key: 'regenerateRate', label: 'Regenerate rate', rate: true },
  { key: 'copyRate', label: 'Copy rate', rate: true },
] as const satisfies readonly { key: keyof VersionMetricsView; label: string; rate: boolean }[];

const KIND_LABELS: Record<string, string> = {
  thumbs_up: 'thumbs up',
  thumbs_down: 'thumbs down',
  event_copy: 'copies',
  event_dwell: 'dwell',
  event_expand: 'expands',
  event_regenerate: 'regenerations',
  event_abandon: 'abandoned',
  event_follow_up: 'follow-ups',
  event_session_end: 'session ends',
};

function formatEstimate(e: EstimateView, rate: boolean) {
  if (e.value === null) return <span className="muted">no data</span>;
  const f = (v: number) => (rate ? `${(v * 100).toFixed(1)}%` : v.toFixed(2));
  return (
    <span title={`95% interval ${f(e.low!)} to ${f(e.high!)}, from ${e.n} observations`}>
      {f(e.value)}{' '}
      <span className="muted">
        [{f(e.low!)}, {f(e.high!)}] n={e.n}
      </span>
    </span>
  );
}

export function OverviewPanel() {
  const [days, setDays] = useState(30);
  const [version, setVersion] = useState('');
  const volume = useLoad(() => api(`/v1/insights/volume?days=${days}`, volumeView), [days]);
  const metrics = useLoad(() => api(`/v1/insights/metrics?days=${days}`, metricsView), [days]);

  const series = useMemo(() => {
    const byKind = new Map<string, Map<number, number>>();
    for (const p of volume.data?.points ?? []) {
      if (version && p.modelVersionId !== version) continue;
      const x = Date.parse(`${p.day}T00:00:00Z`);
      const m = byKind.get(p.kind) ?? new Map<number, number>();
      m.set(x, (m.get(x) ?? 0) + p.count);
      byKind.set(p.kind, m);
    }
    return [...byKind].map(([kind, m]) => ({
      name: KIND_LABELS[kind] ?? kind,
      points: [...m].sort((a, b) => a[0] - b[0]).map(([x, y]) => ({ x, y })),
    }));
  }, [volume.data, version]);

  return (
    <>
      <div className="filters">
        <label>
          Period
          <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
            <option value={7}>Last 7 days</option>
            <option value={30}>Last 30 days</option>
            <option value={90}>Last 90 days</option>
          </select>
        </label>
        <label>
          Model version
          <select value={version} onChange={(e) => setVersion(e.target.value)}>
            <option value="">All versions</option>
            {volume.data?.versions.map((v) => (
              <option key={v.id} value={v.id}>
                {v.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <section aria-labelledby="volume-heading">
        <h2 id="volume-heading">Feedback volume per day</h2>
        <ErrorNote error={volume.error} onRetry={volume.reload} />
        {!volume.data && !volume.error && <Loading what="feedback volume" />}
        {volume.data && series.length === 0 && <Empty>No feedback in this period yet.</Empty>}
        {series.length > 0 && (
          <LineChart
            title="Feedback per day by kind"
            xLabel="Day"
            series={series}
            xTicks={DAY_TICKS}
            formatX={(x) => new Date(x).toISOString().slice(5, 10)}
          />
        )}
      </section>
      <section aria-labelledby="metrics-heading">
        <h2 id="metrics-heading">Online metrics per version</h2>
        <p className="muted">Point estimate, [95% interval] and the number of observations.</p>
        <ErrorNote error={metrics.error} onRetry={metrics.reload} />
        {metrics.data?.versions.length === 0 && <Empty>No answers from any version in this period.</Empty>}
        {metrics.data && metrics.data.versions.length > 0 && (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Answers</th>
                  {METRICS.map((m) => (
                    <th key={m.key} scope="col">
                      {m.label}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {metrics.data.versions.map((v) => (
                  <tr key={v.modelVersionId}>
                    <th scope="row">
                      {v.name} <span className={`badge ${v.status}`}>{v.status}</span>
                    </th>
                    <td>{v.answers}</td>
                    {METRICS.map((m) => (
                      <td key={m.key}>{formatEstimate(v[m.key], m.rate)}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
