// Who is making a request, and the role checks every route group applies.
import { ROLES, type Role } from '../../contract/users.ts';

export { ROLES, type Role };

export interface Principal {
  userId: string;
  email: string;
  role: Role;
  /** How the request proved who it is. */
  via: 'api_key' | 'session';
  credentialId: string;
}

/** Roles allowed into each route family. Admins may do everything. */
export const ROLE_GROUPS = {
  anyUser: ['user', 'moderator', 'ops', 'admin', 'service'],
  moderation: ['moderator', 'admin'],
  operations: ['ops', 'admin'],
  administration: ['admin'],
  /** May log a model's answers (an app logging the exchanges of its own model): marked `logged`. */
  logging: ['service', 'ops', 'admin'],
} as const satisfies Record<string, readonly Role[]>;

/** Moderators, ops and admins may read any conversation (to review it); users and services only their own. */
export const canReadAnyConversation = (role: Role): boolean =>
  role === 'moderator' || role === 'ops' || role === 'admin';

/** Whether `role` may log answers as written by a named model (the `model` field). */
export const canLogModelAnswers = (role: Role): boolean =>
  (ROLE_GROUPS.logging as readonly Role[]).includes(role);
