import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from '../infra/redis';

export interface RateLimitBounds {
  /** Calls per caller per window; 0 turns the limit off. */
  points: number;
  windowS: number;
  /** Where the counters live in Redis: `<prefix>:ratelimit:<caller>`. */
  prefix: string;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface RateLimiter {
  /** Spends `calls` of the caller's budget for the window. */
  take(caller: string, calls: number): Promise<RateDecision>;
}

/** After Redis failed the limiter, how long each process counts in memory before asking Redis again. */
const localAfterFailureMs = 1_000;

/**
 * A fixed-window limit per caller, counted in Redis so that every API process spends the same
 * budget (rate-limiter-flexible). A caller past its budget is refused in memory until the
 * window ends, without a Redis round trip. When Redis fails or is slow (`redis` has deadlines
 * on its calls), each process counts in its own memory for a moment and asks Redis again: the
 * limit still holds per process, and commands, which need only Temporal, keep flowing while
 * Redis is away (see DESIGN.md, "Rate limits when Redis is away").
 */
export function createRateLimiter(redis: Redis, { points, windowS, prefix }: RateLimitBounds): RateLimiter {
  if (points === 0) return { take: async () => ({ allowed: true }) };
  const shared = new RateLimiterRedis({
    storeClient: redis,
    useRedisPackage: true,
    rejectIfRedisNotReady: true,
    keyPrefix: `${prefix}:ratelimit`,
    points,
    duration: windowS,
    inMemoryBlockOnConsumed: points,
  });
  const local = new RateLimiterMemory({ points, duration: windowS });
  let localUntil = 0;

  const consume = async (caller: string, calls: number) => {
    if (performance.now() < localUntil) return local.consume(caller, calls);
    try {
      return await shared.consume(caller, calls);
    } catch (failure) {
      if (failure instanceof RateLimiterRes) throw failure;
      localUntil = performance.now() + localAfterFailureMs;
      return local.consume(caller, calls);
    }
  };
  return {
    async take(caller, calls) {
      try {
        await consume(caller, calls);
        return { allowed: true };
      } catch (refusal) {
        if (refusal instanceof RateLimiterRes) return { allowed: false, retryAfterMs: Math.max(refusal.msBeforeNext, 1) };
        throw refusal;
      }
    },
  };
}
