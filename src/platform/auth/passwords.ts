// Password hashing with argon2id (the library's defaults follow OWASP's guidance), the password
// rules for new passwords, and a verification that costs the same whether or not the account exists.
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { dictionary } from '@zxcvbn-ts/language-common';

export const PASSWORD_MIN_LENGTH = 12;

export const hashPassword = (password: string): Promise<string> =>
  argon2.hash(password, { type: argon2.argon2id });

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

// A hash of a random password nobody knows, made once, so that a sign-in to an unknown email (or
// to an account without a password) hashes as much as one to a real account and answers alike.
let dummyHash: Promise<string> | undefined;

/** Verifies `password` against `hash`, or against a dummy hash when there is none (always false then). */
export async function verifyPasswordOrDummy(
  hash: string | null | undefined,
  password: string,
): Promise<boolean> {
  dummyHash ??= hashPassword(randomBytes(32).toString('base64url'));
  const ok = await verifyPassword(hash ?? (await dummyHash), password);
  return hash ? ok : false;
}

// The ~49,000 most common passwords of the zxcvbn-ts project's list (leaked password corpora).
let common: Set<string> | undefined;
const commonPasswords = () => (common ??= new Set(dictionary['passwords-common'] as string[]));

/**
 * Why a new password is refused, or null. Besides the length (checked by the contract), a password
 * is refused when it is a common one, or a common one with digits or symbols around it
 * ("password1234!"), compared case-insensitively.
 */
export function passwordProblem(password: string): string | null {
  const lower = password.toLowerCase();
  const core = lower.replace(/^[^a-z]+|[^a-z]+$/g, '');
  const list = commonPasswords();
  if (list.has(lower) || (core.length >= 4 && list.has(core)))
    return 'is one of the most common passwords; choose another';
  return null;
}
