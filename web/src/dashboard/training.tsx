// Training runs: the schedule (pause, resume, change), starting a run, and one run's phase,
// progress, loss / learning-rate / gradient-norm curves (live over /v1/loop/socket) and logs.
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { Link } from '@tanstack/react-router';
import {
  loopServerMessage,
  runDetail,
  runList,
  runResponse,
  scheduleView,
  type CreateRunBody,
  type LoopClientMessage,
  type ProgressPoint,
  type RunDetail,
  type SchedulePatchBody,
} from '#contract/loop.ts';
import { api } from '../api.ts';
import { ConfirmDialog, type ConfirmRequest } from '../components/confirm-dialog.tsx';
import { LineChart, type Series } from '../components/line-chart.tsx';
import { Empty, ErrorNote, Loading } from '../components/status.tsx';
import { useLoad } from './use-load.ts';

export function TrainingPanel() {
  const runs = useLoad(() => api('/v1/loop/runs?limit=20', runList));
  const [selected, setSelected] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [notice, setNotice] = useState('');
  const runId = selected ?? runs.data?.runs[0]?.id ?? null;
  /** The next page of runs, appended. */
  const more = () => {
    const shown = runs.data;
    if (!shown?.nextCursor) return;
    api(`/v1/loop/runs?limit=20&cursor=${encodeURIComponent(shown.nextCursor)}`, runList).then(
      (page) => runs.setData({ runs: [...shown.runs, ...page.runs], nextCursor: page.nextCursor }),
      () => setNotice('Could not load older runs.'),
    );
  };

  const start = () =>
    setConfirm({
      title: 'Start a training run?',
      body: 'Builds datasets from approved feedback, fine-tunes a candidate, evaluates it and lets the gate decide whether to promote it.',
      confirmLabel: 'Start run',
      reason: true,
      async run(reason) {
        const { run } = await api('/v1/loop/runs', runResponse, { body: { reason } satisfies CreateRunBody });
        setNotice(`Run ${run.id.slice(0, 8)} is ${run.status}.`);
        setSelected(run.id);
        runs.reload();
      },
    });

  return (
    <>
      <ScheduleSection onConfirm={setConfirm} />
      <section aria-labelledby="runs-heading">
        <h2 id="runs-heading">Training runs</h2>
        <button type="button" className="primary" onClick={start}>
          Start a training run
        </button>
        <p role="status" className="notice">
          {notice}
        </p>
        <ErrorNote error={runs.error} onRetry={runs.reload} />
        {!runs.data && !runs.error && <Loading what="runs" />}
        {runs.data?.runs.length === 0 && <Empty>No runs yet. Start one with the button above.</Empty>}
        {runs.data && runs.data.runs.length > 0 && (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Status</th>
                  <th scope="col">Phase</th>
                  <th scope="col">Trigger</th>
                  <th scope="col">Started</th>
                  <th scope="col">Decision</th>
                </tr>
              </thead>
              <tbody>
                {runs.data.runs.map((r) => (
                  <tr key={r.id} className={r.id === runId ? 'selected' : undefined}>
                    <th scope="row">
                      <button
                        type="button"
                        className="link"
                        onClick={() => setSelected(r.id)}
                        aria-pressed={r.id === runId}
                      >
                        {r.id.slice(0, 8)}
                      </button>
                    </th>
                    <td>
                      <span className={`badge ${r.status}`}>{r.status}</span>
                    </td>
                    <td>{r.phase}</td>
                    <td>{r.trigger}</td>
                    <td>{new Date(r.startedAt ?? r.createdAt).toLocaleString()}</td>
                    <td>{r.decision ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {runs.data.nextCursor && (
              <button type="button" onClick={more}>
                Older runs
              </button>
            )}
          </div>
        )}
      </section>
      {runId && <RunView key={runId} runId={runId} onRunChanged={runs.reload} onConfirm={setConfirm} />}
      {confirm && <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />}
    </>
  );
}

function ScheduleSection({ onConfirm }: { onConfirm(request: ConfirmRequest): void }) {
  const schedule = useLoad(() => api('/v1/loop/schedule', scheduleView));
  const [cron, setCron] = useState('');
  const [threshold, setThreshold] = useState('');
  const s = schedule.data;
  useEffect(() => {
    if (s) {
      setCron(s.cron);
      setThreshold(String(s.feedbackThreshold));
    }
  }, [s]);

  const toggle = () =>
    s &&
    onConfirm({
      title: s.enabled ? 'Pause the schedule?' : 'Resume the schedule?',
      body: s.enabled
        ? 'No run starts on its own until you resume. Runs you start by hand still work.'
        : 'Runs start again on the schedule and when enough new feedback is approved.',
      confirmLabel: s.enabled ? 'Pause' : 'Resume',
      async run() {
        schedule.setData(
          await api(`/v1/loop/schedule/${s.enabled ? 'pause' : 'resume'}`, scheduleView, { method: 'POST' }),
        );
      },
    });

  const save = (e: FormEvent) => {
    e.preventDefault();
    onConfirm({
      title: 'Change the schedule?',
      body: `Runs will start on "${cron}" and after ${threshold} newly approved feedback items.`,
      confirmLabel: 'Save schedule',
      async run() {
        schedule.setData(
          await api('/v1/loop/schedule', scheduleView, {
            method: 'PUT',
            body: { cron, feedbackThreshold: Number(threshold) } satisfies SchedulePatchBody,
          }),
        );
      },
    });
  };

  return (
    <section aria-labelledby="schedule-heading">
      <h2 id="schedule-heading">Schedule</h2>
      <ErrorNote error={schedule.error} onRetry={schedule.reload} />
      {!s && !schedule.error && <Loading what="the schedule" />}
      {s && (
        <>
          <p>
            <span className={`badge ${s.enabled ? 'succeeded' : 'paused'}`}>
              {s.enabled ? 'running' : 'paused'}
            </span>{' '}
            Next run: {s.nextRunAt ? new Date(s.nextRunAt).toLocaleString() : 'none planned'} ·{' '}
            {s.newApprovedFeedbackSinceLastRun} of {s.feedbackThreshold} new approved feedback since the last
            run
          </p>
          <p className="muted">
            Training overrides for every run:{' '}
            <code>
              {Object.keys(s.training ?? {}).length ? JSON.stringify(s.training) : 'none (the defaults)'}
            </code>
            {s.updatedBy && <> · last changed by {s.updatedBy}</>}
          </p>
          <form className="row" onSubmit={save} aria-label="Change the schedule">
            <label>
              Cron
              <input
                value={cron}
                onChange={(e) => setCron(e.target.value)}
                title="e.g. 0 3 * * * for 03:00 daily"
              />
            </label>
            <label>
              Feedback threshold
              <input type="number" min={1} value={threshold} onChange={(e) => setThreshold(e.target.value)} />
            </label>
            <button type="submit">Save schedule</button>
            <button type="button" onClick={toggle}>
              {s.enabled ? 'Pause schedule' : 'Resume schedule'}
            </button>
          </form>
        </>
      )}
    </section>
  );
}

function RunView({
  runId,
  onRunChanged,
  onConfirm,
}: {
  runId: string;
  onRunChanged(): void;
  onConfirm(request: ConfirmRequest): void;
}) {
  const [detail, setDetail] = useState<RunDetail | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState(false);

  useEffect(() => {
    let closed = false;
    let ws: WebSocket | null = null;
    // The socket opens once the run is known to exist: an unknown run shows one error in the page.
    const listen = () => {
      ws = new WebSocket(
        `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/v1/loop/socket`,
      );
      ws.onopen = () => {
        setLive(true);
        ws?.send(JSON.stringify({ type: 'subscribe', runId } satisfies LoopClientMessage));
      };
      ws.onclose = () => setLive(false);
      ws.onmessage = (event) => {
        let data: unknown;
        try {
          data = JSON.parse(String(event.data));
        } catch {
          return;
        }
        const parsed = loopServerMessage.safeParse(data);
        if (!parsed.success) return;
        const message = parsed.data;
        if (message.type === 'progress' && message.point.runId === runId) {
          const point = message.point;
          setDetail((d) =>
            d && !d.progress.some((q) => key(q) === key(point))
              ? { ...d, progress: [...d.progress, point] }
              : d,
          );
        } else if (message.type === 'run' && message.run.id === runId) {
          const run = message.run;
          setDetail((d) => (d ? { ...d, run } : d));
          onRunChanged();
          // Logs are not streamed: a change of status or phase is the moment to fetch them again.
          api(`/v1/loop/runs/${runId}`, runDetail).then(
            (again) => !closed && setDetail((prev) => mergeDetail(again, prev)),
            () => {},
          );
        }
      };
    };
    api(`/v1/loop/runs/${runId}`, runDetail).then(
      (d) => {
        if (closed) return;
        setDetail(d);
        listen();
        // Points written between the fetch and the subscription: fetch once more to fill the gap.
        api(`/v1/loop/runs/${runId}`, runDetail).then(
          (again) => !closed && setDetail((prev) => mergeDetail(again, prev)),
          () => {},
        );
      },
      (err) => !closed && setError(err),
    );
    return () => {
      closed = true;
      ws?.close();
    };
  }, [runId, onRunChanged]);

  const curves = useMemo(() => curvesOf(detail?.progress ?? []), [detail]);

  if (error) return <ErrorNote error={error} />;
  if (!detail) return <Loading what="the run" />;
  const { run, logs } = detail;
  const last = detail.progress.at(-1);
  const fraction = last && last.totalSteps > 0 ? last.step / last.totalSteps : 0;
  return (
    <section aria-labelledby="run-heading" className="card">
      <h2 id="run-heading">
        Run {run.id.slice(0, 8)} <span className={`badge ${run.status}`}>{run.status}</span>
      </h2>
      <p>
        Phase: <strong data-testid="run-phase">{run.phase}</strong>
        {run.reason && <> · Reason: {run.reason}</>} · {live ? 'live updates on' : 'live updates off'}
      </p>
      {run.error && <p className="error">{run.error}</p>}
      {(run.status === 'queued' || run.status === 'running') && (
        <button
          type="button"
          onClick={() =>
            onConfirm({
              title: 'Cancel this run?',
              body: 'Training stops within about a second; nothing from this run is promoted.',
              confirmLabel: 'Cancel run',
              reason: true,
              async run(reason) {
                const { run: cancelled } = await api(`/v1/loop/runs/${run.id}/cancel`, runResponse, {
                  body: { reason },
                });
                setDetail((d) => (d ? { ...d, run: cancelled } : d));
                onRunChanged();
              },
            })
          }
        >
          Cancel run
        </button>
      )}
      {last && (
        <label className="progress">
          Progress in {last.phase}: step {last.step} of {last.totalSteps}
          <progress max={1} value={fraction} />
        </label>
      )}
      {run.decision && (
        <p>
          Gate decision: <strong>{run.decision}</strong>
          {run.reportId && (
            <>
              {' '}
              ·{' '}
              <Link to="/dashboard/reports/{-$reportId}" params={{ reportId: run.reportId }}>
                Open the report
              </Link>
            </>
          )}
        </p>
      )}
      <div className="charts">
        <LineChart title="Loss" xLabel="Step" formatX={step} series={curves.loss} />
        <LineChart title="Learning rate" xLabel="Step" formatX={step} series={curves.lr} />
        <LineChart title="Gradient norm" xLabel="Step" formatX={step} series={curves.grad} />
        {curves.preference.length > 0 && (
          <LineChart title="DPO and KTO metrics" xLabel="Step" formatX={step} series={curves.preference} />
        )}
      </div>
      <h3>Logs</h3>
      {logs.length === 0 ? (
        <p className="muted">No log lines yet.</p>
      ) : (
        <ol className="logs" aria-label="Run logs">
          {logs.map((l, i) => (
            <li key={i} className={l.level}>
              <time>{new Date(l.at).toLocaleTimeString()}</time> [{l.level}] {l.message}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

const step = (x: number) => String(Math.round(x));

const METRIC_LABELS: Record<string, string> = {
  rewardsChosen: 'reward of chosen',
  rewardsRejected: 'reward of rejected',
  margins: 'reward margin',
  accuracies: 'preference accuracy',
  kl: 'KL estimate',
};

/**
 * The run's curves: one line per method and measure, x the method's own step. The validation loss
 * before the first step is a `validating` point at step 0.
 */
function curvesOf(progress: ProgressPoint[]) {
  const points = progress.filter((p) => p.phase === 'training' || p.phase === 'validating');
  const methods = [...new Set(points.map((p) => p.method ?? ''))];
  const series = (label: string, pick: (p: ProgressPoint) => number | undefined): Series[] =>
    methods
      .map((method) => ({
        name: method ? `${method} ${label}` : label,
        points: points.flatMap((p) => {
          const y = pick(p);
          return (p.method ?? '') === method && typeof y === 'number' ? [{ x: p.step, y }] : [];
        }),
      }))
      .filter((s) => s.points.length);
  const training = (pick: (p: ProgressPoint) => number | undefined) => (p: ProgressPoint) =>
    p.phase === 'training' ? pick(p) : undefined;
  const metricNames = [...new Set(points.flatMap((p) => Object.keys(p.metrics ?? {})))];
  return {
    loss: [
      ...series(
        'training loss',
        training((p) => p.loss),
      ),
      ...series('validation loss', (p) => p.valLoss),
    ],
    lr: series(
      'learning rate',
      training((p) => p.lr),
    ),
    grad: series(
      'gradient norm',
      training((p) => p.gradNorm),
    ),
    preference: metricNames.flatMap((name) =>
      series(
        METRIC_LABELS[name] ?? name,
        training((p) => p.metrics?.[name]),
      ),
    ),
  };
}
/** A progress point's identity: a method's step within a phase. */
const key = (p: ProgressPoint) => `${p.phase}:${p.method ?? ''}:${p.step}`;

/** Keeps points that arrived over the socket before the first fetch answered. */
function mergeDetail(fetched: RunDetail, prev: RunDetail | null): RunDetail {
  if (!prev) return fetched;
  const seen = new Set(fetched.progress.map(key));
  return {
    ...fetched,
    progress: [...fetched.progress, ...prev.progress.filter((p) => !seen.has(key(p)))],
  };
}
