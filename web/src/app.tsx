// The shell: sign-in when signed out; otherwise a header whose links depend on the role
// (user: chat; moderator: + moderation; ops/admin: + dashboard) and the page for the URL.
import { Link, Outlet, useNavigate, useRouterState } from '@tanstack/react-router';
import { useEffect, useState, type ReactNode } from 'react';
import { queueList } from '#contract/annotation.ts';
import type { Role } from '#contract/users.ts';
import { canModerate, canOperate, useSession } from './session.tsx';
import { dropPendingSignals, flushSignals } from './signals.ts';
import { SignInPage } from './pages/sign-in.tsx';
import { api } from './api.ts';
import { Loading } from './components/status.tsx';

/**
 * Whether the signed-in user has an open annotation queue to work on (checked again on every
 * page change, so a new queue shows up without a reload).
 */
function useHasReviewQueues(userId: string | undefined): boolean {
  const [has, setHas] = useState(false);
  const path = useRouterState({ select: (s) => s.location.pathname });
  useEffect(() => {
    if (!userId) return;
    let live = true;
    api('/v1/annotation/queues?status=open', queueList).then(
      (r) => live && setHas(r.queues.some((q) => q.mine !== null)),
      () => {}, // the link simply stays as it was
    );
    return () => {
      live = false;
    };
  }, [userId, path]);
  return has;
}

export function Shell() {
  const { user, signOut } = useSession();
  const navigate = useNavigate();
  const hasReviewQueues = useHasReviewQueues(user?.id);

  if (user === undefined) return <Loading what="your session" />;
  if (user === null) return <SignInPage />;

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">feedloop</span>
        <nav aria-label="Main">
          <Link to="/chat/{-$conversationId}" params={{}}>
            Chat
          </Link>
          {hasReviewQueues && <Link to="/review">Review</Link>}
          {canModerate(user.role) && <Link to="/moderation">Moderation</Link>}
          {canOperate(user.role) && <Link to="/dashboard">Dashboard</Link>}
          <Link to="/settings">Settings</Link>
        </nav>
        <span className="who" title={`Signed in as ${user.email} (${user.role})`}>
          {user.email} · {user.role}
        </span>
        <button
          type="button"
          onClick={async () => {
            await flushSignals();
            dropPendingSignals();
            await signOut();
            await navigate({ to: '/' });
          }}
        >
          Sign out
        </button>
      </header>
      <Outlet />
    </>
  );
}

/** A section for some roles only: others are told whose it is. */
export function ForRole({
  allowed,
  who,
  children,
}: {
  allowed(role: Role): boolean;
  who: string;
  children: ReactNode;
}) {
  const { user } = useSession();
  if (user && allowed(user.role)) return children;
  return (
    <main className="page" id="main">
      <h1>Not for your role</h1>
      <p>
        This page is for {who}. You are signed in as a {user?.role}.{' '}
        <Link to="/chat/{-$conversationId}" params={{}}>
          Go to the chat
        </Link>
        .
      </p>
    </main>
  );
}

export function NotFound() {
  return (
    <main className="page" id="main">
      <h1>Page not found</h1>
      <p>
        There is no page at this address.{' '}
        <Link to="/chat/{-$conversationId}" params={{}}>
          Go to the chat
        </Link>
        .
      </p>
    </main>
  );
}
