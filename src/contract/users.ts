// Request and response shapes for users, API keys and the browser session.
import { z } from 'zod';
import type { Role } from '../generated/prisma/enums.ts';
import { isoDate } from './http.ts';

export type { Role };
export const ROLES = ['user', 'moderator', 'ops', 'admin', 'service'] as const satisfies readonly Role[];
export const role = z.enum(ROLES);
export const email = z
  .email({ message: 'must be an email address' })
  .max(254)
  .transform((e) => e.toLowerCase());
export const password = z.string().min(8, 'must be at least 8 characters').max(256);

export const userView = z.object({ id: z.string(), email: z.string(), role, createdAt: isoDate });

export const createUserBody = z.strictObject({
  email,
  password: password.optional(),
  role: role.default('user'),
});
export const updateUserBody = z.strictObject({ role });
export const listUsersQuery = z.strictObject({
  role: role.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
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

/** Sign-up and password sign-in. */
export const credentialsBody = z.strictObject({ email, password });
export type CredentialsBody = z.input<typeof credentialsBody>;
export const signedInView = z.object({ user: userView });
/** `GET /v1/auth/session`: the signed-in user, or null when signed out. */
export const sessionView = z.object({ user: userView.nullable() });
export type UserView = z.output<typeof userView>;
