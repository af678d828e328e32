// WebSockets outlive the request that opened them, so their credential is checked again: every
// FEEDLOOP_SOCKET_AUTH_CHECK_MS, and before each generate or subscribe. A credential that no longer
// resolves (revoked key, logout, expired session, disabled account) closes the socket with 4401; a
// role no longer allowed closes it with 4403. The Origin of every upgrade is checked against
// FEEDLOOP_ALLOWED_ORIGINS (default: the server's own origin), so another site's page cannot open
// a socket with the visitor's session cookie.
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { AppError } from '../errors/app-error.ts';
import { SESSION_COOKIE } from './plugin.ts';
import type { Principal, Role } from './principal.ts';

/** Close codes (4000-4999 are the application's): like HTTP 401 and 403. */
export const SOCKET_UNAUTHORIZED = 4401;
export const SOCKET_FORBIDDEN = 4403;

/** onRequest hook for WebSocket routes: a browser Origin that is not allowed is a 403 before upgrade. */
export async function checkSocketOrigin(request: FastifyRequest): Promise<void> {
  const origin = request.headers.origin;
  // Browsers always send Origin on a WebSocket upgrade; other clients (no ambient cookies) may not.
  if (origin === undefined) return;
  const allowed = request.server.config.FEEDLOOP_ALLOWED_ORIGINS;
  let ok: boolean;
  try {
    const parsed = new URL(origin);
    ok = allowed
      ? allowed.some((a) => new URL(a).origin === parsed.origin)
      : parsed.host === request.headers.host;
  } catch {
    ok = false;
  }
  if (!ok) throw new AppError('forbidden', `Origin ${origin} may not open this socket`);
}

export interface SocketGuard {
  /**
   * Checks the credential now (from the database, not the cache). Resolves to the principal, or
   * null after closing the socket because the credential or role no longer holds.
   */
  check(): Promise<Principal | null>;
  stop(): void;
}

/** Re-checks the upgrade request's credential on a timer and on demand; stops when the socket closes. */
export function guardSocket(request: FastifyRequest, socket: WebSocket, roles: readonly Role[]): SocketGuard {
  const app = request.server;
  const header = request.headers.authorization;
  const apiKey = header ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined;
  const sessionToken = apiKey ? undefined : request.cookies[SESSION_COOKIE];
  let closed = false;

  const close = (code: number, reason: string) => {
    closed = true;
    stop();
    socket.close(code, reason);
  };

  async function check(): Promise<Principal | null> {
    if (closed) return null;
    const principal = apiKey
      ? await app.credentials.fromApiKey(apiKey, { fresh: true })
      : sessionToken
        ? await app.credentials.fromSessionToken(sessionToken, { fresh: true })
        : null;
    if (closed) return null;
    if (!principal) {
      close(SOCKET_UNAUTHORIZED, 'The credential was revoked or has expired; sign in again');
      return null;
    }
    if (!roles.includes(principal.role)) {
      close(SOCKET_FORBIDDEN, `This needs one of the roles: ${roles.join(', ')}`);
      return null;
    }
    return principal;
  }

  const timer = setInterval(() => {
    // A database that cannot answer now is not a revoked credential: the next check decides.
    check().catch((err: unknown) => request.log.warn({ err }, 'socket credential check failed'));
  }, app.config.FEEDLOOP_SOCKET_AUTH_CHECK_MS);
  timer.unref();
  const stop = () => clearInterval(timer);
  socket.once('close', () => {
    closed = true;
    stop();
  });
  return { check, stop };
}
