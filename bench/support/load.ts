/**
 * The two ways a scenario applies load. Closed loop: N senders, each sending its next operation
 * when the previous one answered (throughput at a given concurrency). Open loop: operations
 * fired at a fixed rate whatever the answers (latency at a given load, without the coordinated
 * omission a closed loop hides: a latency is measured from when the operation was due).
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** How a failed operation is treated: retried (a retryable refusal) or counted under a code. */
export interface Verdict {
  retry: boolean;
  code: string;
}

export type Classify = (error: unknown) => Verdict;

export interface LoadResult {
  /** Operations that succeeded. */
  ops: number;
  seconds: number;
  perSecond: number;
  /** Per successful operation, from when it was due to its answer, retries included. */
  latenciesMs: number[];
  /** Retryable refusals that were retried (each retry counts once). */
  retries: number;
  /** Failed operations by code. */
  errors: Record<string, number>;
  /** The first error message seen, to say why a scenario failed. */
  firstError?: string;
  /** Why the loop stopped before its time was up, if it did. */
  aborted?: string;
}

interface Tally {
  ops: number;
  latenciesMs: number[];
  retries: number;
  errors: Record<string, number>;
  firstError?: string;
  aborted?: string;
}

const newTally = (): Tally => ({ ops: 0, latenciesMs: [], retries: 0, errors: {} });

/** Retry backoff for refusals: short, as a refusal says "busy now", capped so a loop stays bounded. */
const backoffMs = (attempt: number) => Math.min(5 * 2 ** attempt, 200);
/** Refusals retried past the deadline for at most this long, then counted as errors. */
const retryGraceMs = 10_000;

async function attempt(tally: Tally, op: () => Promise<void>, classify: Classify, dueAt: number, deadline: number): Promise<void> {
  for (let n = 0; ; n++) {
    try {
      await op();
      tally.ops += 1;
      tally.latenciesMs.push(performance.now() - dueAt);
      return;
    } catch (error) {
      const verdict = classify(error);
      tally.firstError ??= `${verdict.code}: ${error instanceof Error ? error.message : String(error)}`.slice(0, 500);
      if (verdict.retry && performance.now() < deadline + retryGraceMs) {
        tally.retries += 1;
        await sleep(backoffMs(n));
        continue;
      }
      tally.errors[verdict.code] = (tally.errors[verdict.code] ?? 0) + 1;
      const failed = Object.values(tally.errors).reduce((sum, x) => sum + x, 0);
      // A scenario that mostly fails is broken, not slow: stop it rather than burn the time.
      if (failed >= 50 && failed > tally.ops) tally.aborted ??= `more failures (${failed}) than successes (${tally.ops}); first: ${tally.firstError}`;
      return;
    }
  }
}

function finish(tally: Tally, started: number): LoadResult {
  const seconds = (performance.now() - started) / 1000;
  return { ...tally, seconds: Math.round(seconds * 100) / 100, perSecond: Math.round((tally.ops / seconds) * 10) / 10 };
}

export interface ClosedLoopOptions {
  seconds: number;
  concurrency: number;
  /** At most this many operations (e.g. each aggregate of a pool once), even before the time is up. */
  limit?: number;
  /** Operation number `i` (0, 1, 2, ... across senders) from sender `sender`. */
  op: (i: number, sender: number) => Promise<void>;
  classify: Classify;
}

export async function closedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  const tally = newTally();
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const limit = options.limit ?? Infinity;
  let next = 0;
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, sender) => {
      while (performance.now() < deadline && next < limit && !tally.aborted) {
        const i = next++;
        await attempt(tally, () => options.op(i, sender), options.classify, performance.now(), deadline);
      }
    }),
  );
  return finish(tally, started);
}

export interface OpenLoopOptions {
  seconds: number;
  /** Operations per second. */
  rate: number;
  /** Operations in flight beyond which due ones are dropped (counted), so an overload stays bounded. */
  maxInFlight: number;
  op: (i: number) => Promise<void>;
  classify: Classify;
}

export interface OpenLoopResult extends LoadResult {
  rate: number;
  /** Operations that were due while `maxInFlight` were already waiting. */
  dropped: number;
}

export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const tally = newTally();
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const intervalMs = 1000 / options.rate;
  const inFlight = new Set<Promise<void>>();
  let dropped = 0;
  for (let i = 0; !tally.aborted; i++) {
    const dueAt = started + i * intervalMs;
    if (dueAt >= deadline) break;
    const wait = dueAt - performance.now();
    if (wait > 1) await sleep(wait);
    if (inFlight.size >= options.maxInFlight) {
      dropped += 1;
      continue;
    }
    const running: Promise<void> = attempt(tally, () => options.op(i), options.classify, dueAt, deadline).finally(() => inFlight.delete(running));
    inFlight.add(running);
  }
  await Promise.all(inFlight);
  return { ...finish(tally, started), rate: options.rate, dropped };
}
