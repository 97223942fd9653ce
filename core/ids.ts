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
