import type { AnyProjection, IndexEntry, ProjectionReader } from '../core/projection';

/** A sorted-set member as the view reads it. */
export interface IndexMember {
  id: string;
  score: number;
}

/**
 * What the apply step reads of the generation it writes, as of that generation's last commit:
 * implemented over Redis by the runtime (projectors/view.ts) and in memory by unit tests.
 */
export interface GenerationView {
  /** Each aggregate's last applied version, 0 for none, in the order asked. */
  versions(aggregates: readonly string[]): Promise<number[]>;
  /** Whether each aggregate waits behind a parked event, in the order asked. */
  blocked(aggregates: readonly string[]): Promise<boolean[]>;
  /** Each aggregate's open version gap (why it is blocked), or null, in the order asked. */
  gaps(aggregates: readonly string[]): Promise<(GapRecord | null)[]>;
  /** Each document as stored (parsed JSON), or null, in the order asked. */
  documents(ids: readonly string[]): Promise<unknown[]>;
  /** One sorted set of an index (`key` null for an unkeyed index), by score, ties by id, from rank `start` (0). */
  members(index: string, key: string | null, options: { order: 'asc' | 'desc'; limit?: number; start?: number }): Promise<IndexMember[]>;
}

/**
 * An aggregate's versions missing from the log: `expected` was due, `got` arrived (at `offset`).
 * The aggregate is blocked behind it until a re-drive applies the missing versions. Offset -1:
 * a rebuild found none of its events in the log, though the live generation had applied `got - 1`.
 */
export interface GapRecord {
  expected: number;
  got: number;
  offset: number;
}

/** Where a document sits in one index: a score in the set named by `key` (null: the unkeyed set). */
type Placement = { key: string | null; score: number } | null;

/** Index name → where one document sits in that index. */
type Placements = Map<string, Placement>;

/** One write to an index: a score for `id` in one sorted set, or null to remove it from that set. */
export interface IndexWrite {
  index: string;
  key: string | null;
  id: string;
  score: number | null;
}

/**
 * The documents and index entries a batch has read and written so far, over the generation's
 * committed state. Each event works in a layer of its own (`layer()`), kept only if the whole
 * event applies, so a handler that throws halfway leaves nothing behind for its retry.
 */
export function createWorkingSet(projection: AnyProjection, view: GenerationView) {
  /** Documents as committed, once read. */
  const committed = new Map<string, unknown>();
  /** Documents the batch wrote. */
  const written = new Map<string, unknown>();
  /** Where each written document sits now, and where it sat as committed (what a move removes). */
  const placed = new Map<string, Placements>();
  const placedBefore = new Map<string, Placements>();

  async function load(ids: Iterable<string>): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => !committed.has(id) && !written.has(id));
    if (missing.length === 0) return;
    const docs = await view.documents(missing);
    missing.forEach((id, i) => committed.set(id, docs[i] ?? null));
  }

  /** The document's entry in every index; a throwing or malformed index fails the event. */
  function placementsOf(doc: unknown, id: string): Placements {
    const result: Placements = new Map();
    for (const [name, entryOf] of Object.entries(projection.indexes)) {
      result.set(name, doc === null ? null : toPlacement(name, entryOf(doc, id)));
    }
    return result;
  }

  /** A layer for one event: reads see it over the batch; `keep()` folds it into the batch. */
  function layer() {
    const docs = new Map<string, unknown>();
    const placements = new Map<string, Placements>();
    const before = new Map<string, Placements>();

    const current = (id: string): unknown => (docs.has(id) ? docs.get(id) : written.has(id) ? written.get(id) : (committed.get(id) ?? null));

    const reader: ProjectionReader = {
      async get<T>(id: string) {
        await load([id]);
        return current(id) as T | null;
      },
      async ids(index, options = {}) {
        if (!Object.hasOwn(projection.indexes, index)) throw new Error(`projection ${projection.name} has no index ${index}`);
        const key = options.key ?? null;
        const order = options.order ?? 'asc';
        // Documents this batch wrote are placed from memory, the rest as committed. Reading that
        // many more keeps a limit right when the batch moved some of the first ones away.
        const touched = new Set([...placed.keys(), ...placements.keys()]);
        const limit = options.limit === undefined ? undefined : options.limit + touched.size;
        const stored = await view.members(index, key, { order, limit });
        const members = stored.filter((member) => !touched.has(member.id));
        for (const id of touched) {
          const placement = (placements.get(id) ?? placed.get(id))?.get(index);
          if (placement && placement.key === key) members.push({ id, score: placement.score });
        }
        members.sort(order === 'desc' ? (a, b) => byScore(b, a) : byScore);
        return members.slice(0, options.limit).map((member) => member.id);
      },
    };

    return {
      reader,
      /** The document as of this point in the batch (loaded first). */
      current,
      write(id: string, doc: unknown) {
        if (!written.has(id) && !before.has(id)) before.set(id, placementsOf(committed.get(id) ?? null, id));
        placements.set(id, placementsOf(doc, id));
        docs.set(id, doc);
      },
      keep() {
        for (const [id, doc] of docs) written.set(id, doc);
        for (const [id, placement] of placements) placed.set(id, placement);
        for (const [id, placement] of before) if (!placedBefore.has(id)) placedBefore.set(id, placement);
      },
    };
  }

  return {
    load,
    layer,
    /** The documents the batch changed (null: delete). */
    documents: (): Map<string, unknown> => new Map(written),
    /** The index writes that take the committed sets to where the batch left its documents. */
    indexWrites(): IndexWrite[] {
      const writes: IndexWrite[] = [];
      for (const [id, byIndex] of placed) {
        for (const [index, now] of byIndex) {
          const was = placedBefore.get(id)?.get(index) ?? null;
          // An entry where it was needs no write (a rename fanned out to 100,000 summaries moves none).
          if (was && now && was.key === now.key && was.score === now.score) continue;
          if (was && (now === null || now.key !== was.key)) writes.push({ index, key: was.key, id, score: null });
          if (now) writes.push({ index, key: now.key, id, score: now.score });
        }
      }
      return writes;
    },
  };
}

export type WorkingSet = ReturnType<typeof createWorkingSet>;

function toPlacement(index: string, entry: IndexEntry): Placement {
  if (entry === null) return null;
  if (typeof entry === 'number' && Number.isFinite(entry)) return { key: null, score: entry };
  if (typeof entry === 'object' && typeof entry.key === 'string' && Number.isFinite(entry.score)) return { key: entry.key, score: entry.score };
  throw new Error(`index ${index} gave ${typeof entry === 'object' ? JSON.stringify(entry) : String(entry)}, not a finite number, { key, score } or null`);
}

/** Redis's order within a sorted set: by score, then by member. */
function byScore(a: IndexMember, b: IndexMember): number {
  return a.score - b.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
