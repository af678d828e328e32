// A word-level diff of two texts, rendered as text (removed words struck through, added words
// underlined), with screen-reader labels for both.
import { diffWordsWithSpace } from 'diff';

export function DiffView({ before, after, label }: { before: string; after: string; label: string }) {
  const parts = diffWordsWithSpace(before, after);
  return (
    <div className="diff" aria-label={label} role="group">
      {parts.map((part, i) =>
        part.added ? (
          <ins key={i} aria-label={`added: ${part.value}`}>
            {part.value}
          </ins>
        ) : part.removed ? (
          <del key={i} aria-label={`removed: ${part.value}`}>
            {part.value}
          </del>
        ) : (
          <span key={i}>{part.value}</span>
        ),
      )}
    </div>
  );
}
