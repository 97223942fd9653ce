import type { Client } from '@temporalio/client';
import type { Redis } from '../infra/redis';

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
