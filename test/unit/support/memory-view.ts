import type { AppliedBatch, GapRecord, GenerationView, IndexMember, ParkedEvent } from '../../../projectors/apply';

/**
 * One projection generation in memory: what `applyEntries` reads, and `commit` writes a batch
 * back as the Redis commit script would, so tests can apply batch after batch.
 */
export function memoryView() {
  const versions = new Map<string, number>();
  const blocked = new Set<string>();
  const gaps = new Map<string, GapRecord>();
  /** Documents as JSON, so every read hands out a fresh copy like Redis does. */
  const documents = new Map<string, string>();
  /** `<index>` or `<index>::<key>` → id → score. */
  const sets = new Map<string, Map<string, number>>();
  const parked: ParkedEvent[] = [];
  const setName = (index: string, key: string | null) => (key === null ? index : `${index}::${key}`);

  const view: GenerationView = {
    versions: async (aggregates) => aggregates.map((key) => versions.get(key) ?? 0),
    blocked: async (aggregates) => aggregates.map((key) => blocked.has(key)),
    gaps: async (aggregates) => aggregates.map((key) => gaps.get(key) ?? null),
    documents: async (ids) => ids.map((id) => (documents.has(id) ? JSON.parse(documents.get(id)!) : null)),
    async members(index, key, { order, limit, start = 0 }) {
      const members: IndexMember[] = [...(sets.get(setName(index, key)) ?? [])].map(([id, score]) => ({ id, score }));
      members.sort((a, b) => a.score - b.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      if (order === 'desc') members.reverse();
      return members.slice(start, limit === undefined ? undefined : start + limit);
    },
  };

  return {
    ...view,
    versionsMap: versions,
    blockedSet: blocked,
    gapsMap: gaps,
    parked,
    document: (id: string): unknown => (documents.has(id) ? JSON.parse(documents.get(id)!) : null),
    /** Ids in one set, by score. */
    ids: async (index: string, key: string | null = null) => (await view.members(index, key, { order: 'asc' })).map((m) => m.id),
    put(id: string, doc: unknown) {
      documents.set(id, JSON.stringify(doc));
    },
    commit(batch: AppliedBatch, redriven?: { count: number; unblock: string[] }) {
      if (redriven) {
        parked.splice(0, redriven.count);
        for (const key of redriven.unblock) {
          blocked.delete(key);
          gaps.delete(key);
        }
      }
      for (const [id, doc] of batch.documents) {
        if (doc === null) documents.delete(id);
        else documents.set(id, JSON.stringify(doc));
      }
      for (const { index, key, id, score } of batch.indexes) {
        const set = sets.get(setName(index, key)) ?? new Map<string, number>();
        sets.set(setName(index, key), set);
        if (score === null) set.delete(id);
        else set.set(id, score);
      }
      for (const [key, version] of batch.versions) versions.set(key, version);
      parked.push(...batch.parked);
      for (const key of batch.blocked) blocked.add(key);
      for (const [key, gap] of batch.gaps) gaps.set(key, gap);
    },
  };
}

export type MemoryView = ReturnType<typeof memoryView>;
