/** Names and ids shared by every layer; pure functions so workflow code may import them. */

export function workflowIdOf(aggregateType: string, aggregateId: string): string {
  return `${aggregateType}:${aggregateId}`;
}

/** Deterministic, so a re-published event is recognisable as the same event. */
export function eventIdOf(aggregateType: string, aggregateId: string, version: number): string {
  return `${aggregateType}:${aggregateId}:${version}`;
}

export function routingKeyOf(aggregateType: string, eventType: string): string {
  return `${aggregateType}.${eventType}`;
}

/** Aggregate ids are used in workflow ids, routing and Redis keys: keep them plain. */
export const aggregateIdPattern = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

/** A short, stable hash (FNV-1a, 32 bits, hex): for ids that must stay short and deterministic. */
export function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * An id derived from parts, at most `max` characters: the parts joined when short enough,
 * otherwise cut and suffixed with a hash of the whole, so it stays unique and deterministic.
 */
export function boundedId(parts: readonly string[], separator: string, max = 128): string {
  const joined = parts.join(separator);
  if (joined.length <= max) return joined;
  const hash = shortHash(joined);
  return `${joined.slice(0, max - hash.length - 1)}-${hash}`;
}

/**
 * The commandId a process sends for one of its steps: derived from the process and the step,
 * so a retried step (or a replayed process) sends the same id and is applied once.
 */
export function processCommandId(processId: string, step: string): string {
  const id = boundedId([processId, step], '/');
  // A long id is cut before its hash; the cut may drop the '/' that marks the namespace: the hash's separator becomes it.
  return isProcessCommandId(id) ? id : `${id.slice(0, -9)}/${id.slice(-8)}`;
}

/**
 * Whether a commandId is in the process namespace (it holds a '/'; every `processCommandId`
 * does). The API refuses such ids from its callers, so no client can send, under an id a
 * process will use, a command that the process's step would then be answered with.
 */
export function isProcessCommandId(commandId: string): boolean {
  return commandId.includes('/');
}

const uuidV7Pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * The time (ms since the epoch) a UUIDv7 carries in its first 48 bits, or undefined for any other
 * id: what lets an aggregate tell a retry older than what it remembers (see `OutcomeMemory`).
 */
export function uuidV7Time(id: string): number | undefined {
  return uuidV7Pattern.test(id) ? parseInt(id.slice(0, 8) + id.slice(9, 13), 16) : undefined;
}
