/**
 * The aggregate actor's state and rules, without Temporal: the mailbox, the outcomes remembered
 * by commandId, the unpublished backlog and its bounds, what is handed over, and the answers to
 * waiting updates. `aggregate.ts` wires Temporal's handlers and loops to it; a unit test drives
 * it alone. (Types only from `./definitions`: no Node API, nothing of `@temporalio/workflow`.)
 */
import type { AnyAggregate, ProcessStart } from '../core/aggregate';
import { processStarts, type DecideStepInput, type StepDecision } from '../core/decider';
import { applyEvents, closedCode, type Snapshot } from '../core/evolver';
import type { CommandEnvelope, CommandOutcome, EventEnvelope } from '../core/envelopes';
import { engineCodes, type Rejection } from '../core/errors';
import { aggregateLimits, eventsBytes, jsonBytes, type AggregateLimits } from '../core/limits';
import { acceptedOutcome, answerOf, rejectedOutcome } from '../core/outcomes';
import type { AggregateEnd, BufferLevels, CarriedState } from './definitions';
import { OutcomeMemory, shed, type CommandLookup } from './outcome-memory';

const maxEventsPerPublish = 500;
const maxBytesPerPublish = 256 * 1024;
/** Recorded runs update the AggregateVersion search attribute each time the version crosses a multiple of this. */
const versionStep = 10;

/** Why an update is refused before anything is recorded: the workflow throws it as an ApplicationFailure. */
export interface Refusal {
  type: string;
  message: string;
  retryable: boolean;
}

/** An update's commands, answered one by one as each is decided (or from what was remembered). */
export interface Ticket {
  readonly done: () => boolean;
  readonly outcomes: () => CommandOutcome[];
}

/** What applying one decide step asks of the workflow. */
export interface StepApplied {
  /** The version moved: the Web UI's details change. */
  versionMoved: boolean;
  /** ...and the AggregateVersion search attribute is due an update. */
  upsertVersion: boolean;
  /** A recorded step from before lookups were bounded stopped at one: deciding pauses for `retryInMs` (call `resume`). */
  waiting?: { reason: string; retryInMs: number; command: CommandEnvelope | undefined };
}

export interface ActorOptions {
  aggregate: AnyAggregate;
  aggregateId: string;
  /** The run records its decisions (every run since that release); runs from before replay as written. */
  recorded: boolean;
  carried?: CarriedState;
  limits?: AggregateLimits;
  /** How long decided commandIds are remembered (the workflow input's `commandIdRetentionMs`). */
  retentionMs?: number;
  /** Workflow time (deterministic in the sandbox); a unit test passes its own clock. */
  now?: () => number;
}

export class AggregateActor {
  readonly aggregate: AnyAggregate;
  readonly aggregateId: string;
  readonly recorded: boolean;
  readonly limits: AggregateLimits;
  snapshot: Snapshot;
  readonly mailbox: CommandEnvelope[] = [];
  readonly unpublished: EventEnvelope[];
  readonly pendingStarts: ProcessStart[];
  recentEvents: EventEnvelope[];
  /** Set while publishing stops for a hand-over. */
  draining = false;
  private readonly carried: boolean;
  private readonly inMailbox = new Set<string>();
  private mailboxBytes = 0;
  private unpublishedBytes: number;
  private readonly outcomes: OutcomeMemory;
  private readonly now: () => number;
  /** Update handlers waiting for a command's outcome, by commandId. */
  private readonly waiting = new Map<string, ((outcome: CommandOutcome) => void)[]>();
  /** Set while a step waits for another aggregate that did not answer; cleared by `resume`. */
  private stalled = false;
  private stallMs = 0;
  /**
   * Whether the run should hand over, noted only after something recorded happened (a decide
   * step, a publish): an update the validator refused leaves a workflow task that a replay
   * never sees, so nothing may be started from what such a task alone could observe.
   */
  private handOverNoted = false;

  constructor({ aggregate, aggregateId, recorded, carried, limits = aggregateLimits, retentionMs = limits.commandIdRetentionMs, now = () => Date.now() }: ActorOptions) {
    this.aggregate = aggregate;
    this.aggregateId = aggregateId;
    this.recorded = recorded;
    this.limits = limits;
    this.carried = carried !== undefined;
    this.snapshot = carried?.snapshot ?? { state: aggregate.initialState(), version: 0 };
    this.unpublished = [...(carried?.unpublished ?? [])];
    this.unpublishedBytes = eventsBytes(this.unpublished);
    this.now = now;
    this.outcomes = carried?.outcomes
      ? new OutcomeMemory(retentionMs, carried.outcomes, limits)
      : OutcomeMemory.fromRecords(retentionMs, carried?.recentOutcomes ?? [], now(), limits);
    this.recentEvents = [...(carried?.recentEvents ?? [])];
    this.pendingStarts = [...(carried?.pendingStarts ?? [])];
    for (const command of carried?.mailbox ?? []) this.accept([command]);
  }

