// One sign-in for every role: log in, or create a user account.
import { useState, type FormEvent } from 'react';
import { ErrorNote } from '../components/status.tsx';
import { useSession } from '../session.tsx';

export function SignInPage() {
  const { signIn } = useSession();
  const [mode, setMode] = useState<'login' | 'signup'>('login');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(email, password, mode);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin" id="main">
      <h1>feedloop</h1>
      <p>Chat with the model and tell it what you think. Moderators and ops sign in here too.</p>
      <form onSubmit={submit} aria-label={mode === 'login' ? 'Sign in' : 'Create an account'}>
        <label>
          Email
          <input
            type="email"
            autoComplete="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            type="password"
            autoComplete={mode === 'login' ? 'current-password' : 'new-password'}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            minLength={mode === 'signup' ? 12 : undefined}
            required
          />
        </label>
        {mode === 'signup' && <p className="muted">At least 12 characters, not a common password.</p>}
        <ErrorNote error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {mode === 'login' ? 'Sign in' : 'Create account'}
        </button>
      </form>
      <p>
        {mode === 'login' ? 'New here? ' : 'Already have an account? '}
        <button type="button" className="link" onClick={() => setMode(mode === 'login' ? 'signup' : 'login')}>
          {mode === 'login' ? 'Create an account' : 'Sign in instead'}
        </button>
      </p>
    </main>
  );
}
