// The chat: conversations on the left, the selected branch of the current conversation on the
// right, answers streaming token by token, and feedback on every answer.
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { Link, useNavigate } from '@tanstack/react-router';
import {
  conversationPage,
  conversationView,
  type ConversationSummaryView,
  type ConversationView,
  type TreeMessageView,
} from '#contract/conversations.ts';
import { api } from '../api.ts';
import { useChatSocket, type ChatServerMessage } from '../chat-socket.ts';
import { AnswerCard } from '../components/answer-card.tsx';
import { ArenaPanel } from '../components/arena-battle.tsx';
import { Empty, ErrorNote, Loading } from '../components/status.tsx';
import { recordSignal } from '../signals.ts';

interface Streaming {
  requestId: string;
  kind: 'generate' | 'regenerate';
  /** The prompt's text (generate) shown before the server has stored it. */
  prompt?: string;
  /** The user message the answer replies to, once known. */
  userMessageId?: string;
  messageId?: string;
  text: string;
  stopping?: boolean;
}

/** The messages along the selected branch: from the root, at each step the chosen (or newest) child. */
function selectedPath(messages: TreeMessageView[], selected: Record<string, string>): TreeMessageView[] {
  const children = new Map<string, TreeMessageView[]>();
  for (const m of messages) {
    const key = m.parentId ?? 'root';
    children.set(key, [...(children.get(key) ?? []), m]);
  }
  const path: TreeMessageView[] = [];
  let key = 'root';
  for (;;) {
    const options = children.get(key);
    if (!options?.length) break;
    const next = options.find((m) => m.id === selected[key]) ?? options.at(-1)!;
    path.push(next);
    key = next.id;
  }
  return path;
}

/** The conversation shown: as loaded, or a new one whose messages are still on their way. */
type Shown = Pick<ConversationView, 'id' | 'messages'>;

