// The one place that defines how chat messages become model text. Training data, serving and
// evaluation all go through here so the template cannot drift between them.
import { z } from 'zod';

export const SPECIAL_TOKENS = {
  endOfText: '<|endoftext|>',
  system: '<|system|>',
  user: '<|user|>',
  assistant: '<|assistant|>',
  end: '<|end|>',
} as const;

/** Order fixes their ids 0..4 in every tokenizer we train. */
export const SPECIAL_TOKEN_LIST: readonly string[] = [
  SPECIAL_TOKENS.endOfText,
  SPECIAL_TOKENS.system,
  SPECIAL_TOKENS.user,
  SPECIAL_TOKENS.assistant,
  SPECIAL_TOKENS.end,
];

export const ChatRoleSchema = z.enum(['system', 'user', 'assistant']);
export type ChatRole = z.infer<typeof ChatRoleSchema>;
export const ChatMessageSchema = z.object({ role: ChatRoleSchema, content: z.string() });
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

const ROLE_TOKEN: Record<ChatRole, string> = {
  system: SPECIAL_TOKENS.system,
  user: SPECIAL_TOKENS.user,
  assistant: SPECIAL_TOKENS.assistant,
};

/** One finished turn: `<|role|>content<|end|>`. */
export function formatTurn(message: ChatMessage): string {
  return `${ROLE_TOKEN[message.role]}${message.content}${SPECIAL_TOKENS.end}`;
}

/**
 * The prompt the model continues: every message as a finished turn, then the assistant tag.
 * Generation stops at `<|end|>`.
 */
export function formatChatPrompt(messages: readonly ChatMessage[]): string {
  return messages.map(formatTurn).join('') + SPECIAL_TOKENS.assistant;
}

/** A complete training conversation (prompt plus answer, closed by `<|end|>`). */
export function formatChatExample(messages: readonly ChatMessage[]): string {
  return messages.map(formatTurn).join('');
}

/** The default stop strings for chat generation. */
export const CHAT_STOP = [SPECIAL_TOKENS.end, SPECIAL_TOKENS.endOfText] as const;
