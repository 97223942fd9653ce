/**
 * Every Redis key the read side uses, in one place. A projection's documents, versions and
 * checkpoint live under a generation, so a rebuild can fill a new one beside the live one.
 */
export function projectionKeys(prefix: string, projection: string) {
  const base = `${prefix}:proj:${projection}`;
  // A keyed index is one sorted set per key; '::' keeps them apart from document ids.
  const indexSuffix = (name: string, key?: string | null) => (key == null ? `::index:${name}` : `::index:${name}::${key}`);
  return {
    /** Hash: generation (active), version (of the definition that built it), rebuilding (generation being built). */
    meta: `${base}:meta`,
    /** The instance that owns the projection (a lease with a TTL). */
    lease: `${base}:lease`,
    /** JSON status the owner refreshes every couple of seconds (expires when nobody owns it). */
    status: `${base}:status`,
    /** Flags the CLI and admin API set for the owner to act on. */
    rebuildRequested: `${base}:rebuild-requested`,
    redriveRequested: `${base}:redrive-requested`,
    /** Set by an operator: the rebuild may switch although the log lacks some aggregates' history. */
    acceptGaps: `${base}:accept-gaps`,
    checkpoint: (generation: number) => `${base}:g${generation}:checkpoint`,
    /** List of the generation's parked events (JSON), oldest first. */
    parked: (generation: number) => `${base}:g${generation}:parked`,
    /** Set of aggregate keys with a parked event in the generation: their later events wait behind it. */
    blocked: (generation: number) => `${base}:g${generation}:blocked`,
    /** Hash: aggregate key → its open version gap (JSON GapRecord); the aggregate is in `blocked` too. */
    gaps: (generation: number) => `${base}:g${generation}:gaps`,
    /** Hash: aggregate key → `{ version, done }` of the fan-out in progress (documents done so far). */
    fanOuts: (generation: number) => `${base}:g${generation}:fan-outs`,
    /** Hash: `<aggregateType>:<aggregateId>` → last applied version. */
    versions: (generation: number) => `${base}:g${generation}:versions`,
    document: (generation: number, id: string) => `${prefix}:rm:${projection}:g${generation}:${id}`,
    /** Sorted set of document ids in a projection's named index (under `key` for a keyed index). */
    index: (generation: number, name: string, key?: string | null) => `${prefix}:rm:${projection}:g${generation}${indexSuffix(name, key)}`,
    /** The part after the generation number in an index key (for reads in Lua). */
    indexSuffix,
    /** The parts around the generation number in document and versions keys (for reads in Lua). */
    documentParts: [`${prefix}:rm:${projection}:g`, ':'] as const,
    versionsParts: [`${base}:g`, ':versions'] as const,
    /** Every key of one generation, for dropping it after a switch. */
    generationPatterns: (generation: number) => [`${base}:g${generation}:*`, `${prefix}:rm:${projection}:g${generation}:*`],
  };
}

export type ProjectionKeys = ReturnType<typeof projectionKeys>;

/** Pub/sub channel announcing each committed batch, for read-your-writes waits and live updates. */
export const appliedChannel = (prefix: string) => `${prefix}:applied`;

export const aggregateKey = (aggregateType: string, aggregateId: string) => `${aggregateType}:${aggregateId}`;
