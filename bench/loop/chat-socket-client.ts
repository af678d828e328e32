// The chat UI's WebSocket protocol (src/completions/chat-socket.ts) from the client side: ask a
// question, or ask for another answer to the same prompt, and wait for the finished answer.
import WebSocket from 'ws';

export interface SocketAnswer {
  conversationId: string;
  userMessageId: string;
  messageId: string;
  text: string;
  finishReason: string;
}

interface Pending {
  resolve: (answer: SocketAnswer) => void;
  reject: (err: Error) => void;
  text: string;
  started?: { conversationId: string; userMessageId: string; messageId: string };
}

export class ChatSocketClient {
  private readonly pending = new Map<string, Pending>();
  private next = 0;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (raw) => this.onMessage(JSON.parse(raw.toString()) as Record<string, unknown>));
    socket.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('chat socket closed'));
      this.pending.clear();
    });
  }

  static async connect(baseUrl: string, authorization: string): Promise<ChatSocketClient> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/v1/chat/socket`, {
      headers: { authorization },
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new ChatSocketClient(socket);
  }

  ask(content: string, options: Record<string, unknown> = {}): Promise<SocketAnswer> {
    return this.send({ type: 'generate', content, options });
  }

  regenerate(userMessageId: string, options: Record<string, unknown> = {}): Promise<SocketAnswer> {
    return this.send({ type: 'regenerate', userMessageId, options });
  }

  close(): void {
    this.socket.close();
  }

  private send(message: Record<string, unknown>): Promise<SocketAnswer> {
    const requestId = `r${++this.next}`;
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject, text: '' });
      this.socket.send(JSON.stringify({ ...message, requestId }));
    });
  }

  private onMessage(message: Record<string, unknown>): void {
    const requestId = message['requestId'] as string | null;
    const p = requestId ? this.pending.get(requestId) : undefined;
    if (!p) {
      if (message['type'] === 'error')
        throw new Error(`chat socket error: ${JSON.stringify(message['error'])}`);
      return;
    }
    switch (message['type']) {
      case 'started':
        p.started = message as unknown as Pending['started'];
        break;
      case 'token':
        p.text += message['delta'] as string;
        break;
      case 'done':
        this.pending.delete(requestId!);
        p.resolve({
          conversationId: p.started!.conversationId,
          userMessageId: p.started!.userMessageId,
          messageId: message['messageId'] as string,
          text: p.text,
          finishReason: message['finishReason'] as string,
        });
        break;
      case 'error':
        this.pending.delete(requestId!);
        p.reject(new Error(`chat socket error: ${JSON.stringify(message['error'])}`));
        break;
    }
  }
}
