// Request limits, counted in Redis so that every API process shares them (rate-limiter-flexible):
// - every request: FEEDLOOP_RATE_LIMIT_PER_MINUTE per user across all their keys and sessions, or
//   per client address when anonymous;
// - failed authentication (an unknown, revoked or malformed credential): FEEDLOOP_AUTH_FAILURES_PER_MINUTE
//   per address; past it, every request of that address carrying a credential is a 429 until the
//   minute ends, so guessing keys meets 429s;
// - login and sign-up, which hash a password with argon2 (tens of ms of CPU each), have their own
//   tight limits per address, and login a lockout per account (see ../users/session-routes.ts).
// When Redis is down: ingestion (implicit events, ratings, votes) fails open onto a limit counted in
// this process, so feedback keeps flowing; every other limited route answers 503, as it did; the
// failed-authentication limit falls back to this process too (it guards every route).
//
// A request whose API key this process already holds as valid has its address's failed
// authentications checked and its own request counted in one Redis script (ADMIT_SCRIPT), one round
// trip instead of two, on the counters rate-limiter-flexible keeps for both limits.
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ClientContext, Result } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../errors/app-error.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: the route is never rate limited (health checks, metrics). */
    rateLimit?: false;
  }
  interface FastifyInstance {
    limits: Limits;
  }
  interface FastifyRequest {
    /** The address's failed authentications are still to be checked, before the handler. */
    authFailuresUnchecked: boolean;
  }
}

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    /** ADMIT_SCRIPT: [failed authentications, their ms to expiry, requests counted, their ms to expiry]. */
    feedloopAdmit(
      authFailuresKey: string,
      requestsKey: string,
      durationSeconds: number,
    ): Result<[number, number, number, number], Context>;
  }
}

/**
 * KEYS[1]: the address's failed authentications, read as rate-limiter-flexible's get() reads them;
 * KEYS[2]: the user's requests, counted as its consume() counts them (the same statements as its
 * increment script), ARGV[1] being the window in seconds. A missing failure counter reads 0.
 */
const ADMIT_SCRIPT = `local failures = tonumber(redis.call('get', KEYS[1]) or '0')
local failuresTtl = redis.call('pttl', KEYS[1])
redis.call('set', KEYS[2], 0, 'EX', ARGV[1], 'NX')
local consumed = redis.call('incrby', KEYS[2], 1)
local ttl = redis.call('pttl', KEYS[2])
if ttl == -1 then
  redis.call('expire', KEYS[2], ARGV[1])
  ttl = 1000 * ARGV[1]
end
return {failures, failuresTtl, consumed, ttl}`;

/** Routes that ingest feedback: they keep working on a per-process limit while Redis is down. */
export const INGESTION_ROUTES: ReadonlySet<string> = new Set([
  'POST /v1/events',
  'PUT /v1/messages/:id/rating',
  'DELETE /v1/messages/:id/rating',
  'POST /v1/votes',
]);

/** How long an account stays locked after too many failed logins, and the window they count in. */
export const LOGIN_LOCKOUT_SECONDS = 15 * 60;

export interface Limits {
  /** Refuses (429) an address that failed authentication too often; call before checking a credential. */
  checkAuthFailures(request: FastifyRequest): Promise<void>;
  /**
   * For a credential this process already holds as valid: the address's failed authentications are
   * checked before the handler runs (with the request's own limit, in one round trip), so the
   * request's body is read meanwhile.
   */
  deferAuthFailureCheck(request: FastifyRequest): void;
  /** Counts a failed authentication of the request's address. */
  recordAuthFailure(request: FastifyRequest): Promise<void>;
  /** One login attempt of the request's address (429 past the limit). */
  consumeLogin(request: FastifyRequest): Promise<void>;
  /** Refuses (429) logins to `email` while it is locked, known account or not. */
  checkAccountLock(email: string): Promise<void>;
  recordLoginFailure(email: string): Promise<void>;
  clearLoginFailures(email: string): Promise<void>;
  /** One sign-up of the request's address (429 past the limit). */
  consumeSignup(request: FastifyRequest): Promise<void>;
}

/** The window the request limit counts in. */
const REQUEST_WINDOW_SECONDS = 60;

const tooMany = (what: string, res: Pick<RateLimiterRes, 'msBeforeNext'>): AppError => {
  const seconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  return new AppError('rate_limited', `${what}; retry in ${seconds} s`, { retryAfterSeconds: seconds });
};

/** A limiter's verdict as the API's errors: a refusal is a 429, a store failure a 503. */
async function limited<T>(what: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (err) {
    if (err instanceof RateLimiterRes) throw tooMany(what, err);
    throw new AppError('unavailable', 'Rate limits cannot be checked now (Redis is unreachable)');
  }
}

