import type { ApplyCounters } from './apply';
import type { ProjectionContext } from './context';
import { zeroCounters, type Runner } from './consumer';
import type { Rebuild } from './rebuild';

/** What a projection's owner reports every tick: position, lag, throughput, parked, rebuild. */
export interface ProjectionStatus {
  name: string;
  /** The instance that owns it; null when nobody does (the status is then "stalled" to readers). */
  owner: string | null;
  state: 'live' | 'rebuilding' | 'standby' | 'stalled';
  generation: number | null;
  version: number;
  /** Stream offset of the last event applied (or skipped); null before the first. */
  checkpoint: number | null;
  /** Newest offset in the stream, as the process's tail follower last saw it; null if unknown. */
  tail: number | null;
  lagEvents: number | null;
  /** Age of the oldest delivered, unapplied event. */
  lagSeconds: number;
  eventsPerSecond: number;
  applied: number;
  duplicatesSkipped: number;
  /** Version gaps met (events parked because versions before them were missing), counted by this owner. */
  gaps: number;
  /** Aggregates of the live generation parked behind a version gap now (`ledgerflow parked` lists their events). */
  gapsOpen: number;
  parked: number;
  /**
   * Set while the projection (or its rebuild) consumes nothing because its parked list is full
   * (PARKED_LIST_FULL); a re-drive makes room in the live one; a rebuild stays halted, unswitched.
   */
  halted: Runner['halted'];
  /** Offsets the log had trimmed when the projection resumed after them: history it never read. */
  trimmed: Runner['trimmed'];
  rebuild: {
    generation: number;
    done: number;
    total: number | null;
    eventsPerSecond: number;
    etaSeconds: number | null;
    /** Caught up but not switching: the log lacks `gaps` aggregates' history (REBUILD_HELD_FOR_GAPS). */
    held: Rebuild['held'];
  } | null;
  updatedAt: string;
}

/** The supervisor's state a status is computed from. */
export interface Supervised {
  owning: boolean;
  live: Runner | undefined;
  rebuild: Rebuild | undefined;
}

/**
 * Keeps one projection's totals and rate, and publishes its status (with the stream's tail) to Redis for
 * the API, the CLI and metrics (expiring when its owner stops refreshing it).
 */
export function createStatusReporter(ctx: ProjectionContext) {
  const { redis, projection, keys } = ctx;
  const totals = zeroCounters();
  let lastRate = { at: Date.now(), applied: 0, eventsPerSecond: 0 };

  function current({ owning, live, rebuild }: Supervised, parked = totals.parked, version = projection.version, gapsOpen = 0): ProjectionStatus {
    const now = Date.now();
    if (now - lastRate.at >= 1000) {
      lastRate = { at: now, applied: totals.applied, eventsPerSecond: ((totals.applied - lastRate.applied) * 1000) / (now - lastRate.at) };
    }
    const checkpoint = live?.checkpoint ?? null;
    // The follower's tail may be a moment behind what this projection already read; the stream's
    // tail is never below an offset read from it.
    const followed = ctx.streamTail();
    const tail = followed === null || checkpoint === null ? followed : Math.max(followed, checkpoint);
    return {
      name: projection.name,
      owner: owning ? ctx.owner : null,
      state: !owning ? 'standby' : rebuild ? 'rebuilding' : 'live',
      generation: live?.generation ?? null,
      version,
      checkpoint,
      tail,
      lagEvents: tail === null ? null : Math.max(0, tail - (checkpoint ?? -1)),
      lagSeconds: live?.oldestPendingAt ? Math.max(0, (now - live.oldestPendingAt) / 1000) : 0,
      eventsPerSecond: Math.round(lastRate.eventsPerSecond),
      applied: totals.applied,
      duplicatesSkipped: totals.duplicatesSkipped,
      gaps: totals.gaps,
      gapsOpen,
      parked,
      halted: live?.halted ?? rebuild?.halted ?? null,
      trimmed: live?.trimmed ?? null,
      rebuild: rebuild ? rebuildProgress(rebuild, tail, now) : null,
      updatedAt: new Date(now).toISOString(),
    };
  }

  return {
    account(counters: ApplyCounters) {
      for (const k of Object.keys(counters) as (keyof ApplyCounters)[]) totals[k] += counters[k];
    },
    current,
    /** Writes the status with the live generation's parked count. */
    async publish(state: Supervised, version: number) {
      const generation = state.live?.generation ?? 1;
      const [parked, gapsOpen] = await Promise.all([redis.lLen(keys.parked(generation)), redis.hLen(keys.gaps(generation))]);
      const status = current(state, parked, version, gapsOpen);
      await redis.set(keys.status, JSON.stringify(status), { expiration: { type: 'PX', value: ctx.leaseMs * 2 } });
    },
  };
}

/** Events done of total, rate and time left; offsets stand for events, the log being the total. */
function rebuildProgress(rebuild: Rebuild, tail: number | null, now: number): NonNullable<ProjectionStatus['rebuild']> {
  const first = rebuild.firstOffset ?? 0;
  const done = rebuild.checkpoint === null ? 0 : rebuild.checkpoint - first + 1;
  const total = tail === null ? null : Math.max(done, tail - first + 1);
  const seconds = (now - rebuild.startedAt) / 1000;
  const rate = seconds > 0 ? rebuild.counters.applied / seconds : 0;
  const perOffset = seconds > 0 ? done / seconds : 0;
  return {
    generation: rebuild.generation,
    done,
    total,
    eventsPerSecond: Math.round(rate),
    etaSeconds: total === null || perOffset === 0 ? null : Math.round((total - done) / perOffset),
    held: rebuild.held,
  };
}
