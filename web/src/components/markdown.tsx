// Markdown a moderator wrote (queue guidelines), rendered safely: react-markdown builds React
// elements (never innerHTML); raw HTML in the text is shown as text, since no rehype-raw is used;
// javascript: and other unsafe link targets are dropped by its default URL transform; links open
// in a new tab without access to this one.
import Markdown from 'react-markdown';

export function SafeMarkdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <Markdown
        components={{
          a: ({ node: _node, ...props }) => <a {...props} target="_blank" rel="noopener noreferrer" />,
          // Images could load from anywhere: name them instead.
          img: ({ alt }) => <span className="muted">[image: {alt || 'no description'}]</span>,
        }}
      >
        {text}
      </Markdown>
    </div>
  );
}
