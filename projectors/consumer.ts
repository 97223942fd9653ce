import { applyEntries, type ApplyCounters, type LogEntry, type ParkedEvent } from './apply';
import { commitBatch, type CommitResult, type WriteTarget } from './commit';
import type { ProjectionContext } from './context';
import { redisView } from './view';
import { offsetOf, sleep, subscribe, type Subscription } from './stream';

/** One generation being consumed: where it is, and how its run ended. */
export interface Runner {
  generation: number;
  checkpoint: number | null;
  firstOffset: number | null;
  counters: ApplyCounters;
  subscription?: Subscription;
  stopped: boolean;
  oldestPendingAt: number | null;
  done: Promise<RunEnd>;
}

export type RunEnd = Exclude<CommitResult, 'OK'> | 'STOPPED' | 'SWITCHED';

export interface ConsumerHooks {
  /** False once the whole projector is stopping. */
  running(): boolean;
  /** Each committed batch's counters, for the projection's totals. */
  account(counters: ApplyCounters): void;
  /** The live generation's: whether a re-drive was asked for, and that it was done. */
  redrive?: { due(): boolean; done(): void };
  /** Asked after each commit and when idle; true ends the run as 'SWITCHED' (a rebuild that caught up). */
  afterCommit?: (runner: Runner) => Promise<boolean>;
}

export const zeroCounters = (): ApplyCounters => ({ applied: 0, duplicatesSkipped: 0, gaps: 0, parked: 0 });

/**
 * Consumes one generation from its checkpoint until stopped, superseded, or caught up: batches
 * from the stream are applied and committed with their checkpoint, then acknowledged. A failed
 * step (Redis or RabbitMQ away) resumes from the stored checkpoint on a new subscription.
 */
export function consumeGeneration(ctx: ProjectionContext, target: WriteTarget, hooks: ConsumerHooks): Runner {
  const { redis, rabbit, topology, projection, keys, log } = ctx;
  const runner: Runner = {
    generation: target.generation,
    checkpoint: null,
    firstOffset: null,
    counters: zeroCounters(),
    stopped: false,
    oldestPendingAt: null,
    done: Promise.resolve('STOPPED'),
  };
  const view = redisView(redis, keys, target.generation);
  const onGap = (aggregate: string, expected: number, got: number) => log.warn({ aggregate, expected, got }, 'version gap: events missing from the log');
  const going = () => !runner.stopped && hooks.running();

  const commit = async (entries: LogEntry[], checkpoint: number, redriven?: { count: number; unblock: string[] }) => {
    const started = performance.now();
    const { batch, counters } = await applyEntries(projection, entries, view, { attempts: ctx.attempts, onGap, unblocked: new Set(redriven?.unblock) });
    const result = await commitBatch(redis, target, batch, { checkpoint, redriven });
    if (result === 'OK') {
      for (const k of Object.keys(counters) as (keyof ApplyCounters)[]) runner.counters[k] += counters[k];
      hooks.account(counters);
      ctx.metrics?.batch({ projection: projection.name, ...counters, seconds: (performance.now() - started) / 1000 });
      if (log.isLevelEnabled('debug')) log.debug({ generation: target.generation, checkpoint, ...counters, correlationIds: correlationIdsOf(entries) }, 'batch applied');
    }
    for (const parked of batch.parked) log.error({ parked, correlationId: correlationIdOf(parked.event) }, 'event parked');
    return result;
  };

  const redriveParked = async (): Promise<CommitResult> => {
    const raw = await redis.lRange(keys.parked(target.generation), 0, -1);
    if (raw.length === 0) return 'OK';
    const items = raw.map((r) => JSON.parse(r) as ParkedEvent);
    const unblock = [...new Set(items.map((i) => i.aggregate).filter((a): a is string => a !== null))];
    log.info({ count: items.length }, 're-driving parked events');
    // The blocks are lifted for this batch only in memory; Redis lifts them in the same commit.
    return commit(items.map((i) => ({ offset: i.offset, body: i.event })), runner.checkpoint ?? -1, { count: raw.length, unblock });
  };

  runner.done = (async (): Promise<RunEnd> => {
    while (going()) {
      let subscription: Subscription | undefined;
      try {
        const stored = await redis.get(keys.checkpoint(target.generation));
        runner.checkpoint = stored === null ? null : Number(stored);
        const from = runner.checkpoint === null ? 'first' : runner.checkpoint + 1;
        subscription = await subscribe(rabbit, topology.stream, from, ctx.prefetch);
        runner.subscription = subscription;
        log.info({ from, generation: target.generation, role: target.guard === 'generation' ? 'live' : 'rebuild' }, 'consuming the event log');
        while (going() && subscription.active) {
          if (hooks.redrive?.due()) {
            const result = await redriveParked();
            if (result !== 'OK') return result;
            hooks.redrive.done();
          }
          const messages = subscription.pending.splice(0, ctx.batchSize);
          runner.oldestPendingAt = null;
          if (messages.length === 0) {
            if (hooks.afterCommit && (await hooks.afterCommit(runner))) return 'SWITCHED';
            await Promise.race([subscription.next(), sleep(ctx.tickMs)]);
            continue;
          }
          const entries = messages
            .map((m) => ({ offset: offsetOf(m), body: m.body }))
            .filter((e) => runner.checkpoint === null || e.offset > runner.checkpoint);
          runner.firstOffset ??= entries[0]?.offset ?? null;
          if (entries.length > 0) {
            const checkpoint = entries[entries.length - 1]!.offset;
            const result = await commit(entries, checkpoint);
            if (result !== 'OK') return result;
            runner.checkpoint = checkpoint;
          }
          subscription.ack(messages[messages.length - 1]!);
          const next = subscription.pending[0];
          runner.oldestPendingAt = next ? Date.parse((next.body as { occurredAt?: string })?.occurredAt ?? '') || null : null;
          if (hooks.afterCommit && (await hooks.afterCommit(runner))) return 'SWITCHED';
        }
      } catch (error) {
        if (!going()) break;
        log.warn({ err: error }, 'projection step failed; resuming from the checkpoint');
        await sleep(500);
      } finally {
        await subscription?.close();
      }
    }
    return 'STOPPED';
  })();
  return runner;
}

const correlationIdOf = (body: unknown): string | undefined => {
  const id = (body as { correlationId?: unknown } | null)?.correlationId;
  return typeof id === 'string' ? id : undefined;
};

/** The batch's correlation ids, at most 50 (a log line stays small). */
function correlationIdsOf(entries: readonly LogEntry[]): string[] {
  const ids = new Set<string>();
  for (const entry of entries) {
    const id = correlationIdOf(entry.body);
    if (id) ids.add(id);
    if (ids.size === 50) break;
  }
  return [...ids];
}

/** Stops a runner and waits for its run to end. */
export async function stopRunner(runner: Runner | undefined): Promise<void> {
  if (!runner) return;
  runner.stopped = true;
  runner.subscription?.interrupt();
  await runner.done;
}