export function ChatPage({ conversationId }: { conversationId: string | null }) {
  const navigate = useNavigate();
  const [list, setList] = useState<ConversationSummaryView[] | null>(null);
  const [listError, setListError] = useState<unknown>(null);
  const [conversation, setConversation] = useState<Shown | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [selected, setSelected] = useState<Record<string, string>>({});
  const [streaming, setStreaming] = useState<Streaming | null>(null);
  const [sendError, setSendError] = useState<unknown>(null);
  const [draft, setDraft] = useState('');
  /** Compare mode: the prompt goes to two unnamed versions (the arena) instead of this conversation. */
  const [comparing, setComparing] = useState(false);
  const streamingRef = useRef<Streaming | null>(null);
  streamingRef.current = streaming;

  const loadList = useCallback(() => {
    api('/v1/conversations?limit=50', conversationPage).then((r) => {
      setList(r.conversations);
      setListError(null);
    }, setListError);
  }, []);

  const loadConversation = useCallback(async (id: string) => {
    try {
      setConversation(await api(`/v1/conversations/${id}`, conversationView));
      setLoadError(null);
    } catch (err) {
      setLoadError(err);
    }
  }, []);

  useEffect(loadList, [loadList]);
  useEffect(() => {
    if (conversationId) {
      if (conversation?.id !== conversationId) void loadConversation(conversationId);
    } else {
      setConversation(null);
      setSelected({});
    }
  }, [conversationId, loadConversation]);

  const onServerMessage = useCallback(
    (message: ChatServerMessage) => {
      const current = streamingRef.current;
      if (
        message.type === 'error' &&
        (message.requestId === null || message.requestId === current?.requestId)
      ) {
        setSendError(new Error(message.error.message));
        setStreaming(null);
        return;
      }
      if (!current || message.requestId !== current.requestId) return;
      if (message.type === 'started') {
        setStreaming({ ...current, userMessageId: message.userMessageId, messageId: message.messageId });
        if (message.conversationId !== conversationId) {
          // A new conversation: show it in the address bar; its messages arrive with `done`.
          setConversation({ id: message.conversationId, messages: [] });
          void navigate({
            to: '/chat/{-$conversationId}',
            params: { conversationId: message.conversationId },
          });
        }
      } else if (message.type === 'token') {
        setStreaming({ ...current, text: current.text + message.delta });
      } else if (message.type === 'done') {
        const conv = message.messageId;
        void (async () => {
          const id = window.location.pathname.slice('/chat/'.length);
          await loadConversation(id);
          setSelected((s) => (current.userMessageId ? { ...s, [current.userMessageId]: conv } : s));
          setStreaming(null);
          loadList();
        })();
      }
    },
    [conversationId, loadConversation, loadList, navigate],
  );
  const socket = useChatSocket(onServerMessage);

  const messages = useMemo(() => conversation?.messages ?? [], [conversation]);
  const thread = useMemo(() => selectedPath(messages, selected), [messages, selected]);
  const siblingsOf = useCallback(
    (m: TreeMessageView) => messages.filter((o) => o.parentId === m.parentId && o.role === m.role),
    [messages],
  );

  const newRequestId = () => `r-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

  const send = (e?: FormEvent) => {
    e?.preventDefault();
    const content = draft.trim();
    if (!content || streaming) return;
    const last = thread.at(-1);
    const requestId = newRequestId();
    const ok = socket.send({
      type: 'generate',
      requestId,
      content,
      ...(conversation && conversationId ? { conversationId: conversation.id } : {}),
      ...(last && conversationId ? { parentId: last.id } : {}),
    });
    if (!ok) {
      setSendError(new Error('Not connected to the server yet; try again in a moment.'));
      return;
    }
    if (last?.role === 'assistant') recordSignal('follow_up', last.id, content.length);
    setSendError(null);
    setDraft('');
    setStreaming({ requestId, kind: 'generate', prompt: content, text: '' });
  };

  const regenerate = (answer: TreeMessageView) => {
    if (streaming || !answer.parentId) return;
    const requestId = newRequestId();
    if (!socket.send({ type: 'regenerate', requestId, userMessageId: answer.parentId })) {
      setSendError(new Error('Not connected to the server yet; try again in a moment.'));
      return;
    }
    recordSignal('regenerate', answer.id);
    setSendError(null);
    setStreaming({ requestId, kind: 'regenerate', userMessageId: answer.parentId, text: '' });
  };

  const stop = () => {
    if (!streaming) return;
    socket.send({ type: 'cancel', requestId: streaming.requestId });
    if (streaming.messageId) recordSignal('abandon', streaming.messageId, streaming.text.length);
    setStreaming({ ...streaming, stopping: true });
  };

  const onComposerKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey) send(e);
  };

  // While regenerating, the new answer takes the place of the answer under the same prompt.
  const regeneratingUnder = streaming?.kind === 'regenerate' ? streaming.userMessageId : undefined;
  const visible = regeneratingUnder
    ? thread.slice(0, thread.findIndex((m) => m.id === regeneratingUnder) + 1)
    : thread;

  return (
    <main className="chat" id="main">
      <aside className="conversations" aria-label="Conversations">
        <button
          type="button"
          className="primary"
          onClick={() => void navigate({ to: '/chat/{-$conversationId}', params: {} })}
          title="Start a new conversation"
        >
          + New conversation
        </button>
        <button type="button" aria-pressed={comparing} onClick={() => setComparing((c) => !c)}>
          {comparing ? 'Back to chat' : 'Compare two models'}
        </button>
        <ErrorNote error={listError} onRetry={loadList} />
        {list === null && !listError && <Loading what="conversations" />}
        {list?.length === 0 && <Empty>No conversations yet. Type a question to start one.</Empty>}
        <ul>
          {list?.map((c) => (
            <li key={c.id}>
              <Link to="/chat/{-$conversationId}" params={{ conversationId: c.id }}>
                {c.title || 'Untitled'}
                <span className="muted"> · {c.messageCount} messages</span>
              </Link>
            </li>
          ))}
        </ul>
      </aside>

      {comparing && <ArenaPanel />}
      <section className="thread" aria-label="Conversation" hidden={comparing}>
        <ErrorNote
          error={loadError}
          onRetry={conversationId ? () => loadConversation(conversationId) : undefined}
        />
        {visible.length === 0 && !streaming && (
          <Empty>
            Ask anything, for example “What is the capital of Peru?”. Rate each answer with the buttons under
            it: that is how the model learns.
          </Empty>
        )}
        <ol className="messages" aria-live="off">
          {visible.map((m) => {
            const siblings = siblingsOf(m);
            if (m.role !== 'assistant') {
              return (
                <li key={m.id} className={`bubble ${m.role}`}>
                  <span className="sr-only">{m.role === 'user' ? 'You said:' : 'System:'}</span>
                  <p className="text">{m.content}</p>
                </li>
              );
            }
            return (
              <li key={m.id}>
                <AnswerCard
                  message={m}
                  siblings={siblings}
                  busy={streaming !== null}
                  onSelectSibling={(id) => setSelected((s) => ({ ...s, [m.parentId ?? 'root']: id }))}
                  onRegenerate={() => regenerate(m)}
                />
              </li>
            );
          })}
          {streaming?.kind === 'generate' && streaming.prompt && (
            <li className="bubble user">
              <span className="sr-only">You said:</span>
              <p className="text">{streaming.prompt}</p>
            </li>
          )}
          {streaming && (
            <li className="answer streaming" aria-busy="true">
              <p className="text" aria-live="polite" data-testid="streaming-answer">
                {streaming.text}
                <span className="cursor" aria-hidden="true">
                  ▍
                </span>
              </p>
              <button type="button" onClick={stop} disabled={streaming.stopping} aria-label="Stop generating">
                ■ Stop
              </button>
            </li>
          )}
        </ol>
        <ErrorNote error={sendError} />
        <form className="composer" onSubmit={send}>
          <label htmlFor="composer" className="sr-only">
            Your message
          </label>
          <textarea
            id="composer"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={onComposerKey}
            placeholder="Type a message. Enter sends, Shift+Enter starts a new line."
            rows={2}
          />
          <button
            type="submit"
            className="primary"
            disabled={!draft.trim() || streaming !== null || !socket.ready}
          >
            Send
          </button>
        </form>
        {!socket.ready && (
          <p className="muted" role="status">
            Connecting to the chat server…
          </p>
        )}
      </section>
    </main>
  );
}
