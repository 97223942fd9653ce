import type { Client } from '@temporalio/client';
import type { Redis } from '../infra/redis';
import { apiLimits } from './limits';

export interface HealthReport {
  ok: boolean;
  checks: Record<'temporal' | 'redis' | 'rabbitmq', { ok: boolean; latencyMs: number; error?: string }>;
}

export interface HealthDeps {
  temporal: Client;
  redis: Redis;
  rabbit: { readonly ready: boolean };
}

async function probe(check: () => Promise<unknown>, timeoutMs = 2000) {
  const started = performance.now();
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: error instanceof Error ? error.message : String(error) };
  }
}

/** Reachability of the three services the API depends on. */
export async function checkHealth(deps: HealthDeps): Promise<HealthReport> {
  const [temporal, redis, rabbitmq] = await Promise.all([
    // With a deadline on the call itself: an abandoned call would keep retrying in the background.
    probe(() => deps.temporal.connection.withDeadline(Date.now() + 2000, () => deps.temporal.workflowService.getSystemInfo({}))),
    probe(() => deps.redis.ping()),
    probe(async () => {
      if (!deps.rabbit.ready) throw new Error('not connected');
    }),
  ]);
  return { ok: temporal.ok && redis.ok && rabbitmq.ok, checks: { temporal, redis, rabbitmq } };
}

const recentReports = new WeakMap<object, { at: number; report: Promise<HealthReport> }>();

/**
 * The process's latest report if younger than `apiLimits.healthCacheMs` (or still being made), else a
 * new one. `/health` and `system.health` are public: without this, each call would cost a
 * round trip to Temporal and to Redis.
 */
export function recentHealth(deps: HealthDeps): Promise<HealthReport> {
  const recent = recentReports.get(deps.temporal);
  if (recent && performance.now() - recent.at < apiLimits.healthCacheMs) return recent.report;
  const report = checkHealth(deps);
  recentReports.set(deps.temporal, { at: performance.now(), report });
  return report;
}
