import { z } from 'zod';
import type { AnyAggregate } from './aggregate';
import type { CommandEnvelope, CommandOutcome, EventEnvelope } from './envelopes';
import { DomainError, type Rejection } from './errors';
import { eventIdOf } from './ids';
import { currentSchemaVersion, upcast } from './upcasting';

/** An aggregate's state as the engine holds it: the domain state plus its version. */
export interface Snapshot<S = unknown> {
  state: S;
  /** The number of events applied; 0 means the aggregate has no events yet. */
  version: number;
}

export interface Decision<S = unknown> {
  snapshot: Snapshot<S>;
  outcome: CommandOutcome;
  events: EventEnvelope[];
}

/** The outcome of a refused command: the aggregate stays at `version`. */
export function rejectedOutcome(command: Pick<CommandEnvelope, 'commandId' | 'aggregateId'>, version: number, rejection: Rejection): CommandOutcome {
  return { status: 'rejected', commandId: command.commandId, aggregateId: command.aggregateId, version, rejection };
}

/**
 * The engine's pure step: validate a command envelope, check the version and lifecycle,
 * decide, and evolve. Deterministic; `occurredAt` comes from the caller's clock.
 */
export function decideCommand<S>(
  aggregate: AnyAggregate,
  snapshot: Snapshot<S>,
  command: CommandEnvelope,
  occurredAt: string,
): Decision<S> {
  const reject = (rejection: Rejection): Decision<S> => ({ snapshot, events: [], outcome: rejectedOutcome(command, snapshot.version, rejection) });

  const schema: z.ZodObject | undefined = Object.hasOwn(aggregate.commands, command.type)
    ? aggregate.commands[command.type]
    : undefined;
  if (!schema) {
    return reject({ kind: 'INVALID_COMMAND', code: 'UNKNOWN_COMMAND', message: `${aggregate.name} has no command '${command.type}'` });
  }
  const parsed = schema.safeParse(command.payload);
  if (!parsed.success) {
    return reject({
      kind: 'INVALID_COMMAND',
      code: 'INVALID_PAYLOAD',
      message: `invalid ${aggregate.name}.${command.type} payload`,
      details: z.flattenError(parsed.error),
    });
  }
  if (aggregate.isTerminal(snapshot.state)) {
    return reject({
      kind: 'AGGREGATE_CLOSED',
      code: `${aggregate.name.toUpperCase()}_CLOSED`,
      message: `${aggregate.name} ${command.aggregateId} is closed and takes no more commands`,
    });
  }
  if (command.expectedVersion !== undefined && command.expectedVersion !== snapshot.version) {
    return reject({
      kind: 'VERSION_CONFLICT',
      code: 'VERSION_CONFLICT',
      message: `expected version ${command.expectedVersion}, but ${aggregate.name} ${command.aggregateId} is at version ${snapshot.version}`,
      details: { expected: command.expectedVersion, actual: snapshot.version },
    });
  }

  let decided;
  try {
    decided = aggregate.decide(snapshot.state, { type: command.type, payload: parsed.data }, { now: command.metadata.issuedAt, commandId: command.commandId });
  } catch (error) {
    if (error instanceof DomainError) return reject(error.toRejection());
    throw error;
  }

  let { state, version } = snapshot;
  const events: EventEnvelope[] = [];
  for (const event of decided) {
    const eventSchema: z.ZodObject | undefined = Object.hasOwn(aggregate.events, event.type) ? aggregate.events[event.type] : undefined;
    if (!eventSchema) throw new Error(`${aggregate.name}.decide returned unknown event type '${event.type}'`);
    const payload = eventSchema.parse(event.payload) as Record<string, unknown>;
    state = aggregate.evolve(state, { type: event.type, payload });
    version += 1;
    events.push({
      eventId: eventIdOf(aggregate.name, command.aggregateId, version),
      aggregateType: aggregate.name,
      aggregateId: command.aggregateId,
      version,
      type: event.type,
      schemaVersion: currentSchemaVersion(aggregate, event.type),
      payload,
      occurredAt,
      commandId: command.commandId,
      correlationId: command.metadata.correlationId,
      causationId: command.metadata.causationId ?? command.commandId,
    });
  }

  return {
    snapshot: { state, version },
    events,
    outcome: {
      status: 'accepted',
      commandId: command.commandId,
      aggregateId: command.aggregateId,
      version,
      events: events.map(({ type, version: v, payload }) => ({ type, version: v, payload })),
    },
  };
}

/**
 * Rebuilds a snapshot from logged events, upcasting old schema versions first; for tools and
 * tests (the workflow carries its state instead of replaying events).
 */
export function replay<S>(
  aggregate: AnyAggregate,
  events: readonly (Pick<EventEnvelope, 'type' | 'payload'> & { schemaVersion?: number })[],
): Snapshot<S> {
  let state = aggregate.initialState() as S;
  for (const { type, payload, schemaVersion = currentSchemaVersion(aggregate, type) } of events) {
    state = aggregate.evolve(state, upcast(aggregate, { type, payload, schemaVersion }));
  }
  return { state, version: events.length };
}
