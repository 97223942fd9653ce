import { SpanKind, SpanStatusCode, trace, type Link } from '@opentelemetry/api';
import type { AsyncMessage } from 'rabbitmq-client';
import { contextOf, tracer, tracingEnabled } from '../infra/tracing';
import { applyEntries, type ApplyCounters, type LogEntry, type ParkedEvent } from './apply';
import { commitBatch, type CommitResult, type WriteTarget } from './commit';
import type { ProjectionContext } from './context';
import { redisView } from './view';
import { sleep } from '../infra/deadline';
import { offsetOf, subscribe, type Subscription } from './stream';

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
            const result = await traced(ctx, target, messages, () => commit(entries, checkpoint));
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

/** At most this many links on a batch's span (a rebuild's batch holds thousands of events). */
const maxLinks = 128;

/**
 * Traced, a batch runs in a span of its own, linked to the events' producer spans; and each trace
 * the live generation's batch continues (one per command, usually) gets a child span there, so a
 * command's trace ends at the read model that applied it.
 */
async function traced<T>(ctx: ProjectionContext, target: WriteTarget, messages: readonly AsyncMessage[], run: () => Promise<T>): Promise<T> {
  if (!tracingEnabled()) return run();
  const parents = [...new Set(messages.map((m) => m.headers?.traceparent).filter((tp): tp is string => typeof tp === 'string'))];
  const links = parents.slice(0, maxLinks).flatMap((tp): Link[] => {
    const span = trace.getSpanContext(contextOf(tp));
    return span ? [{ context: span }] : [];
  });
  const attributes = {
    'messaging.system': 'rabbitmq',
    'messaging.operation.type': 'process',
    'messaging.source.name': ctx.topology.stream,
    'ledgerflow.projection': ctx.projection.name,
    'ledgerflow.generation': target.generation,
  };
  const started = Date.now();
  return tracer().startActiveSpan(
    `project ${ctx.projection.name} batch`,
    { kind: SpanKind.CONSUMER, links, attributes: { ...attributes, 'messaging.batch.message_count': messages.length } },
    async (batch) => {
      let failed: unknown;
      try {
        return await run();
      } catch (error) {
        failed = error;
        batch.recordException(error as Error);
        batch.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        throw error;
      } finally {
        if (target.guard === 'generation') {
          for (const tp of parents) {
            const span = tracer().startSpan(`project ${ctx.projection.name}`, { kind: SpanKind.CONSUMER, startTime: started, links: [{ context: batch.spanContext() }], attributes }, contextOf(tp));
            if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
            span.end();
          }
        }
        batch.end();
      }
    },
  );
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
