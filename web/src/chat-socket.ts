// The chat WebSocket (/v1/chat/socket): one connection per chat page, reopened when it drops.
// Messages are tagged with a requestId; see src/completions/chat-socket.ts for the protocol.
import { useEffect, useRef, useState } from 'react';

export type ServerMessage =
  | {
      type: 'started';
      requestId: string;
      conversationId: string;
      userMessageId: string;
      messageId: string;
      model: string;
    }
  | { type: 'token'; requestId: string; delta: string }
  | { type: 'done'; requestId: string; messageId: string; finishReason: string }
  | { type: 'error'; requestId: string | null; error: { code: string; message: string } };

export interface ChatSocket {
  ready: boolean;
  send(message: Record<string, unknown>): boolean;
}

export function useChatSocket(onMessage: (message: ServerMessage) => void): ChatSocket {
  const socket = useRef<WebSocket | null>(null);
  const handler = useRef(onMessage);
  handler.current = onMessage;
  const [ready, setReady] = useState(false);

  useEffect(() => {
    let closed = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let delay = 500;
    const open = () => {
      const url = `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/v1/chat/socket`;
      const ws = new WebSocket(url);
      socket.current = ws;
      ws.onopen = () => {
        delay = 500;
        setReady(true);
      };
      ws.onmessage = (event) => {
        try {
          handler.current(JSON.parse(String(event.data)) as ServerMessage);
        } catch {
          // a frame that is not JSON is not ours to handle
        }
      };
      ws.onclose = () => {
        setReady(false);
        if (closed) return;
        retry = setTimeout(open, delay);
        delay = Math.min(delay * 2, 10_000);
      };
    };
    open();
    return () => {
      closed = true;
      clearTimeout(retry);
      socket.current?.close();
    };
  }, []);

  return {
    ready,
    send(message) {
      const ws = socket.current;
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(message));
      return true;
    },
  };
}
