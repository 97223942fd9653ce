import { z } from 'zod';
import type { AggregateRef, AnyAggregate, DecideContext, LookedUp, ProcessStart } from './aggregate';
import type { CommandEnvelope, CommandOutcome, EventEnvelope } from './envelopes';
import { DomainError, engineCodes, type Rejection } from './errors';
import { eventIdOf } from './ids';
import { aggregateLimits, eventsBytes, jsonBytes, type AggregateLimits } from './limits';
import { acceptedOutcome, rejectedOutcome } from './outcomes';
import { closedCode, type Snapshot } from './evolver';
import { currentSchemaVersion, upcast } from './upcasting';

export { applyEvents, closedCode, type Snapshot } from './evolver';

export interface Decision<S = unknown> {
  snapshot: Snapshot<S>;
  outcome: CommandOutcome;
  events: EventEnvelope[];
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
  lookups: DecideContext['lookups'] = {},
): Decision<S> {
  const reject = (rejection: Rejection): Decision<S> => ({ snapshot, events: [], outcome: rejectedOutcome(command, snapshot.version, rejection) });

  const schema: z.ZodObject | undefined = Object.hasOwn(aggregate.commands, command.type)
    ? aggregate.commands[command.type]
    : undefined;
  if (!schema) {
    return reject({ kind: 'INVALID_COMMAND', code: engineCodes.UNKNOWN_COMMAND, message: `${aggregate.name} has no command '${command.type}'` });
  }
  const parsed = schema.safeParse(command.payload);
  if (!parsed.success) {
    return reject({
      kind: 'INVALID_COMMAND',
      code: engineCodes.INVALID_PAYLOAD,
      message: `invalid ${aggregate.name}.${command.type} payload`,
      details: z.flattenError(parsed.error),
    });
  }
  if (aggregate.isTerminal(snapshot.state)) {
    return reject({
      kind: 'AGGREGATE_CLOSED',
      code: closedCode(aggregate.name),
      message: `${aggregate.name} ${command.aggregateId} is closed and takes no more commands`,
    });
  }
  if (command.expectedVersion !== undefined && command.expectedVersion !== snapshot.version) {
    return reject({
      kind: 'VERSION_CONFLICT',
      code: engineCodes.VERSION_CONFLICT,
      message: `expected version ${command.expectedVersion}, but ${aggregate.name} ${command.aggregateId} is at version ${snapshot.version}`,
      details: { expected: command.expectedVersion, actual: snapshot.version },
    });
  }

  let decided;
  try {
    decided = aggregate.decide(snapshot.state, { type: command.type, payload: parsed.data }, { now: command.metadata.issuedAt, commandId: command.commandId, aggregateId: command.aggregateId, lookups });
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
      ...(command.metadata.traceparent ? { traceparent: command.metadata.traceparent } : {}),
    });
  }

  return { snapshot: { state, version }, events, outcome: acceptedOutcome(command, version, events) };
}

/**
 * `decideCommand` with the engine's guards: a bug in domain code (anything but a DomainError)
 * refuses the command as INTERNAL rather than wedging the aggregate, and a decision that would
 * outgrow what an aggregate may carry is refused with nothing changed.
 */