  /**
   * Commands not decided before and not already waiting join the mailbox; the rest are answered
   * by the first. One that may be an acceptance already let go is refused, never decided.
   */
  accept(commands: readonly CommandEnvelope[]): void {
    for (const command of commands) {
      if (this.isKnown(command)) continue;
      if (this.recorded && this.outcomes.expired(command.commandId)) {
        this.settle(rejectedOutcome(command, this.snapshot.version, expiredRejection(command.commandId)));
        continue;
      }
      this.mailbox.push(command);
      this.inMailbox.add(command.commandId);
      this.mailboxBytes += jsonBytes(command);
    }
  }

  /** The submit update's validator: why these commands cannot join the mailbox now, if they cannot. */
  refusal(commands: readonly CommandEnvelope[]): Refusal | undefined {
    const { limits } = this;
    const type = this.aggregate.name;
    if (!Array.isArray(commands) || commands.length === 0 || commands.length > limits.commandsPerUpdate) {
      return { type: 'INVALID_UPDATE', message: `submit takes 1 to ${limits.commandsPerUpdate} commands`, retryable: false };
    }
    for (const c of commands) {
      if (typeof c?.commandId !== 'string' || c.aggregateId !== this.aggregateId || c.aggregateType !== type) {
        return { type: 'INVALID_UPDATE', message: `command ${String(c?.commandId)} is not addressed to ${type}:${this.aggregateId}`, retryable: false };
      }
    }
    const fresh = commands.filter((c) => !this.isKnown(c));
    if (fresh.length === 0) return undefined; // retries of known commands are always answered
    // A steady stream of commands must not keep a run from handing over: new ones wait for the next run.
    if (this.handOverNoted) {
      return { type: engineCodes.AGGREGATE_HANDING_OVER, message: `${type} ${this.aggregateId} is handing over to a new run; retry`, retryable: true };
    }
    const bytes = jsonBytes(fresh);
    if (bytes > limits.updateBytes) {
      return { type: engineCodes.COMMAND_TOO_LARGE, message: `the update's commands are ${bytes} bytes; at most ${limits.updateBytes}`, retryable: false };
    }
    if (this.backlogFull()) {
      return {
        type: engineCodes.AGGREGATE_BACKLOG_FULL,
        message: `${type} ${this.aggregateId} has ${this.unpublished.length} unpublished events (${this.unpublishedBytes} bytes), its bound; retry once the broker has caught up`,
        retryable: true,
      };
    }
    if (this.mailbox.length + fresh.length > limits.mailboxCommands || this.mailboxBytes + bytes > limits.mailboxBytes) {
      return {
        type: engineCodes.AGGREGATE_MAILBOX_FULL,
        message: `${type} ${this.aggregateId} has ${this.mailbox.length} undecided commands (${this.mailboxBytes} bytes), its bound; retry shortly`,
        retryable: true,
      };
    }
    return undefined;
  }

  /**
   * Delivers an update's commands. Answers are taken as each command is decided, not looked up
   * later: a large batch may push them out of the dedupe window before the update reads them.
   */
  submit(commands: readonly CommandEnvelope[]): Ticket {
    const answers = new Map<string, CommandOutcome>();
    for (const { commandId } of commands) {
      const known = this.outcomes.answer(commandId);
      if (known) answers.set(commandId, answerOf(known, this.aggregateId));
      else this.waiting.set(commandId, [...(this.waiting.get(commandId) ?? []), (outcome) => answers.set(commandId, outcome)]);
    }
    this.accept(commands);
    return {
      done: () => commands.every((c) => answers.has(c.commandId)),
      outcomes: () => commands.map((c) => answers.get(c.commandId)!),
    };
  }

  backlogFull(): boolean {
    return this.unpublished.length >= this.limits.backlogEvents || this.unpublishedBytes >= this.limits.backlogBytes;
  }

  decidable(): boolean {
    return this.mailbox.length > 0 && !this.backlogFull() && !this.stalled;
  }

