import type { MessageSchemas, Upcasters } from './aggregate';
import type { EventEnvelope } from './envelopes';

/** Anything that declares upcasters: an aggregate, or a projection's source. */
export interface HasUpcasters {
  readonly upcasters: Upcasters<MessageSchemas>;
}

/** The schemaVersion new events of this type are written with. */
export function currentSchemaVersion(aggregate: HasUpcasters, eventType: string): number {
  const steps: Record<number, unknown> = (Object.hasOwn(aggregate.upcasters, eventType) && aggregate.upcasters[eventType]) || {};
  return Object.keys(steps).reduce((current, from) => Math.max(current, Number(from) + 1), 1);
}

export class UpcastError extends Error {
  override readonly name = 'UpcastError';
}

/**
 * Brings an event read from the log to its type's current schema, one upcaster at a time.
 * Events already current pass through untouched.
 */
export function upcast<E extends Pick<EventEnvelope, 'type' | 'payload' | 'schemaVersion'>>(aggregate: HasUpcasters, event: E): E {
  const target = currentSchemaVersion(aggregate, event.type);
  if (event.schemaVersion === target) return event;
  if (event.schemaVersion > target) {
    throw new UpcastError(`${event.type} has schemaVersion ${event.schemaVersion}, newer than this code's ${target}`);
  }
  const steps = aggregate.upcasters[event.type]!;
  let payload = event.payload;
  for (let version = event.schemaVersion; version < target; version++) {
    const step = steps[version];
    if (!step) throw new UpcastError(`no upcaster for ${event.type} from schemaVersion ${version}`);
    payload = step(payload);
  }
  return { ...event, schemaVersion: target, payload };
}
