import { SpanKind, SpanStatusCode, trace, type Link } from '@opentelemetry/api';
import type { AsyncMessage } from 'rabbitmq-client';
import { contextOf, tracer, tracingEnabled } from '../infra/tracing';
import { engineCodes } from '../core/errors';
import { applyEntries, type AppliedBatch, type ApplyCounters, type LogEntry, type ParkedEvent } from './apply';
import { commitBatch, type CommitPosition, type CommitResult, type FanOutProgress, type WriteTarget } from './commit';
import { applyFanOut } from './fan-out';
import { aggregateKey } from './keys';
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
  /** Why the runner consumes nothing while running: its parked list is full (it waits for a re-drive to make room). */
  halted: { code: typeof engineCodes.PARKED_LIST_FULL; since: string; limit: number } | null;
  /** Offsets gone from the log when the runner resumed after them (retention trimmed them unread). */
  trimmed: { from: number; to: number } | null;
  done: Promise<RunEnd>;
}

export type RunEnd = Exclude<CommitResult, 'OK' | 'PARKED_LIST_FULL'> | 'STOPPED' | 'SWITCHED';

export interface ConsumerHooks {
  /** False once the whole projector is stopping. */
  running(): boolean;
  /** Each committed batch's counters, for the projection's totals. */
  account(counters: ApplyCounters): void;
  /** The live generation's: whether a re-drive was asked for, asking for one (durably), and that it was done. */
  redrive?: { due(): boolean; request(reason: string): Promise<void>; done(): Promise<void> };
  /** Asked after each commit and when idle; true ends the run as 'SWITCHED' (a rebuild that caught up). */
  afterCommit?: (runner: Runner) => Promise<boolean>;
}

export const zeroCounters = (): ApplyCounters => ({ applied: 0, duplicatesSkipped: 0, gaps: 0, parked: 0 });