  /** What the next decide step is given: the whole mailbox, in order. */
  nextStep(occurredAt: string): DecideStepInput {
    return {
      aggregateType: this.aggregate.name,
      aggregateId: this.aggregateId,
      snapshot: this.snapshot,
      commands: this.mailbox.slice(),
      occurredAt,
      backlog: { events: this.unpublished.length, bytes: this.unpublishedBytes },
      ...(this.recorded ? { pendingStarts: { starts: this.pendingStarts.length, bytes: this.pendingStarts.length > 0 ? eventsBytes(this.pendingStarts) : 0 } } : {}),
      ...(this.recorded && !this.carried && this.snapshot.version === 0 ? { firstStart: true as const } : {}),
    };
  }

  /**
   * Applies a step's recorded decisions (`decisions[i]` answers `commands[i]`): the state
   * follows the recorded events, whatever today's `decide` would say.
   */
  applyStep(commands: readonly CommandEnvelope[], decisions: readonly StepDecision[]): StepApplied {
    const versionBefore = this.snapshot.version;
    // (Runs from before the retention let outcomes go by count only, as they did.)
    if (this.recorded) this.outcomes.expire(this.now());
    const last = decisions[decisions.length - 1];
    const decided = last && 'waiting' in last ? decisions.slice(0, -1) : decisions;
    decided.forEach((decision, i) => {
      const command = commands[i]!;
      if ('waiting' in decision) return; // only ever last
      if ('rejection' in decision) return this.settle(rejectedOutcome(command, this.snapshot.version, decision.rejection));
      this.snapshot = applyEvents(this.aggregate, this.snapshot, decision.events);
      this.unpublished.push(...decision.events);
      this.unpublishedBytes += eventsBytes(decision.events);
      this.recentEvents.push(...decision.events);
      this.pendingStarts.push(...processStarts(this.aggregate, decision.events));
      this.settle(acceptedOutcome(command, this.snapshot.version, decision.events));
    });
    let waiting: StepApplied['waiting'];
    if (last && 'waiting' in last) {
      // Only in histories from before lookups were bounded (now such a command is refused,
      // LOOKUP_UNAVAILABLE): they replay as written, waiting and trying again later.
      this.stallMs = Math.min(Math.max(this.stallMs * 2, 500), 10_000);
      this.stalled = true;
      waiting = { reason: last.waiting, retryInMs: this.stallMs, command: commands[decisions.length - 1] };
    } else this.stallMs = 0;
    for (const command of this.mailbox.splice(0, decided.length)) {
      this.inMailbox.delete(command.commandId);
      this.mailboxBytes -= jsonBytes(command);
    }
    this.recentEvents = lastEvents(this.recentEvents, this.limits);
    const version = this.snapshot.version;
    const versionMoved = version !== versionBefore;
    // A search-attribute update is a history event and a visibility write: recorded runs keep
    // AggregateVersion to within 10 versions (exact from each run's start and when terminal);
    // the Web UI's summary and the `version` query are always exact.
    const crossed = Math.floor(version / versionStep) !== Math.floor(versionBefore / versionStep);
    const upsertVersion = versionMoved && (!this.recorded || crossed || this.aggregate.isTerminal(this.snapshot.state));
    return { versionMoved, upsertVersion, ...(waiting ? { waiting } : {}) };
  }

  /** What is known of a commandId: still in the mailbox, its remembered outcome, or nothing. */
  lookup(commandId: string): CommandLookup {
    return this.inMailbox.has(commandId) ? { status: 'pending' } : this.outcomes.lookup(commandId);
  }

  /** The stall after a lookup that did not answer is over: decide again. */
  resume(): void {
    this.stalled = false;
  }

  /** The next events to publish: in order, at most 500 and about 256 KB (Temporal payloads stay small). */
  nextBatch(): EventEnvelope[] {
    let bytes = 0;
    let count = 0;
    while (count < this.unpublished.length && count < maxEventsPerPublish) {
      bytes += JSON.stringify(this.unpublished[count]).length;
      if (count > 0 && bytes > maxBytesPerPublish) break;
      count += 1;
    }
    return this.unpublished.slice(0, count);
  }

  publishable(): boolean {
    return this.unpublished.length > 0 && !this.draining;
  }

  /** The batch from `nextBatch` was confirmed. */
  published(batch: readonly EventEnvelope[]): void {
    this.unpublished.splice(0, batch.length);
    this.unpublishedBytes -= eventsBytes(batch);
  }

  /** Notes that the run should hand over (`due` asks Temporal); only after something recorded happened. */
  noteHandOver(due: () => boolean): void {
    if (this.recorded && !this.handOverNoted && due()) this.handOverNoted = true;
  }