export const rateLimitPlugin = fp(
  async (app) => {
    const config = app.config;
    const prefix = `${config.FEEDLOOP_QUEUE_PREFIX}:limits`;
    const redisLimiter = (
      name: string,
      options: { points: number; duration: number; blockDuration?: number },
      fallBackToProcess = false,
    ) =>
      new RateLimiterRedis({
        storeClient: app.redis,
        keyPrefix: `${prefix}:${name}`,
        rejectIfRedisNotReady: true,
        ...options,
        ...(fallBackToProcess ? { insuranceLimiter: new RateLimiterMemory(options) } : {}),
      });
    const perMinute = config.FEEDLOOP_RATE_LIMIT_PER_MINUTE;
    const requestWindow = { points: perMinute, duration: REQUEST_WINDOW_SECONDS };
    const requests = redisLimiter('requests', requestWindow);
    const ingestion = redisLimiter('requests', requestWindow, true);
    const authFailures = redisLimiter(
      'auth-failures',
      { points: config.FEEDLOOP_AUTH_FAILURES_PER_MINUTE, duration: 60 },
      true,
    );
    const logins = redisLimiter('login', { points: config.FEEDLOOP_LOGIN_PER_MINUTE, duration: 60 });
    const accountFailures = redisLimiter('login-failures', {
      points: config.FEEDLOOP_LOGIN_FAILURES_PER_ACCOUNT,
      duration: LOGIN_LOCKOUT_SECONDS,
      blockDuration: LOGIN_LOCKOUT_SECONDS,
    });
    const signups = redisLimiter('signup', { points: config.FEEDLOOP_SIGNUPS_PER_HOUR, duration: 3600 });

    const authFailuresRefusal = (res: Pick<RateLimiterRes, 'msBeforeNext'>) =>
      tooMany('Too many failed authentications from this address', res);
    const requestsExceeded = `Rate limit of ${perMinute} requests per minute exceeded`;
    app.redis.defineCommand('feedloopAdmit', { numberOfKeys: 2, lua: ADMIT_SCRIPT });

    const limits: Limits = {
      async checkAuthFailures(request) {
        const res = await limited('', () => authFailures.get(request.ip));
        if (res && res.consumedPoints >= config.FEEDLOOP_AUTH_FAILURES_PER_MINUTE)
          throw authFailuresRefusal(res);
      },
      deferAuthFailureCheck(request) {
        request.authFailuresUnchecked = true;
      },
      async recordAuthFailure(request) {
        try {
          await authFailures.consume(request.ip);
        } catch (err) {
          // Over the limit already: the next request from this address meets the 429.
          if (!(err instanceof RateLimiterRes)) throw err;
        }
      },
      async consumeLogin(request) {
        await limited('Too many sign-in attempts from this address', () => logins.consume(request.ip));
      },
      async checkAccountLock(email) {
        const res = await limited('', () => accountFailures.get(email));
        if (res && res.consumedPoints >= config.FEEDLOOP_LOGIN_FAILURES_PER_ACCOUNT)
          throw tooMany('Too many failed sign-ins for this account', res);
      },
      async recordLoginFailure(email) {
        await limited('', () => accountFailures.penalty(email, 1));
      },
      async clearLoginFailures(email) {
        await limited('', () => accountFailures.delete(email));
      },
      async consumeSignup(request) {
        await limited('Too many sign-ups from this address', () => signups.consume(request.ip));
      },
    };
    app.decorate('limits', limits);
    app.decorateRequest('authFailuresUnchecked', false);

    /**
     * Both limits in one round trip; null when Redis cannot run it now, and each limit is then
     * checked on its own (with its own fallback).
     */
    const admitInOneTrip = async (
      request: FastifyRequest,
      key: string,
    ): Promise<{ remainingPoints: number } | null> => {
      if (app.redis.status !== 'ready') return null;
      let counts: [number, number, number, number];
      try {
        counts = await app.redis.feedloopAdmit(
          authFailures.getKey(request.ip),
          requests.getKey(key),
          REQUEST_WINDOW_SECONDS,
        );
      } catch {
        // Redis went away meanwhile: the limits on their own say 503 or fall back to this process.
        return null;
      }
      const [failures, failuresTtl, consumed, ttl] = counts;
      if (failures >= config.FEEDLOOP_AUTH_FAILURES_PER_MINUTE)
        throw authFailuresRefusal({ msBeforeNext: failuresTtl });
      if (consumed > perMinute) throw tooMany(requestsExceeded, { msBeforeNext: ttl });
      return { remainingPoints: perMinute - consumed };
    };

    app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
      const checkAuthFailures = request.authFailuresUnchecked;
      request.authFailuresUnchecked = false;
      if (request.routeOptions.config.rateLimit === false) {
        if (checkAuthFailures) await limits.checkAuthFailures(request);
        return;
      }
      const key = request.principal ? `user:${request.principal.userId}` : `ip:${request.ip}`;
      const route = `${request.method} ${request.routeOptions.url ?? ''}`;
      const limiter = INGESTION_ROUTES.has(route) ? ingestion : requests;
      let res = checkAuthFailures ? await admitInOneTrip(request, key) : null;
      if (!res) {
        // Counted before the address is checked, as in one trip: a refused request still counts.
        res = await limited(requestsExceeded, () => limiter.consume(key));
        if (checkAuthFailures) await limits.checkAuthFailures(request);
      }
      reply.header('x-ratelimit-limit', perMinute);
      reply.header('x-ratelimit-remaining', res.remainingPoints);
    });

    // Every 429 (requests, failed authentication, login, sign-up) says when to come back.
    app.addHook('onError', async (_request, reply, error) => {
      if (error instanceof AppError && error.code === 'rate_limited') {
        const seconds = (error.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
        if (seconds) reply.header('retry-after', seconds);
      }
    });
  },
  { name: 'rate-limit', dependencies: ['services'] },
);
