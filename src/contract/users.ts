// Request and response shapes for users, API keys and the browser session.
import { z } from 'zod';
import type { Role } from '../generated/prisma/enums.ts';
import { cursorQuery, isoDate, MAX_PAGE_SIZE } from './http.ts';

export type { Role };
export const ROLES = ['user', 'moderator', 'ops', 'admin', 'service'] as const satisfies readonly Role[];
export const role = z.enum(ROLES);
export const email = z
  .email({ message: 'must be an email address' })
  .max(254)
  .transform((e) => e.toLowerCase());
/** A new password: at least 12 characters (the server also refuses the most common ones). */
export const password = z.string().min(12, 'must be at least 12 characters').max(256);

export const userView = z.object({
  id: z.string(),
  email: z.string(),
  role,
  createdAt: isoDate,
  /** When an admin disabled the account (null while it is enabled). */
  disabledAt: isoDate.nullable(),
});

export const createUserBody = z.strictObject({
  email,
  password: password.optional(),
  role: role.default('user'),
});
/** A role change, and/or disabling the account (ends its sessions and keys at once) or enabling it again. */
export const updateUserBody = z
  .strictObject({ role: role.optional(), disabled: z.boolean().optional() })
  .refine((b) => b.role !== undefined || b.disabled !== undefined, 'give role or disabled');
export const listUsersQuery = cursorQuery.extend({
  role: role.optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(100),
});

export const createKeyBody = z.strictObject({ name: z.string().trim().min(1).max(100) });
export const apiKeyView = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  createdAt: isoDate,
  lastUsedAt: isoDate.nullable(),
  revokedAt: isoDate.nullable(),
});
export const newApiKeyView = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  /** The secret itself: shown once, never stored. */
  key: z.string(),
});

/** Sign-up: a new password must follow the rules. */
export const credentialsBody = z.strictObject({ email, password });
export type CredentialsBody = z.input<typeof credentialsBody>;
/** Password sign-in: any password is checked (accounts may predate the current rules). */
export const loginBody = z.strictObject({ email, password: z.string().min(1).max(256) });
export const signedInView = z.object({ user: userView });
/**
 * Sign-up's answer, the same whether the email was free or not, so it reveals no accounts: when
 * it was free, the account now exists and signs in with that password.
 */
export const signupAccepted = z.object({ message: z.string() });
/** `GET /v1/auth/session`: the signed-in user, or null when signed out. */
export const sessionView = z.object({ user: userView.nullable() });
export type UserView = z.output<typeof userView>;
