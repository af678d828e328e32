// The chat WebSocket (/v1/chat/socket): one connection per chat page, reopened when it drops.
// Messages are tagged with a requestId; both directions are the contract's message unions
// (src/contract/chat-socket.ts), and what the server sends is parsed with it.
import { useEffect, useRef, useState } from 'react';
import { chatServerMessage, type ChatClientMessage, type ChatServerMessage } from '#contract/chat-socket.ts';

export type { ChatServerMessage };

export interface ChatSocket {
  ready: boolean;
  send(message: ChatClientMessage): boolean;
}

export function useChatSocket(onMessage: (message: ChatServerMessage) => void): ChatSocket {
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
        let data: unknown;
        try {
          data = JSON.parse(String(event.data));
        } catch {
          return; // a frame that is not JSON is not ours to handle
        }
        const message = chatServerMessage.safeParse(data);
        handler.current(
          message.success
            ? message.data
            : {
                type: 'error',
                requestId: null,
                error: {
                  code: 'unexpected_message',
                  message: 'The chat server sent a message this page does not understand. Reload the page.',
                },
              },
        );
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
