// A small SVG line chart: one or more series over a shared x axis, with a legend that states each
// series's size and last value for screen readers.
export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#be185d'];

function ticks(min: number, max: number, count = 4): number[] {
  if (min === max) return [min];
  return Array.from({ length: count + 1 }, (_, i) => min + ((max - min) * i) / count);
}

const short = (v: number) =>
  Math.abs(v) >= 1000
    ? `${(v / 1000).toFixed(1)}k`
    : Math.abs(v) < 0.01 && v !== 0
      ? v.toExponential(1)
      : `${+v.toFixed(3)}`;

export function LineChart({
  title,
  series,
  xLabel,
  formatX = short,
  height = 180,
}: {
  title: string;
  series: Series[];
  xLabel: string;
  formatX?: (x: number) => string;
  height?: number;
}) {
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y));
  const width = 520;
  const pad = { left: 48, right: 12, top: 10, bottom: 28 };
  if (all.length === 0) {
    return (
      <figure className="chart">
        <figcaption>{title}</figcaption>
        <p className="muted">No data yet.</p>
      </figure>
    );
  }
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const sx = (x: number) => pad.left + ((x - x0) / (x1 - x0 || 1)) * (width - pad.left - pad.right);
  const sy = (y: number) => pad.top + (1 - (y - y0) / (y1 - y0)) * (height - pad.top - pad.bottom);
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title}: line chart`}>
        {ticks(y0, y1).map((t) => (
          <g key={t}>
            <line x1={pad.left} x2={width - pad.right} y1={sy(t)} y2={sy(t)} className="grid" />
            <text x={pad.left - 4} y={sy(t) + 4} textAnchor="end" className="tick">
              {short(t)}
            </text>
          </g>
        ))}
        {ticks(x0, x1, 3).map((t) => (
          <text key={t} x={sx(t)} y={height - 8} textAnchor="middle" className="tick">
            {formatX(t)}
          </text>
        ))}
        {series.map((s, i) => {
          const pts = s.points.filter((p) => Number.isFinite(p.y));
          const colour = COLOURS[i % COLOURS.length];
          return (
            <g key={s.name}>
              <polyline
                fill="none"
                stroke={colour}
                strokeWidth={2}
                points={pts.map((p) => `${sx(p.x)},${sy(p.y)}`).join(' ')}
              />
              {pts.length === 1 && <circle cx={sx(pts[0]!.x)} cy={sy(pts[0]!.y)} r={3} fill={colour} />}
            </g>
          );
        })}
      </svg>
      <ul className="legend">
        {series.map((s, i) => (
          <li key={s.name}>
            <span className="swatch" style={{ background: COLOURS[i % COLOURS.length] }} aria-hidden="true" />
            {s.name} ({s.points.length} points, last {short(s.points.at(-1)?.y ?? NaN)})
          </li>
        ))}
      </ul>
      <span className="sr-only">{xLabel} on the horizontal axis.</span>
    </figure>
  );
}