export function decideGuarded<S>(
  aggregate: AnyAggregate,
  snapshot: Snapshot<S>,
  command: CommandEnvelope,
  occurredAt: string,
  limits: AggregateLimits = aggregateLimits,
  lookups: DecideContext['lookups'] = {},
): Decision<S> {
  const reject = (rejection: Rejection): Decision<S> => ({ snapshot, events: [], outcome: rejectedOutcome(command, snapshot.version, rejection) });
  if (jsonBytes(command) > limits.commandBytes) {
    return reject({ kind: 'INVALID_COMMAND', code: engineCodes.COMMAND_TOO_LARGE, message: `command ${command.commandId} is larger than ${limits.commandBytes} bytes` });
  }
  let decision: Decision<S>;
  try {
    decision = decideCommand(aggregate, snapshot, command, occurredAt, lookups);
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return reject({ kind: 'INTERNAL', code: engineCodes.DECIDE_FAILED, message: `${aggregate.name}.${command.type} failed: ${message}` });
  }
  if (decision.events.length === 0) return decision;
  const eventBytes = eventsBytes(decision.events);
  if (decision.events.length > limits.decisionEvents || eventBytes > limits.decisionBytes) {
    return reject({
      kind: 'INTERNAL',
      code: engineCodes.DECISION_TOO_LARGE,
      message: `${aggregate.name}.${command.type} decided ${decision.events.length} events of ${eventBytes} bytes; one command may decide at most ${limits.decisionEvents} events and ${limits.decisionBytes} bytes`,
    });
  }
  const stateBytes = jsonBytes(decision.snapshot.state);
  if (stateBytes > limits.stateBytes) {
    return reject({
      kind: 'RULE_VIOLATED',
      code: engineCodes.STATE_TOO_LARGE,
      message: `${aggregate.name} ${command.aggregateId} would grow to ${stateBytes} bytes of state; the bound is ${limits.stateBytes}`,
    });
  }
  return decision;
}

/** What one decide step is given: the head of the mailbox, and the unpublished backlog so far. */
export interface DecideStepInput {
  aggregateType: string;
  aggregateId: string;
  snapshot: Snapshot;
  /** Commands in mailbox order, none decided before. */
  commands: CommandEnvelope[];
  /** The workflow's clock for `occurredAt` (deterministic). */
  occurredAt: string;
  backlog: { events: number; bytes: number };
  /** Processes decided and not yet started (absent from runs before recorded decisions, which start none). */
  pendingStarts?: { starts: number; bytes: number };
  /**
   * The run began at version 0 and was handed nothing: before deciding, the worker checks that
   * the aggregate has no events elsewhere (its workflow history may have been deleted).
   */
  firstStart?: true;
}

/**
 * A decision as recorded in the workflow's history: the events, or the refusal. `waiting` is
 * only in histories from before lookups were bounded (a step that stopped at a lookup that did
 * not answer and kept the rest of the mailbox); they replay as recorded, none is decided now.
 */
export type StepDecision = { events: EventEnvelope[] } | { rejection: Rejection } | { waiting: string };

/** What was looked up for one command: by lookup name, the state read (null: no such aggregate). */
export type LookupResults = Readonly<Record<string, LookedUp | null>>;

/** The lookups each command needs (see `AggregateDefinition.lookups`), parsed leniently: a bad payload simply needs none. */
export function lookupsNeeded(aggregate: AnyAggregate, command: CommandEnvelope): Readonly<Record<string, AggregateRef>> {
  const schema: z.ZodObject | undefined = Object.hasOwn(aggregate.commands, command.type) ? aggregate.commands[command.type] : undefined;
  const parsed = schema?.safeParse(command.payload);
  if (!parsed?.success) return {};
  try {
    const named = aggregate.lookups({ type: command.type, payload: parsed.data });
    return Object.fromEntries(Object.entries(named).filter((entry): entry is [string, AggregateRef] => entry[1] !== undefined));
  } catch {
    return {}; // decide will refuse the command as it sees fit
  }
}

/** The refusal of a command whose lookups did not answer within `lookupMs`: retryable, nothing decided. */
export function lookupUnavailable(command: CommandEnvelope, reason: string): Rejection {
  return { kind: 'UNAVAILABLE', code: engineCodes.LOOKUP_UNAVAILABLE, message: `command ${command.commandId}: ${reason}; retry with the same commandId` };
}

/**
 * Decides commands from the head of the mailbox, in order, until they run out, the unpublished
 * backlog reaches its bound (the rest wait for publishing to drain it) or the step's record
 * reaches its size. `lookedUp` maps a commandId to its lookups' results, or to the reason they
 * failed: that command is refused (`LOOKUP_UNAVAILABLE`) and the rest decided. `decisions[i]`
 * answers `commands[i]`.
 */
