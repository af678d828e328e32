// A line chart on uPlot (canvas, fast with many thousands of points): one or more series over a
// shared x axis; drag across it to zoom, double-click to zoom out. The legend below states each
// series's size and last value, or its value under the cursor, for everyone including screen
// readers; each item carries the number of points uPlot was given (`data-points`).
import { useEffect, useMemo, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#be185d'];

const short = (v: number) =>
  !Number.isFinite(v)
    ? '—'
    : Math.abs(v) >= 1000
      ? `${(v / 1000).toFixed(1)}k`
      : Math.abs(v) < 0.01 && v !== 0
        ? v.toExponential(1)
        : `${+v.toFixed(3)}`;

/** uPlot's layout: the sorted union of every series's x, and each series's y there (null where it has none). */
function aligned(series: Series[]): uPlot.AlignedData {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const column: (number | null)[] = new Array(xs.length).fill(null);
    for (const p of s.points) if (Number.isFinite(p.y)) column[at.get(p.x)!] = p.y;
    return column;
  });
  return [xs, ...ys];
}

/** Tick spacings for an x that counts (steps): whole numbers only. */
export const COUNT_TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000];
const DAY_MS = 86_400_000;
/** Tick spacings for an x in epoch milliseconds at whole days. */
export const DAY_TICKS = [1, 2, 7, 14, 28, 56, 91, 182, 364].map((d) => d * DAY_MS);

function pointCounts(data: uPlot.AlignedData): number[] {
  return data.slice(1).map((column) => {
    let n = 0;
    for (const y of column) if (y != null) n++;
    return n;
  });
}

export function LineChart({
  title,
  series,
  xLabel,
  formatX = short,
  xTicks = COUNT_TICKS,
  height = 200,
}: {
  title: string;
  series: Series[];
  xLabel: string;
  /** How an x value reads (ticks and hover). */
  formatX?: (x: number) => string;
  /** The spacings ticks on x may have, smallest first (COUNT_TICKS or DAY_TICKS). */
  xTicks?: number[];
  height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const format = useRef(formatX);
  format.current = formatX;
  const data = useMemo(() => aligned(series), [series]);
  const empty = data[0].length === 0;
  // A new set of series (or none) builds a new plot; new points only update it.
  const names = series.map((s) => s.name).join('\n');
  const [counts, setCounts] = useState<number[] | null>(null);
  const [hover, setHover] = useState<number | null>(null);
  /** The x range shown while zoomed in; null when everything is. */
  const [zoom, setZoom] = useState<[number, number] | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el || empty) return;
    const u = new uPlot(
      {
        width: Math.max(240, el.clientWidth),
        height,
        legend: { show: false },
        cursor: { drag: { x: true, y: false } },
        scales: {
          x: {
            time: false,
            // One x value still gets an axis: a tick's width either side (uPlot's own padding
            // around a single value is far wider than any tick).
            range: (self, min, max) => {
              const xs = self.data[0];
              return xs.length === 1 ? [xs[0]! - xTicks[0]!, xs[0]! + xTicks[0]!] : [min, max];
            },
          },
        },
        series: [
          { label: xLabel },
          ...names.split('\n').map((label, i) => ({
            label,
            stroke: COLOURS[i % COLOURS.length],
            width: 2,
            spanGaps: true,
          })),
        ],
        axes: [
          { label: xLabel, incrs: xTicks, values: (_u, splits) => splits.map((x) => format.current(x)) },
          { values: (_u, splits) => splits.map(short), size: 56 },
        ],
        hooks: {
          setCursor: [(self) => setHover(self.cursor.idx ?? null)],
          setScale: [
            (self, key) => {
              if (key !== 'x') return;
              const xs = self.data[0];
              const { min, max } = self.scales.x ?? {};
              const zoomed =
                xs.length > 1 && min != null && max != null && (min > xs[0]! || max < xs[xs.length - 1]!);
              setZoom(zoomed ? [min, max] : null);
            },
          ],
        },
      },
      [[]],
      el,
    );
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(240, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
      setCounts(null);
    };
  }, [names, empty, xTicks, height, xLabel]);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    // Zoomed in, new points do not move the view; otherwise it follows the data.
    const shown = u.data[0];
    const { min, max } = u.scales.x ?? {};
    const zoomed =
      shown.length > 1 && min != null && max != null && (min > shown[0]! || max < shown[shown.length - 1]!);
    u.setData(data, !zoomed);
    setCounts(pointCounts(u.data));
  }, [data, names, empty]);

  if (empty) {
    return (
      <figure className="chart">
        <figcaption>{title}</figcaption>
        <p className="muted">No data yet.</p>
      </figure>
    );
  }
  const hoverX = hover === null ? undefined : data[0][hover];
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} className="plot" role="img" aria-label={`${title}: line chart, ${xLabel} across`} />
      <p className="muted hint">
        {hoverX !== undefined
          ? `${xLabel} ${format.current(hoverX)}`
          : zoom
            ? `Showing ${xLabel.toLowerCase()} ${format.current(zoom[0])} to ${format.current(zoom[1])}; double-click to zoom out.`
            : 'Drag across the chart to zoom in, double-click to zoom out.'}
      </p>
      <ul className="legend">
        {series.map((s, i) => {
          const y = hover === null ? undefined : data[i + 1]?.[hover];
          return (
            <li key={s.name} data-series={s.name} data-points={counts?.[i]}>
              <span
                className="swatch"
                style={{ background: COLOURS[i % COLOURS.length] }}
                aria-hidden="true"
              />
              {hover !== null
                ? `${s.name}: ${y == null ? '—' : short(y)}`
                : `${s.name}${counts ? ` (${counts[i]} points, last ${short(s.points.at(-1)?.y ?? NaN)})` : ''}`}
            </li>
          );
        })}
      </ul>
    </figure>
  );
}