/** Adds `counters` into `totals`. */
export function addCounters(totals: ApplyCounters, counters: ApplyCounters): void {
  for (const k of Object.keys(counters) as (keyof ApplyCounters)[]) totals[k] += counters[k];
}

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
    halted: null,
    trimmed: null,
    done: Promise.resolve('STOPPED'),
  };
  const view = redisView(redis, keys, target.generation);
  const onGap = (aggregate: string, expected: number, got: number) => log.warn({ aggregate, expected, got }, 'version gap: the aggregate is parked until the missing versions are re-driven');
  const going = () => !runner.stopped && hooks.running();
  /** A rebuild's own re-drive (its generation is rebuilt from scratch after a crash, so memory is enough). */
  let redriveAsked = false;
  const redriveDue = () => redriveAsked || (hooks.redrive?.due() ?? false);

  /**
   * Applies entries and commits them in steps: a batch up to each event that fans out over an
   * index, that event in chunks of its own (projectors/fan-out.ts), then the rest. `after` is the
   * checkpoint a step leaves (a re-drive leaves it where it is); a re-drive lifts its blocks in
   * the first commit and takes its entries off the parked list in the last.
   */
  const applyAll = async (entries: LogEntry[], place: { after: (entry: LogEntry) => number; redrive?: { count: number; unblock: string[] } }): Promise<CommitResult> => {
    const started = performance.now();
    const totals = zeroCounters();
    let unblock = place.redrive?.unblock ?? [];
    let committed = runner.checkpoint ?? -1;
    let filled = false;
    // A re-drive's steps may re-park before its last one trims the list: the net is never more.
    const maxParked = place.redrive ? Number.MAX_SAFE_INTEGER : ctx.maxParked;
    const write = async (batch: AppliedBatch, checkpoint: number, last: boolean, fanOut?: CommitPosition['fanOut']) => {
      const redriven = place.redrive && { count: last ? place.redrive.count : 0, unblock };
      const result = await commitBatch(redis, target, batch, { checkpoint, redriven, fanOut, maxParked });
      if (result !== 'OK') return result;
      unblock = [];
      committed = checkpoint;
      for (const parked of batch.parked) log.error({ parked, correlationId: correlationIdOf(parked.event) }, 'event parked');
      return result;
    };
    let rest = entries;
    for (;;) {
      const applied = await applyEntries(projection, rest, view, { attempts: ctx.attempts, onGap, unblocked: new Set(unblock) });
      addCounters(totals, applied.counters);
      filled ||= applied.filled;
      const pending = applied.fanOut;
      if (applied.consumed > 0 || !pending) {
        const result = await write(applied.batch, applied.consumed > 0 ? place.after(rest[applied.consumed - 1]!) : committed, !pending);
        if (result !== 'OK') return result;
      }
      if (!pending) break;
      rest = rest.slice(applied.consumed + 1);
      const aggregate = aggregateKey(pending.event.aggregateType, pending.event.aggregateId);
      const stored = await redis.hGet(keys.fanOuts(target.generation), aggregate);
      const progress = stored === null ? null : (JSON.parse(stored) as FanOutProgress);
      const fanned = await applyFanOut(projection, view, pending, { chunk: ctx.chunk, attempts: ctx.attempts, progress }, (step) =>
        write(step.batch, step.final ? place.after(pending.entry) : committed, step.final && rest.length === 0, { aggregate, progress: step.progress }),
      );
      addCounters(totals, fanned.counters);
      if (fanned.result !== 'OK') return fanned.result;
      if (rest.length === 0) break;
    }
    addCounters(runner.counters, totals);
    hooks.account(totals);
    ctx.metrics?.batch({ projection: projection.name, ...totals, seconds: (performance.now() - started) / 1000 });
    if (log.isLevelEnabled('debug')) log.debug({ generation: target.generation, checkpoint: committed, ...totals, correlationIds: correlationIdsOf(entries) }, 'batch applied');
    // A missing version arrived behind a gap: a re-drive applies the aggregate's parked events in order.
    if (filled && !place.redrive) {
      if (hooks.redrive) await hooks.redrive.request('a gap was filled');
      else redriveAsked = true;
    }
    return 'OK';
  };

  const commit = (entries: LogEntry[]) => applyAll(entries, { after: (entry) => entry.offset });

  /**
   * Re-applies the parked events present when it starts, `ctx.chunk` at a time (each chunk in
   * version order, so a gap's missing versions parked after it go first); events parked again
   * go to the list's tail, and their aggregates stay blocked for the chunks after.
   */
  const redriveParked = async (): Promise<CommitResult> => {
    const list = keys.parked(target.generation);
    const total = await redis.lLen(list);
    if (total > 0) log.info({ count: total }, 're-driving parked events');
    const reblocked = new Set<string>();
    for (let done = 0; done < total; ) {
      const raw = await redis.lRange(list, 0, Math.min(ctx.chunk, total - done) - 1);
      if (raw.length === 0) break;
      const items = raw.map((r) => JSON.parse(r) as ParkedEvent).sort((a, b) => (a.version ?? 0) - (b.version ?? 0));
      const aggregates = [...new Set(items.map((i) => i.aggregate).filter((a): a is string => a !== null))];
      const unblock = aggregates.filter((a) => !reblocked.has(a));
      const checkpoint = runner.checkpoint ?? -1;
      const result = await applyAll(items.map((i) => ({ offset: i.offset, body: i.event })), { after: () => checkpoint, redrive: { count: raw.length, unblock } });
      if (result !== 'OK') return result;
      const flags = aggregates.length ? await view.blocked(aggregates) : [];
      aggregates.forEach((a, i) => flags[i] && reblocked.add(a));
      done += raw.length;
    }
    redriveAsked = false;
    await hooks.redrive?.done();
    return 'OK';
  };

  /** The parked list is full: consume nothing until a re-drive is asked for (it may make room), or the run stops. */
  const waitForRoom = async () => {
    if (!runner.halted) {
      runner.halted = { code: engineCodes.PARKED_LIST_FULL, since: new Date().toISOString(), limit: ctx.maxParked };
      log.error({ limit: ctx.maxParked }, 'the parked list is full: the projection stops consuming until a re-drive makes room');
    }
    while (going() && !redriveDue()) await sleep(ctx.tickMs);
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
        // The first offset delivered after the checkpoint shows whether retention trimmed some unread.
        let resumedAt = runner.checkpoint === null ? null : runner.checkpoint + 1;
        while (going() && subscription.active) {
          if (redriveDue()) {
            const result = await redriveParked();
            if (result === 'LEASE_LOST' || result === 'GENERATION_CHANGED') return result;
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
          if (resumedAt !== null && entries.length > 0) {
            if (entries[0]!.offset > resumedAt) {
              runner.trimmed = { from: resumedAt, to: entries[0]!.offset - 1 };
              log.error(runner.trimmed, 'events were trimmed from the log before this projection read them: their aggregates park at their next event (a gap)');
            }
            resumedAt = null;
          }
          if (entries.length > 0) {
            const checkpoint = entries[entries.length - 1]!.offset;
            const result = await traced(ctx, target, messages, () => commit(entries));
            if (result === 'PARKED_LIST_FULL') {
              await waitForRoom();
              break;
            }
            if (result !== 'OK') return result;
            runner.checkpoint = checkpoint;
            runner.halted = null;
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
