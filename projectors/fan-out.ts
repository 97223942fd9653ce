import type { AnyProjection } from '../core/projection';
import { applyEvent, documentsOf, withAttempts, type AppliedBatch, type ApplyCounters, type ParkedEvent, type PendingFanOut } from './apply';
import type { CommitResult, FanOutProgress } from './commit';
import { aggregateKey } from './keys';
import { createWorkingSet, type GenerationView, type IndexMember } from './working-set';

/** Where one commit of a fan-out leaves it: a chunk in between, or the last step (the event applied or parked). */
export interface FanOutCommit {
  batch: AppliedBatch;
  final: boolean;
  progress: FanOutProgress | null;
}

export interface FanOutOptions {
  /** Documents per chunk: per read of the index, MGET and commit (500). */
  chunk: number;
  attempts: number;
  retryDelayMs?: (attempt: number) => number;
  now?: () => string;
  /** The documents already done for this event, as the last chunk committed recorded them. */
  progress: FanOutProgress | null;
}

export interface FanOutResult {
  result: CommitResult;
  counters: ApplyCounters;
  parked: ParkedEvent[];
}

/**
 * Applies one event that fans out over an index in bounded chunks: each chunk reads `chunk`
 * members of the index by rank, their documents, applies the handler, and commits them with the
 * fan-out's progress, leaving the checkpoint and the aggregate's version where they were; the
 * last step applies the documents `documents` names and moves both. A crash in between resumes
 * at the recorded progress, so no document is applied twice and none is missed; memory and
 * every Redis call stay within one chunk. A handler that throws (or moves documents within the
 * fanned index, which would shift the ranks) parks the event with its progress kept, so a
 * re-drive goes on where it stopped.
 */
export async function applyFanOut(
  projection: AnyProjection,
  view: GenerationView,
  pending: PendingFanOut,
  options: FanOutOptions,
  commit: (step: FanOutCommit) => Promise<CommitResult>,
): Promise<FanOutResult> {
  const { event, handler, spec, entry } = pending;
  const key = aggregateKey(event.aggregateType, event.aggregateId);
  const indexKey = spec.key ?? null;
  const counters: ApplyCounters = { applied: 0, duplicatesSkipped: 0, gaps: 0, parked: 0 };
  let done = options.progress?.version === event.version ? options.progress.done : 0;

  const park = async (error: string): Promise<FanOutResult> => {
    const parked: ParkedEvent = {
      offset: entry.offset,
      aggregate: key,
      version: event.version,
      error,
      attempts: options.attempts,
      parkedAt: (options.now ?? (() => new Date().toISOString()))(),
      event: entry.body,
    };
    const batch = emptyBatch({ parked: [parked], blocked: [key] });
    counters.parked = 1;
    return { result: await commit({ batch, final: true, progress: { version: event.version, done } }), counters, parked: [parked] };
  };

  if (!Object.hasOwn(projection.indexes, spec.index)) return park(`fanOut names index ${spec.index}, which projection ${projection.name} does not have`);
  let explicit: Set<string>;
  try {
    explicit = new Set(await documentsOf(handler, event, createWorkingSet(projection, view).layer().reader));
  } catch (error) {
    return park(describe(error));
  }

  for (;;) {
    const members = await view.members(spec.index, indexKey, { order: 'asc', start: done, limit: options.chunk });
    if (members.length === 0) break;
    const working = createWorkingSet(projection, view);
    const ids = members.map((m) => m.id).filter((id) => !explicit.has(id));
    const failed = await withAttempts(options.attempts, options.retryDelayMs, async () => {
      await applyEvent(working, handler, event, ids);
      keptInPlace(working.indexWrites(), spec.index, indexKey, members);
    });
    if (failed) return park(failed);
    done += members.length;
    const batch = emptyBatch({ documents: working.documents(), indexes: working.indexWrites() });
    const result = await commit({ batch, final: false, progress: { version: event.version, done } });
    if (result !== 'OK') return { result, counters, parked: [] };
  }

  const working = createWorkingSet(projection, view);
  const failed = await withAttempts(options.attempts, options.retryDelayMs, () => applyEvent(working, handler, event, [...explicit]));
  if (failed) return park(failed);
  const batch = emptyBatch({ documents: working.documents(), indexes: working.indexWrites(), versions: new Map([[key, event.version]]) });
  counters.applied = 1;
  return { result: await commit({ batch, final: true, progress: null }), counters, parked: [] };
}

/** Refuses a chunk that adds to, removes from or moves within the set it pages through by rank. */
function keptInPlace(writes: readonly { index: string; key: string | null; id: string; score: number | null }[], index: string, key: string | null, members: readonly IndexMember[]) {
  const scores = new Map(members.map((m) => [m.id, m.score]));
  const moved = writes.find((w) => w.index === index && w.key === key && w.score !== scores.get(w.id));
  if (moved) throw new Error(`a fan-out over index ${index} must not change that index (document ${moved.id} moved)`);
}

function emptyBatch(parts: Partial<AppliedBatch>): AppliedBatch {
  return { documents: new Map(), indexes: [], versions: new Map(), parked: [], blocked: [], gaps: new Map(), ...parts };
}

const describe = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));