  /** Time to hand over: runs from before recorded decisions ask Temporal each time, as they did. */
  handOverReady(due: () => boolean): boolean {
    return (this.recorded ? this.handOverNoted : due()) && this.mailbox.length === 0;
  }

  /** Nothing more will happen to this aggregate: no command ever accepted, or terminal and published. */
  finished(): boolean {
    return (
      this.recorded &&
      this.mailbox.length === 0 &&
      this.unpublished.length === 0 &&
      this.pendingStarts.length === 0 &&
      (this.snapshot.version === 0 ? !this.carried : this.aggregate.isTerminal(this.snapshot.state))
    );
  }

  /** How the workflow ends once `finished`. */
  end(): AggregateEnd {
    return this.snapshot.version === 0
      ? { end: 'empty' }
      : { end: 'terminal', version: this.snapshot.version, code: closedCode(this.aggregate.name), ...endRecords(this.outcomes) };
  }

  /** What the next run starts from. */
  handOver(): CarriedState {
    return { snapshot: this.snapshot, mailbox: this.mailbox, unpublished: this.unpublished, outcomes: this.outcomes.carry(), recentEvents: this.recentEvents, pendingStarts: this.pendingStarts };
  }

  buffers(): BufferLevels {
    return {
      version: this.snapshot.version,
      stateBytes: jsonBytes(this.snapshot.state),
      mailbox: { commands: this.mailbox.length, bytes: this.mailboxBytes },
      backlog: { events: this.unpublished.length, bytes: this.unpublishedBytes },
      remembered: this.outcomes.size,
    };
  }

  /** The Web UI's current details: the aggregate's own summary and its version. */
  details(): string {
    return `${this.aggregate.describe(this.snapshot.state)}\n\n_version ${this.snapshot.version}_`;
  }

  private isKnown(command: CommandEnvelope): boolean {
    return this.outcomes.answer(command.commandId) !== undefined || this.inMailbox.has(command.commandId);
  }

  /**
   * Answers the command's waiters and remembers its outcome, for lookups too: one that decided
   * nothing (a retryable refusal, a bug in domain code) is decided afresh when sent again.
   */
  private settle(outcome: CommandOutcome): void {
    this.outcomes.remember(outcome, this.now());
    for (const answer of this.waiting.get(outcome.commandId) ?? []) answer(outcome);
    this.waiting.delete(outcome.commandId);
  }
}

/**
 * The limits keep a hand-over far below Temporal's payload limit; should it ever come near
 * `budget`, the Web UI's recent events and then the oldest remembered outcomes are let go rather
 * than have Temporal refuse the input and terminate the aggregate (acceptances let go raise the
 * watermark: see `shed`). `trimmed` says it happened. Everything else counts against `budget`
 * but is never let go: the state, the unpublished events and the pending process starts are
 * owed (their bounds keep them inside it).
 */
export function fitted(handed: CarriedState, budget: number): { carried: CarriedState; trimmed: boolean } {
  let carried = handed;
  if (jsonBytes(carried) <= budget) return { carried, trimmed: false };
  carried = { ...carried, recentEvents: [] };
  for (let smaller = carried.outcomes && shed(carried.outcomes); jsonBytes(carried) > budget && smaller; smaller = shed(smaller)) {
    carried = { ...carried, outcomes: smaller };
  }
  return { carried, trimmed: true };
}

/** A retry of a commandId the aggregate may have let go: refused for good, never applied again. */
function expiredRejection(commandId: string): Rejection {
  return {
    kind: 'VERSION_CONFLICT',
    code: engineCodes.COMMAND_ID_EXPIRED,
    message: `command ${commandId} is older than what this aggregate still remembers: it may have been applied; check the aggregate (its events carry their commandId) and send a new command with a new commandId if it was not`,
  };
}

/** What a terminal aggregate ends with: its remembered outcomes in full, older acceptances compactly. */
function endRecords(memory: OutcomeMemory): Pick<Extract<AggregateEnd, { end: 'terminal' }>, 'recentOutcomes' | 'acceptedIds'> {
  const { accepted, refused, acceptedIds } = memory.carry();
  return { recentOutcomes: [...accepted, ...refused], acceptedIds };
}

/** The last events for the Web UI: at most `recentEvents` of them and `recentEventsBytes`. */
function lastEvents(events: EventEnvelope[], limits: AggregateLimits): EventEnvelope[] {
  let kept = events.length > limits.recentEvents ? events.slice(-limits.recentEvents) : events;
  while (kept.length > 0 && jsonBytes(kept) > limits.recentEventsBytes) kept = kept.slice(1);
  return kept;
}
