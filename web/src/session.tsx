// Who is signed in, shared by every page; sign-in, sign-up and sign-out over the cookie session routes.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { z } from 'zod';
import {
  sessionView,
  signedInView,
  signupAccepted,
  type CredentialsBody,
  type Role,
  type UserView,
} from '#contract/users.ts';
import { ApiError, api } from './api.ts';

interface SessionValue {
  /** undefined while the first /me is in flight; null when signed out. */
  user: UserView | null | undefined;
  signIn(email: string, password: string, mode: 'login' | 'signup'): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<UserView | null | undefined>(undefined);

  useEffect(() => {
    // /session answers {user: null} when signed out, so a signed-out visit logs no failed request.
    api('/v1/auth/session', sessionView).then(
      (r) => setUser(r.user),
      () => setUser(null),
    );
  }, []);

  const signIn = useCallback(async (email: string, password: string, mode: 'login' | 'signup') => {
    const body = { email, password } satisfies CredentialsBody;
    // Sign-up answers the same whether or not the email was free (it reveals no accounts), so the
    // page signs in next: that works when the account is new, and fails as a wrong password would.
    if (mode === 'signup') await api('/v1/auth/signup', signupAccepted, { body });
    const { user } = await api('/v1/auth/login', signedInView, { body });
    setUser(user);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api('/v1/auth/logout', z.null(), { method: 'POST' });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
    }
    setUser(null);
  }, []);

  return <SessionContext.Provider value={{ user, signIn, signOut }}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}

export const canModerate = (role: Role) => role === 'moderator' || role === 'admin';
export const canOperate = (role: Role) => role === 'ops' || role === 'admin';
