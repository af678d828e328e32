// The shell: sign-in when signed out; otherwise a header whose links depend on the role
// (user: chat; moderator: + moderation; ops/admin: + dashboard) and the page for the path.
import { useEffect } from 'react';
import { Link, navigate, usePath } from './router.tsx';
import { canModerate, canOperate, useSession } from './session.tsx';
import { dropPendingSignals, flushSignals } from './signals.ts';
import { SignInPage } from './pages/sign-in.tsx';
import { ChatPage } from './pages/chat.tsx';
import { SettingsPage } from './pages/settings.tsx';
import { ModerationPage } from './pages/moderation.tsx';
import { DashboardPage } from './dashboard/dashboard.tsx';
import { Loading } from './components/status.tsx';

export function App() {
  const { user, signOut } = useSession();
  const path = usePath();

  useEffect(() => {
    if (user && (path === '/' || path === '/signin')) navigate('/chat');
  }, [user, path]);

  if (user === undefined) return <Loading what="your session" />;
  if (user === null) return <SignInPage />;

  const links = [
    { href: '/chat', label: 'Chat' },
    ...(canModerate(user.role) ? [{ href: '/moderation', label: 'Moderation' }] : []),
    ...(canOperate(user.role) ? [{ href: '/dashboard', label: 'Dashboard' }] : []),
    { href: '/settings', label: 'Settings' },
  ];
  const section = `/${path.split('/')[1] ?? ''}`;

  let page;
  if (section === '/moderation' && canModerate(user.role)) page = <ModerationPage path={path} />;
  else if (section === '/dashboard' && canOperate(user.role)) page = <DashboardPage path={path} />;
  else if (section === '/settings') page = <SettingsPage />;
  else if (section === '/moderation' || section === '/dashboard')
    page = (
      <main className="page" id="main">
        <h1>Not for your role</h1>
        <p>
          This page is for {section === '/moderation' ? 'moderators' : 'ops'}. You are signed in as a{' '}
          {user.role}. <Link href="/chat">Go to the chat</Link>.
        </p>
      </main>
    );
  else page = <ChatPage path={path} />;

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">feedloop</span>
        <nav aria-label="Main">
          {links.map((l) => (
            <Link key={l.href} href={l.href} aria-current={section === l.href ? 'page' : undefined}>
              {l.label}
            </Link>
          ))}
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
            navigate('/');
          }}
        >
          Sign out
        </button>
      </header>
      {page}
    </>
  );
}
