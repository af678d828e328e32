// Recognises "a backing service is down" among the errors pg, Prisma and ioredis throw, so the
// API answers 503 instead of 500 when Postgres or Redis cannot be reached.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);
// Postgres: admin shutdown, crash shutdown, cannot connect now, too many connections, connection
// failures, and a statement cancelled by statement_timeout (the server is too slow to answer now).
const PG_CODES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
  '57014',
]);
// Prisma: can't reach server, timed out, operation timed out, server closed the connection, pool timeout.
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
const MESSAGES = [
  /Connection terminated/i,
  /Connection is closed/i,
  /enableOfflineQueue options is false/i,
  /Reached the max retries per request limit/i,
  /DatabaseNotReachable/i,
  /Can't reach database server/i,
  /connect ECONNREFUSED/i,
  /timeout exceeded when trying to connect/i,
  // pg's client-side query timeout (FEEDLOOP_DB_QUERY_TIMEOUT_MS), and a client it then closed.
  /Query read timeout/i,
  /Client was closed and is not queryable/i,
  /canceling statement due to statement timeout/i,
];

export function isUnavailableError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 6; depth++) {
    const candidate = e as { code?: unknown; message?: unknown; cause?: unknown; kind?: unknown };
    const code = typeof candidate.code === 'string' ? candidate.code : undefined;
    if (code && (NETWORK_CODES.has(code) || PG_CODES.has(code) || PRISMA_CODES.has(code))) return true;
    if (candidate.kind === 'DatabaseNotReachable' || candidate.kind === 'ConnectionClosed') return true;
    if (typeof candidate.message === 'string' && MESSAGES.some((re) => re.test(candidate.message as string)))
      return true;
    if (err instanceof AggregateError && depth === 0 && err.errors.some(isUnavailableError)) return true;
    e = candidate.cause;
  }
  return false;
}
