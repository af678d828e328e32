// PII scrubbing in linear time: emails, payment-card-like numbers and phone numbers become
// placeholders. Hand-written scanners instead of regular expressions, because a backtracking
// engine spent quadratic time on the old email pattern (20k characters took 1.2 s) and thousands
// of steps per character on the old phone pattern over long digit runs. Each scanner looks at
// every character a bounded number of times; `work.steps` counts the looks, so tests can check
// the bound without a clock.

/** Characters inspected while scanning (optional instrumentation). */
export interface ScanWork {
  steps: number;
}

type Span = [start: number, end: number];

const isDigit = (c: number) => c >= 48 && c <= 57;
const isLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
/** Like `\w` in a JavaScript regular expression: ASCII letters, digits and `_`. */
const isWord = (c: number) => isDigit(c) || isLetter(c) || c === 95;
/** `[A-Za-z0-9._%+-]` */
const isLocal = (c: number) =>
  isDigit(c) || isLetter(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
/** `[A-Za-z0-9.-]` */
const isDomain = (c: number) => isDigit(c) || isLetter(c) || c === 46 || c === 45;
const DOT = 46;
const SPACE = 32;
const DASH = 45;
const PLUS = 43;
const OPEN = 40;
const CLOSE = 41;

function replaceSpans(text: string, spans: Span[], placeholder: (match: string) => string): string {
  if (spans.length === 0) return text;
  let out = '';
  let last = 0;
  for (const [start, end] of spans) {
    out += text.slice(last, start) + placeholder(text.slice(start, end));
    last = end;
  }
  return out + text.slice(last);
}

/**
 * Exactly what `/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g` matches, found in linear time:
 * from each `@`, the local part runs left (never into the previous match) and the domain runs
 * right; neither contains an `@`, so every character is looked at a bounded number of times.
 */
export function emailSpans(text: string, work: ScanWork = { steps: 0 }): Span[] {
  const spans: Span[] = [];
  const n = text.length;
  let previousEnd = 0;
  for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', Math.max(at + 1, previousEnd))) {
    let start = at;
    while (start > previousEnd && isLocal(text.charCodeAt(start - 1))) {
      start--;
      work.steps++;
    }
    if (start === at) continue;
    let domainEnd = at + 1;
    while (domainEnd < n && isDomain(text.charCodeAt(domainEnd))) {
      domainEnd++;
      work.steps++;
    }
    // The regex takes the whole domain run, then gives back characters until `\.[A-Za-z]{2,}`
    // matches: the last dot with at least one domain character before it and two letters after.
    for (let dot = domainEnd - 3; dot >= at + 2; dot--) {
      work.steps++;
      if (
        text.charCodeAt(dot) === DOT &&
        isLetter(text.charCodeAt(dot + 1)) &&
        isLetter(text.charCodeAt(dot + 2))
      ) {
        let end = dot + 3;
        while (end < domainEnd && isLetter(text.charCodeAt(end))) {
          end++;
          work.steps++;
        }
        spans.push([start, end]);
        previousEnd = end;
        break;
      }
    }
  }
  return spans;
}

/**
 * Exactly what `/\b\d(?:[ -]?\d){12,18}\b/g` matches (13 to 19 digits, single spaces or dashes
 * between them: the shape of a payment card number), found in linear time: a match starts at a
 * digit after a non-word character and is at most 37 characters long.
 */
export function cardSpans(text: string, work: ScanWork = { steps: 0 }): Span[] {
  const spans: Span[] = [];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    work.steps++;
    if (!isDigit(text.charCodeAt(i)) || (i > 0 && isWord(text.charCodeAt(i - 1)))) continue;
    // Ends after the 13th..19th digit; the longest one followed by a word boundary wins.
    let best = -1;
    let digits = 1;
    let p = i + 1;
    if (digits >= 13 && !(p < n && isWord(text.charCodeAt(p)))) best = p;
    while (digits < 19 && p < n) {
      work.steps++;
      const c = text.charCodeAt(p);
      let next: number;
      if (isDigit(c)) next = p + 1;
      else if ((c === SPACE || c === DASH) && p + 1 < n && isDigit(text.charCodeAt(p + 1))) next = p + 2;
      else break;
      digits++;
      p = next;
      if (digits >= 13 && !(p < n && isWord(text.charCodeAt(p)))) best = p;
    }
    if (best !== -1) {
      spans.push([i, best]);
      i = best - 1;
    }
  }
  return spans;
}

