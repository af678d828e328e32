// `npm run bench:pii [-- --smoke]`: PII scrubbing time on inputs built to make a backtracking
// pattern crawl, the old regular expressions against the linear scanners of src/datasets/pii.ts.
// The old patterns are timed on 20k characters only (the email one is quadratic: 1 MB would take
// most of an hour); the scanners on 20k and 1 MB. Prints one JSON line last.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { scrubPii } from '../src/datasets/pii.ts';

const OLD_EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const OLD_CARD = /\b\d(?:[ -]?\d){12,18}\b/g;
const OLD_PHONE = /(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,4}\b/g;
const oldScrub = (text: string) =>
  text
    .replace(OLD_EMAIL, '[EMAIL]')
    .replace(OLD_CARD, '[CARD]')
    .replace(OLD_PHONE, (m) => (m.replace(/\D/g, '').length >= 7 ? '[PHONE]' : m));

const INPUTS: Record<string, (n: number) => string> = {
  letters: (n) => 'a'.repeat(n),
  dotless_domain: (n) => 'a@' + 'b'.repeat(n - 2),
  digits: (n) => '1'.repeat(n),
  prose: (n) =>
    'Mail x.y@example.org or call +1 555 123 4567 about order 42. '.repeat(n / 60 + 1).slice(0, n),
};

function time(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return Math.round((performance.now() - t0) * 10) / 10;
}

const { values } = parseArgs({ options: { smoke: { type: 'boolean', default: false } } });
const small = values.smoke ? 2_000 : 20_000;
const large = values.smoke ? 20_000 : 1 << 20;
console.error(
  `cpu: ${os.cpus()[0]?.model ?? 'unknown'} x${os.cpus().length}, load ${os.loadavg()[0]!.toFixed(2)}`,
);
const line: Record<string, unknown> = { bench: 'pii', small_chars: small, large_chars: large };
for (const [name, make] of Object.entries(INPUTS)) {
  const s = make(small);
  const l = make(large);
  line[`${name}_old_small_ms`] = time(() => oldScrub(s));
  line[`${name}_new_small_ms`] = time(() => scrubPii(s));
  line[`${name}_new_large_ms`] = time(() => scrubPii(l));
  console.error(
    name,
    line[`${name}_old_small_ms`],
    line[`${name}_new_small_ms`],
    line[`${name}_new_large_ms`],
  );
}
process.stdout.write(JSON.stringify(line) + '\n');