export function decideStep(
  aggregate: AnyAggregate,
  input: DecideStepInput,
  limits: AggregateLimits = aggregateLimits,
  lookedUp: ReadonlyMap<string, LookupResults | { unavailable: string }> = new Map(),
): StepDecision[] {
  const decisions: StepDecision[] = [];
  let snapshot = input.snapshot;
  let { events: backlogEvents, bytes: backlogBytes } = input.backlog;
  let stepBytes = 0;
  const pending = input.pendingStarts && { ...input.pendingStarts };
  for (const command of input.commands) {
    if (backlogEvents >= limits.backlogEvents || backlogBytes >= limits.backlogBytes || stepBytes >= limits.decideStepBytes) break;
    const lookups = lookedUp.get(command.commandId) ?? {};
    if ('unavailable' in lookups) {
      // Refused, retryable, and the mailbox goes on: a lookup that never answers must not wedge it.
      const rejection: StepDecision = { rejection: lookupUnavailable(command, lookups.unavailable as string) };
      decisions.push(rejection);
      stepBytes += jsonBytes(rejection);
      continue;
    }
    const decided = decideGuarded(aggregate, snapshot, command, input.occurredAt, limits, lookups as LookupResults);
    const overflow = pending && startsOverflow(aggregate, command, decided.events, pending, limits);
    const decision = overflow ? { ...decided, snapshot, events: [], outcome: rejectedOutcome(command, snapshot.version, overflow) } : decided;
    snapshot = decision.snapshot;
    const recorded: StepDecision = decision.outcome.status === 'rejected' ? { rejection: decision.outcome.rejection } : { events: decision.events };
    decisions.push(recorded);
    backlogEvents += decision.events.length;
    backlogBytes += eventsBytes(decision.events);
    stepBytes += jsonBytes(recorded);
  }
  return decisions;
}

/** The processes an aggregate starts for these events (see `AggregateDefinition.processes`). */
export function processStarts(aggregate: AnyAggregate, events: readonly EventEnvelope[]): ProcessStart[] {
  return events.flatMap((event) => {
    const trigger = Object.hasOwn(aggregate.processes, event.type) ? aggregate.processes[event.type] : undefined;
    return trigger ? [trigger({ aggregateId: event.aggregateId, version: event.version, type: event.type, payload: event.payload, correlationId: event.correlationId })] : [];
  });
}

/**
 * Why these events may not be accepted because of the processes they start, if they may not:
 * the pending starts stay within `pendingStarts` and `pendingStartsBytes` (they are carried
 * across a hand-over and never dropped). A full queue of starts is a retryable refusal (the
 * aggregate starts them one by one, within moments); starts too large for an empty queue are
 * a bug in the app. Counts the accepted starts into `pending`.
 */
function startsOverflow(
  aggregate: AnyAggregate,
  command: CommandEnvelope,
  events: readonly EventEnvelope[],
  pending: { starts: number; bytes: number },
  limits: AggregateLimits,
): Rejection | undefined {
  if (events.length === 0) return undefined;
  let starts: ProcessStart[];
  try {
    starts = processStarts(aggregate, events);
  } catch (error) {
    return { kind: 'INTERNAL', code: engineCodes.DECIDE_FAILED, message: `${aggregate.name}'s process trigger for ${command.type} failed: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (starts.length === 0) return undefined;
  const bytes = eventsBytes(starts);
  if (starts.length > limits.pendingStarts || bytes > limits.pendingStartsBytes) {
    return {
      kind: 'INTERNAL',
      code: engineCodes.DECISION_TOO_LARGE,
      message: `${aggregate.name}.${command.type} would start ${starts.length} processes (${bytes} bytes of input); at most ${limits.pendingStarts} and ${limits.pendingStartsBytes} bytes`,
    };
  }
  if (pending.starts + starts.length > limits.pendingStarts || pending.bytes + bytes > limits.pendingStartsBytes) {
    return {
      kind: 'UNAVAILABLE',
      code: engineCodes.PROCESS_STARTS_FULL,
      message: `command ${command.commandId}: ${aggregate.name} ${command.aggregateId} has ${pending.starts} processes (${pending.bytes} bytes) waiting to start, its bound; retry with the same commandId`,
    };
  }
  pending.starts += starts.length;
  pending.bytes += bytes;
  return undefined;
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
