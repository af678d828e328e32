// Asks before an action that changes the system, with a reason when the action records one.
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { ErrorNote } from './status.tsx';

export interface ConfirmRequest {
  title: string;
  body: string;
  confirmLabel: string;
  /** Ask for a reason (recorded in the audit log); required when true. */
  reason?: boolean;
  run(reason: string): Promise<void>;
}

export function ConfirmDialog({ request, onClose }: { request: ConfirmRequest; onClose(): void }) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const first = useRef<HTMLInputElement & HTMLButtonElement>(null);
  const titleId = useId();
  const bodyId = useId();

  useEffect(() => {
    first.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await request.run(reason.trim());
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <div className="overlay">
      <form
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={bodyId}
        onSubmit={submit}
      >
        <h2 id={titleId}>{request.title}</h2>
        <p id={bodyId}>{request.body}</p>
        {request.reason && (
          <label>
            Reason (kept in the audit log)
            <input ref={first} value={reason} onChange={(e) => setReason(e.target.value)} required />
          </label>
        )}
        <ErrorNote error={error} />
        <div className="row">
          <button type="submit" className="primary" disabled={busy || (request.reason && !reason.trim())}>
            {busy ? 'Working…' : request.confirmLabel}
          </button>
          <button type="button" onClick={onClose} ref={request.reason ? undefined : first}>
            Cancel
          </button>
        </div>
      </form>
    </div>
  );
}
