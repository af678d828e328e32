// Traffic split and arena: the current split's versions side by side (GET
// /v1/serving/traffic/comparison): each rate with its 95% interval, the difference from the
// baseline with its interval and p-value, and the thumbs ratings still needed for the chosen effect;
// then the arena leaderboard (GET /v1/arena/leaderboard).
import { useState } from 'react';
import {
  COMPARED_METRICS,
  splitComparisonView,
  type ComparedMetric,
  type ComparisonEstimate,
} from '#contract/traffic.ts';
import { leaderboardView } from '#contract/arena.ts';
import { api } from '../api.ts';
import { Empty, ErrorNote, Loading } from '../components/status.tsx';
import { useLoad } from './use-load.ts';

const LABELS: Record<ComparedMetric, string> = {
  thumbsUpRate: 'Thumbs-up rate',
  meanStars: 'Mean stars',
  correctionRate: 'Correction rate',
  regenerateRate: 'Regenerate rate',
  copyRate: 'Copy rate',
  harmfulFlagRate: 'Harmful-flag rate',
};

const isRate = (metric: ComparedMetric) => metric !== 'meanStars';
const format = (metric: ComparedMetric, v: number) =>
  isRate(metric) ? `${(v * 100).toFixed(1)}%` : v.toFixed(2);
const formatDiff = (metric: ComparedMetric, v: number) =>
  isRate(metric) ? `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)} pts` : `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;

function Estimate({ metric, e }: { metric: ComparedMetric; e: ComparisonEstimate }) {
  if (e.value === null) return <span className="muted">no data</span>;
  return (
    <span>
      {format(metric, e.value)}{' '}
      <span className="muted">
        [{format(metric, e.low!)}, {format(metric, e.high!)}] n={e.n}
      </span>
    </span>
  );
}

export function ServingPanel() {
  const [effect, setEffect] = useState(0.05);
  const comparison = useLoad(
    () => api(`/v1/serving/traffic/comparison?effect=${effect}`, splitComparisonView),
    [effect],
  );
  const board = useLoad(() => api('/v1/arena/leaderboard', leaderboardView));
  const data = comparison.data;

  return (
    <>
      <section className="panel" aria-label="Traffic split">
        <h2>Traffic split</h2>
        <ErrorNote error={comparison.error} onRetry={comparison.reload} />
        {!data && !comparison.error && <Loading what="the split" />}
        {data && !data.split && (
          <Empty>
            No traffic split: every request that names no model goes to the active version. Set one with PUT
            /v1/serving/traffic.
          </Empty>
        )}
        {data?.split && (
          <>
            <p>
              Since {data.split.createdAt.toLocaleString()}: {data.split.reason}
            </p>
            <label>
              Effect to detect on the thumbs-up rate
              <select value={effect} onChange={(e) => setEffect(Number(e.target.value))}>
                {[0.02, 0.05, 0.1].map((v) => (
                  <option key={v} value={v}>
                    {v * 100} points
                  </option>
                ))}
              </select>
            </label>
            <div className="table-wrap">
              <table aria-label="Split comparison">
                <thead>
                  <tr>
                    <th scope="col">Measure</th>
                    {data.arms.map((arm) => (
                      <th scope="col" key={arm.versionId}>
                        {arm.version} ({(arm.share * 100).toFixed(0)}%){arm.baseline ? ', baseline' : ''}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  <tr>
                    <th scope="row">Answers</th>
                    {data.arms.map((arm) => (
                      <td key={arm.versionId}>{arm.answers}</td>
                    ))}
                  </tr>
                  {COMPARED_METRICS.map((metric) => (
                    <tr key={metric}>
                      <th scope="row">{LABELS[metric]}</th>
                      {data.arms.map((arm) => {
                        const d = arm.differences.find((x) => x.metric === metric);
                        return (
                          <td key={arm.versionId}>
                            <Estimate metric={metric} e={arm.metrics[metric]} />
                            {d && d.value !== null && (
                              <div className="muted">
                                vs baseline {formatDiff(metric, d.value)} [{formatDiff(metric, d.low!)},{' '}
                                {formatDiff(metric, d.high!)}], p={d.pValue!.toFixed(3)}
                              </div>
                            )}
                          </td>
                        );
                      })}
                    </tr>
                  ))}
                  <tr>
                    <th scope="row">Thumbs ratings still needed</th>
                    {data.arms.map((arm) => (
                      <td key={arm.versionId}>
                        {arm.thumbsNeeded}{' '}
                        <span className="muted">of {arm.thumbsPerArmForEffect} per version</span>
                      </td>
                    ))}
                  </tr>
                </tbody>
              </table>
            </div>
          </>
        )}
      </section>

      <section className="panel" aria-label="Arena leaderboard">
        <h2>Arena leaderboard</h2>
        <ErrorNote error={board.error} onRetry={board.reload} />
        {!board.data && !board.error && <Loading what="the leaderboard" />}
        {board.data?.versions.length === 0 && (
          <Empty>No arena votes yet. Users vote in the chat's compare mode.</Empty>
        )}
        {board.data && board.data.versions.length > 0 && (
          <>
            <p className="muted">
              {board.data.battles} voted battles. {board.data.method}.
            </p>
            <div className="table-wrap">
              <table aria-label="Leaderboard">
                <thead>
                  <tr>
                    <th scope="col">Version</th>
                    <th scope="col">Rating [95% interval]</th>
                    <th scope="col">Battles</th>
                    <th scope="col">Wins</th>
                    <th scope="col">Ties</th>
                    <th scope="col">Losses</th>
                  </tr>
                </thead>
                <tbody>
                  {board.data.versions.map((v) => (
                    <tr key={v.versionId}>
                      <th scope="row">{v.version}</th>
                      <td>
                        {v.rating.toFixed(0)}{' '}
                        <span className="muted">
                          [{v.low.toFixed(0)}, {v.high.toFixed(0)}]
                        </span>
                      </td>
                      <td>{v.battles}</td>
                      <td>{v.wins}</td>
                      <td>{v.ties}</td>
                      <td>{v.losses}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </section>
    </>
  );
}
