// Secrets handed to clients (API keys, session tokens) and the hashes we keep of them.
// They carry 256 bits of randomness, so a fast hash is enough; passwords use argon2 instead.
import { createHash, randomBytes } from 'node:crypto';

export const API_KEY_PREFIX = 'fl_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function newApiKey(): { key: string; prefix: string; keyHash: string } {
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, prefix: key.slice(0, 10), keyHash: hashToken(key) };
}

export function newSessionToken(): { token: string; tokenHash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, tokenHash: hashToken(token) };
}
