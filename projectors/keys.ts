/** Every Redis key the read side uses, in one place. Generation lets a rebuild run beside the live model. */
export function projectionKeys(prefix: string, projection: string) {
  const base = `${prefix}:proj:${projection}`;
  return {
    /** Hash: generation (the active one), version (of the definition that built it). */
    meta: `${base}:meta`,
    checkpoint: (generation: number) => `${base}:g${generation}:checkpoint`,
    /** Hash: `<aggregateType>:<aggregateId>` → last applied version. */
    versions: (generation: number) => `${base}:g${generation}:versions`,
    document: (generation: number, id: string) => `${prefix}:rm:${projection}:g${generation}:${id}`,
    /** List of events a handler could not apply, with the error. */
    parked: `${base}:parked`,
  };
}

/** Pub/sub channel announcing each committed batch, for read-your-writes waits. */
export const appliedChannel = (prefix: string) => `${prefix}:applied`;

export const aggregateKey = (aggregateType: string, aggregateId: string) => `${aggregateType}:${aggregateId}`;
