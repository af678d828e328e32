// What the chat collects without being asked, and the switch to turn it off (kept in this browser).
import { setSignalsEnabled, useSignalsEnabled } from '../settings.ts';
import { dropPendingSignals } from '../signals.ts';

const SIGNALS = [
  ['Copy', 'when you copy an answer, with the copy button or by selecting text'],
  ['Reading time', 'how long an answer was on screen while the page was open'],
  ['Expanding', 'when you open a long answer in full'],
  ['Regenerate', 'when you ask for another answer'],
  ['Stopping', 'when you stop an answer before it finishes'],
  ['Follow-up', 'when you reply to an answer'],
  ['Session end', 'when you leave or hide the page, and how long you stayed'],
];

export function SettingsPage() {
  const on = useSignalsEnabled();
  return (
    <main className="page" id="main">
      <h1>Settings</h1>
      <section aria-labelledby="signals-heading">
        <h2 id="signals-heading">Implicit signals</h2>
        <p>
          Besides your ratings, flags and corrections, the chat can record how you use answers. These signals
          help decide which answers were useful. They are linked to your account and the answer, never to
          anything outside this site.
        </p>
        <ul>
          {SIGNALS.map(([name, what]) => (
            <li key={name}>
              <strong>{name}</strong>: {what}
            </li>
          ))}
        </ul>
        <label className="switch">
          <input
            type="checkbox"
            checked={on}
            onChange={(e) => {
              if (!e.target.checked) dropPendingSignals();
              setSignalsEnabled(e.target.checked);
            }}
          />
          Collect implicit signals in this browser
        </label>
        <p role="status">
          {on
            ? 'Signals are collected.'
            : 'Signals are off: nothing is recorded until you turn them back on.'}
        </p>
      </section>
    </main>
  );
}
