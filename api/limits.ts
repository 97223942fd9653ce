/**
 * The API's fixed bounds; those an operator tunes are in the configuration (`API_*`). Each is
 * in the README's limits table.
 */
export const apiLimits = {
  /** How often an open subscription carries a `ping` event, so proxies keep it open and a dead peer shows up. */
  ssePingMs: 10_000,
  /** tRPC's client reconnects after this long without any event, pings included (a connection silently gone). */
  sseClientInactivityMs: 30_000,
  /** How long one health report answers every caller of a process: a flood of checks costs one probe a second. */
  healthCacheMs: 1_000,
  /** Redis calls one API process lets wait for an answer at once; more are refused 503 REDIS_TIMEOUT at once. */
  redisPendingCalls: 2_000,
} as const;
