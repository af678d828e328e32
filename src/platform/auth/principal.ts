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
  anyUser: ['user', 'moderator', 'ops', 'admin'],
  moderation: ['moderator', 'admin'],
  operations: ['ops', 'admin'],
  administration: ['admin'],
} as const satisfies Record<string, readonly Role[]>;

/** Moderators, ops and admins may read any conversation (to review it); users only their own. */
export const canReadAnyConversation = (role: Role): boolean => role !== 'user';