/** Longest digit run in a phone number's body; longer runs are ids or long numbers, not phones. */
const MAX_RUN = 20;
/** Digit runs in a phone number's body. */
const MAX_RUNS = 5;

/** The end of the digit run starting at `i`, or -1 if it is not 2 to MAX_RUN digits long. */
function digitRun(text: string, i: number, work: ScanWork): number {
  let end = i;
  while (end < text.length && isDigit(text.charCodeAt(end)) && end - i <= MAX_RUN) {
    end++;
    work.steps++;
  }
  const length = end - i;
  return length >= 2 && length <= MAX_RUN && !isDigit(text.charCodeAt(end)) ? end : -1;
}

/**
 * Phone numbers: an optional `+` and country code (1-3 digits), an optional area code in
 * parentheses (1-4 digits), each followed by at most one space, dot or dash, then one to five
 * whole runs of 2-20 digits joined by single spaces, dots or dashes, ending at a word boundary,
 * with at least `minDigits` digits in all. The runs are taken whole, so there is one way to read
 * a number and the scan is linear.
 */
export function phoneSpans(text: string, minDigits = 7, work: ScanWork = { steps: 0 }): Span[] {
  const spans: Span[] = [];
  const n = text.length;
  const isSeparator = (c: number) => c === SPACE || c === DOT || c === DASH;
  const skipSeparator = (p: number) => (p < n && isSeparator(text.charCodeAt(p)) ? p + 1 : p);
  for (let i = 0; i < n; i++) {
    work.steps++;
    const c = text.charCodeAt(i);
    if (!(c === PLUS || c === OPEN || (isDigit(c) && !(i > 0 && isDigit(text.charCodeAt(i - 1)))))) continue;
    let p = i;
    let digits = 0;
    if (c === PLUS) {
      let q = p + 1;
      while (q < n && q - p <= 3 && isDigit(text.charCodeAt(q))) q++;
      if (q === p + 1 || q - p > 4 || (q < n && isDigit(text.charCodeAt(q)))) continue;
      work.steps += q - p;
      digits += q - p - 1;
      p = skipSeparator(q);
    }
    if (p < n && text.charCodeAt(p) === OPEN) {
      let q = p + 1;
      while (q < n && q - p <= 4 && isDigit(text.charCodeAt(q))) q++;
      work.steps += q - p;
      if (q > p + 1 && q - p <= 5 && q < n && text.charCodeAt(q) === CLOSE) {
        digits += q - p - 1;
        p = skipSeparator(q + 1);
      } else if (c === OPEN) continue;
    }
    // Whole digit runs; the number ends after the last run followed by a word boundary.
    let end = -1;
    let endDigits = 0;
    let runs = 0;
    let q = p;
    while (runs < MAX_RUNS) {
      const runEnd = digitRun(text, q, work);
      if (runEnd === -1) break;
      runs++;
      digits += runEnd - q;
      if (!(runEnd < n && isWord(text.charCodeAt(runEnd)))) {
        end = runEnd;
        endDigits = digits;
      }
      if (!(runEnd + 1 < n && isSeparator(text.charCodeAt(runEnd)) && isDigit(text.charCodeAt(runEnd + 1))))
        break;
      q = runEnd + 1;
    }
    if (end === -1) continue;
    if (endDigits >= minDigits) spans.push([i, end]);
    i = end - 1;
  }
  return spans;
}

/** The text with emails, card-like numbers and phone numbers replaced by placeholders. */
export function scrubPii(text: string, work?: ScanWork): string {
  const withoutEmails = replaceSpans(text, emailSpans(text, work), () => '[EMAIL]');
  const withoutCards = replaceSpans(withoutEmails, cardSpans(withoutEmails, work), () => '[CARD]');
  return replaceSpans(withoutCards, phoneSpans(withoutCards, 7, work), () => '[PHONE]');
}
