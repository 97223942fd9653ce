import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  makeContinueAsNewFunc,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';
import type { AnyAggregate, ProcessStart } from '../core/aggregate';
import { aggregatesOf, type AnyAppConfig } from '../core/app';
import { decideStep, type DecideStepInput, type StepDecision } from '../core/decider';
import { applyEvents, closedCode, type Snapshot } from '../core/evolver';
import type { CommandEnvelope, CommandOutcome, EventEnvelope, OutcomeRecord } from '../core/envelopes';
import { engineCodes, isRetryable } from '../core/errors';
import { aggregateLimits as limits, eventsBytes, jsonBytes } from '../core/limits';
import { acceptedOutcome, answerOf, recordOf, rejectedOutcome } from '../core/outcomes';
import {
  AggregateId,
  AggregateType,
  AggregateVersion,
  buffersQuery,
  legacyCommandSignal,
  recentEventsQuery,
  snapshotQuery,
  stateQuery,
  submitUpdate,
  versionQuery,
  type AggregateEnd,
  type AggregateWorkflow,
  type AggregateWorkflowInput,
  type CarriedState,
} from './definitions';

const { publishEvents } = proxyActivities<Activities>({
  // Short, so a publish lost with a crashed worker is retried elsewhere within seconds.
  startToCloseTimeout: '10 seconds',
  // No maximum attempts: a broker outage delays events and loses none.
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/**
 * Deciding runs as a local activity so that its result is recorded in the history: a replay
 * (another worker, a restart, a deploy that changed `decide`) takes the recorded decisions and
 * never decides again, so the state stays the fold of the events already decided.
 */
const { decideCommands } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '100 milliseconds', maximumAttempts: 3 },
});

const maxEventsPerPublish = 500;
const maxBytesPerPublish = 256 * 1024;
const publishGrace = '10 seconds';
/** Recorded runs update the AggregateVersion search attribute each time the version crosses a multiple of this. */
const versionStep = 10;
/** What a hand-over may carry; by the limits' construction it never comes near. */
const carryBudget = Math.floor(limits.temporalPayloadBytes * 0.75);

/**
 * The actor: the single writer of one aggregate, draining its mailbox in arrival order. Made
 * for an app's aggregates (the worker's generated workflow entry gives it the app's config).
 */
export const aggregateWorkflowFor = (config: AnyAppConfig): AggregateWorkflow => {
  const aggregates = aggregatesOf(config) as Readonly<Record<string, AnyAggregate>>;
  return async function aggregateWorkflow(input) {
    return runAggregate(aggregates, input);
  };
};

async function runAggregate(aggregates: Readonly<Record<string, AnyAggregate>>, input: AggregateWorkflowInput): Promise<AggregateEnd> {
  const aggregate: AnyAggregate | undefined = Object.hasOwn(aggregates, input.aggregateType) ? aggregates[input.aggregateType] : undefined;
  if (!aggregate) {
    throw ApplicationFailure.nonRetryable(`unknown aggregate type '${input.aggregateType}'`, 'UNKNOWN_AGGREGATE_TYPE');
  }
  // Runs that began before decisions were recorded replay exactly as they were written.
  const recorded = input.recordDecisions === true;

  const carried = input.carried;
  let snapshot: Snapshot = carried?.snapshot ?? { state: aggregate.initialState(), version: 0 };
  const mailbox: CommandEnvelope[] = [];
  const inMailbox = new Set<string>();
  let mailboxBytes = 0;
  const unpublished: EventEnvelope[] = [...(carried?.unpublished ?? [])];
  let unpublishedBytes = eventsBytes(unpublished);
  const outcomes = new Map<string, OutcomeRecord>((carried?.recentOutcomes ?? []).map((o) => [o.commandId, o]));
  let recentEvents: EventEnvelope[] = [...(carried?.recentEvents ?? [])];
  /** Processes to start for events decided (started one at a time, in order, by `startLoop`). */
  const pendingStarts: ProcessStart[] = [...(carried?.pendingStarts ?? [])];
  /** Set while a step waits for another aggregate that did not answer; cleared by a timer. */
  let stalled = false;
  let stallMs = 0;
  /** Update handlers waiting for a command's outcome, by commandId. */
  const waiting = new Map<string, ((outcome: CommandOutcome) => void)[]>();
  let publishing: CancellationScope | undefined;
  let draining = false;

  const handOverDue = () => {
    const info = workflowInfo();
    return info.continueAsNewSuggested || (input.historyBudget !== undefined && info.historyLength >= input.historyBudget);
  };
  /**
   * Whether the run should hand over, noted only after something recorded happened (a decide
   * step, a publish): an update the validator refused leaves a workflow task that a replay
   * never sees, so nothing may be started from what such a task alone could observe.
   */
  let handOverNoted = false;
  const noteHandOver = () => {
    if (recorded && !handOverNoted && handOverDue()) handOverNoted = true;
  };
  const backlogFull = () => unpublished.length >= limits.backlogEvents || unpublishedBytes >= limits.backlogBytes;

  /** Commands not decided before and not already waiting join the mailbox; the rest are answered by the first. */
  const accept = (commands: readonly CommandEnvelope[]) => {
    for (const command of commands) {
      if (outcomes.has(command.commandId) || inMailbox.has(command.commandId)) continue;
      mailbox.push(command);
      inMailbox.add(command.commandId);
      mailboxBytes += jsonBytes(command);
    }
  };
  for (const command of carried?.mailbox ?? []) accept([command]);

  if (!recorded) setHandler(legacyCommandSignal, (command) => accept([command]));
  setHandler(
    submitUpdate,
    async (commands) => {
      // Answers are taken as each command is decided, not looked up later: a large batch may
      // push them out of the dedupe window before this handler runs again.
      const answers = new Map<string, CommandOutcome>();
      for (const { commandId } of commands) {
        const known = outcomes.get(commandId);
        if (known) answers.set(commandId, answerOf(known, input.aggregateId));
        else waiting.set(commandId, [...(waiting.get(commandId) ?? []), (outcome) => answers.set(commandId, outcome)]);
      }
      accept(commands);
      await condition(() => commands.every((c) => answers.has(c.commandId)));
      return commands.map((c) => answers.get(c.commandId)!);
    },
    {
      description: 'Deliver command envelopes to the mailbox and answer each one\'s outcome once decided.',
      validator: (commands) => {
        // Refusals here are not recorded in the history: the update never happened.
        if (!Array.isArray(commands) || commands.length === 0 || commands.length > limits.commandsPerUpdate) {
          throw ApplicationFailure.nonRetryable(`submit takes 1 to ${limits.commandsPerUpdate} commands`, 'INVALID_UPDATE');
        }
        for (const c of commands) {
          if (typeof c?.commandId !== 'string' || c.aggregateId !== input.aggregateId || c.aggregateType !== input.aggregateType) {
            throw ApplicationFailure.nonRetryable(`command ${String(c?.commandId)} is not addressed to ${input.aggregateType}:${input.aggregateId}`, 'INVALID_UPDATE');
          }
        }
        const fresh = commands.filter((c) => !outcomes.has(c.commandId) && !inMailbox.has(c.commandId));
        if (fresh.length === 0) return; // retries of known commands are always answered
        // A steady stream of commands must not keep a run from handing over: new ones wait for the next run.
        if (handOverNoted) {
          throw ApplicationFailure.retryable(`${input.aggregateType} ${input.aggregateId} is handing over to a new run; retry`, engineCodes.AGGREGATE_HANDING_OVER);
        }
        const bytes = jsonBytes(fresh);
        if (bytes > limits.updateBytes) {
          throw ApplicationFailure.nonRetryable(`the update's commands are ${bytes} bytes; at most ${limits.updateBytes}`, engineCodes.COMMAND_TOO_LARGE);
        }
        if (backlogFull()) {
          throw ApplicationFailure.retryable(
            `${input.aggregateType} ${input.aggregateId} has ${unpublished.length} unpublished events (${unpublishedBytes} bytes), its bound; retry once the broker has caught up`,
            engineCodes.AGGREGATE_BACKLOG_FULL,
          );
        }
        if (mailbox.length + fresh.length > limits.mailboxCommands || mailboxBytes + bytes > limits.mailboxBytes) {
          throw ApplicationFailure.retryable(
            `${input.aggregateType} ${input.aggregateId} has ${mailbox.length} undecided commands (${mailboxBytes} bytes), its bound; retry shortly`,
            engineCodes.AGGREGATE_MAILBOX_FULL,
          );
        }
      },
    },
  );
  setHandler(stateQuery, () => snapshot.state, { description: 'The aggregate\'s current domain state.' });
  setHandler(versionQuery, () => snapshot.version, { description: 'The number of events the aggregate has decided.' });
  setHandler(snapshotQuery, () => snapshot, { description: 'State and version together (what another aggregate\'s lookup reads).' });
  setHandler(recentEventsQuery, () => recentEvents, { description: `The last ${limits.recentEvents} events decided.` });
  setHandler(
    buffersQuery,
    () => ({
      version: snapshot.version,
      stateBytes: jsonBytes(snapshot.state),
      mailbox: { commands: mailbox.length, bytes: mailboxBytes },
      backlog: { events: unpublished.length, bytes: unpublishedBytes },
      remembered: outcomes.size,
    }),
    { description: 'How full the mailbox, the unpublished backlog and the dedupe window are.' },
  );

  /**
   * Answers the command's waiters and remembers its outcome, unless nothing was decided (a
   * retryable refusal, or a bug in domain code): a retry of those is decided afresh.
   */
  const settle = (outcome: CommandOutcome) => {
    if (outcome.status === 'accepted' || (!isRetryable(outcome.rejection.kind) && outcome.rejection.kind !== 'INTERNAL')) {
      outcomes.set(outcome.commandId, recordOf(outcome));
      if (outcomes.size > limits.dedupeWindow) outcomes.delete(outcomes.keys().next().value!);
    }
    for (const answer of waiting.get(outcome.commandId) ?? []) answer(outcome);
    waiting.delete(outcome.commandId);
  };

  const decideNext = async () => {
    const commands = mailbox.slice();
    const stepInput: DecideStepInput = {
      aggregateType: aggregate.name,
      aggregateId: input.aggregateId,
      snapshot,
      commands,
      occurredAt: new Date().toISOString(), // workflow time: deterministic on replay
      backlog: { events: unpublished.length, bytes: unpublishedBytes },
    };
    let decisions: StepDecision[];
    if (!recorded) decisions = decideAsBefore(aggregate, stepInput);
    else {
      try {
        decisions = await decideCommands(stepInput);
      } catch (error) {
        // Only a broken worker gets here (decideStep itself never throws): refuse, keep nothing.
        const message = `deciding failed: ${error instanceof Error ? error.message : String(error)}`;
        decisions = commands.map(() => ({ rejection: { kind: 'INTERNAL', code: engineCodes.DECIDE_FAILED, message } }));
      }
    }
    const versionBefore = snapshot.version;
    const last = decisions[decisions.length - 1];
    const decided = last && 'waiting' in last ? decisions.slice(0, -1) : decisions;
    decided.forEach((decision, i) => {
      const command = commands[i]!;
      if ('waiting' in decision) return; // only ever last
      if ('rejection' in decision) return settle(rejectedOutcome(command, snapshot.version, decision.rejection));
      snapshot = applyEvents(aggregate, snapshot, decision.events);
      unpublished.push(...decision.events);
      unpublishedBytes += eventsBytes(decision.events);
      recentEvents.push(...decision.events);
      pendingStarts.push(...processStarts(aggregate, decision.events));
      settle(acceptedOutcome(command, snapshot.version, decision.events));
    });
    if (last && 'waiting' in last) {
      // Another aggregate this command reads did not answer: try again later, refuse nothing.
      stallMs = Math.min(Math.max(stallMs * 2, 500), 10_000);
      const waiting = commands[decisions.length - 1];
      log.warn('deciding waits for a lookup', { reason: last.waiting, retryInMs: stallMs, commandId: waiting?.commandId, correlationId: waiting?.metadata.correlationId });
      stalled = true;
      void sleep(stallMs).then(() => (stalled = false));
    } else stallMs = 0;
    for (const command of mailbox.splice(0, decided.length)) {
      inMailbox.delete(command.commandId);
      mailboxBytes -= jsonBytes(command);
    }
    recentEvents = lastEvents(recentEvents);
    if (snapshot.version !== versionBefore) {
      // A search-attribute update is a history event and a visibility write: recorded runs keep
      // AggregateVersion to within 10 versions (exact from each run's start and when terminal);
      // the Web UI's summary and the `version` query are always exact.
      const crossed = Math.floor(snapshot.version / versionStep) !== Math.floor(versionBefore / versionStep);
      if (!recorded || crossed || aggregate.isTerminal(snapshot.state)) upsertSearchAttributes([{ key: AggregateVersion, value: snapshot.version }]);
      setCurrentDetails(detailsOf(aggregate, snapshot));
    }
    noteHandOver();
  };

  // Publishing runs behind deciding, in version order, one activity in flight.
  const publishLoop = async () => {
    for (;;) {
      await condition(() => unpublished.length > 0 && !draining);
      const batch = publishBatch(unpublished);
      publishing = new CancellationScope();
      try {
        await publishing.run(() => publishEvents(batch));
        unpublished.splice(0, batch.length);
        unpublishedBytes -= eventsBytes(batch);
        noteHandOver();
      } catch (error) {
        if (!isCancellation(error)) throw error;
        // Cancelled for a hand-over: the batch is carried and published again (consumers dedupe).
      } finally {
        publishing = undefined;
      }
    }
  };

  // Processes start behind deciding, in order, one at a time; each only once (its id is deterministic).
  const startLoop = async () => {
    for (;;) {
      await condition(() => pendingStarts.length > 0);
      const next = pendingStarts[0]!;
      try {
        await startChild(next.workflowType, {
          workflowId: next.workflowId,
          args: [next.input],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        });
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      }
      pendingStarts.shift();
    }
  };
  const decidable = () => mailbox.length > 0 && !backlogFull() && !stalled;
  /** Nothing more will happen to this aggregate: no command ever accepted, or terminal and published. */
  const finished = () =>
    recorded &&
    mailbox.length === 0 &&
    unpublished.length === 0 &&
    pendingStarts.length === 0 &&
    (snapshot.version === 0 ? carried === undefined : aggregate.isTerminal(snapshot.state));

  // Recorded runs get their search attributes from their start (the command bus sets them) or
  // from the hand-over that began them; runs from before set them here, as they did.
  if (!recorded) {
    upsertSearchAttributes([
      { key: AggregateType, value: aggregate.name },
      { key: AggregateId, value: input.aggregateId },
      { key: AggregateVersion, value: snapshot.version },
    ]);
  }
  setCurrentDetails(detailsOf(aggregate, snapshot));
  void publishLoop();
  if (recorded) void startLoop();

  const handOver = () => (recorded ? handOverNoted : handOverDue()) && mailbox.length === 0;
  for (;;) {
    await condition(() => decidable() || finished() || handOver());
    if (decidable()) {
      await decideNext();
      continue;
    }
    if (finished()) {
      await condition(() => mailbox.length > 0 || allHandlersFinished());
      if (!finished()) continue;
      return snapshot.version === 0
        ? { end: 'empty' }
        : { end: 'terminal', version: snapshot.version, code: closedCode(aggregate.name), recentOutcomes: [...outcomes.values()] };
    }
    // Hand over: stop starting publishes and give the one in flight a while to finish; a broker
    // outage must not hold the run open until its history overflows.
    draining = true;
    if (publishing && !(await condition(() => !publishing, publishGrace))) publishing?.cancel();
    await condition(() => !publishing && pendingStarts.length === 0);
    await condition(() => mailbox.length > 0 || allHandlersFinished());
    if (mailbox.length > 0) {
      // (Runs from before recorded decisions kept draining here; their histories say so.)
      if (recorded) draining = false;
      continue;
    }
    const handed: CarriedState = { snapshot, mailbox, unpublished, recentOutcomes: [...outcomes.values()], recentEvents, pendingStarts };
    // The next run records its decisions whatever this one did: a run from before moves over here.
    const next = { aggregateType: input.aggregateType, aggregateId: input.aggregateId, historyBudget: input.historyBudget, recordDecisions: true as const };
    if (!recorded) await continueAsNew<AggregateWorkflow>({ ...next, carried: handed });
    await makeContinueAsNewFunc<AggregateWorkflow>({
      typedSearchAttributes: [
        { key: AggregateType, value: aggregate.name },
        { key: AggregateId, value: input.aggregateId },
        { key: AggregateVersion, value: snapshot.version },
      ],
    })({ ...next, carried: fitted(handed) });
  }
}

/**
 * The limits keep a hand-over far below Temporal's payload limit; should it ever come near,
 * the Web UI's recent events and then the oldest remembered outcomes are let go rather than
 * have Temporal refuse the input and terminate the aggregate.
 */
function fitted(handed: CarriedState): CarriedState {
  let carried = handed;
  if (jsonBytes(carried) <= carryBudget) return carried;
  carried = { ...carried, recentEvents: [] };
  while (jsonBytes(carried) > carryBudget && carried.recentOutcomes.length > 0) {
    carried = { ...carried, recentOutcomes: carried.recentOutcomes.slice(carried.recentOutcomes.length >> 1) };
  }
  log.error('hand-over came near the payload limit; recent outcomes were dropped', { bytes: jsonBytes(carried), remembered: carried.recentOutcomes.length });
  return carried;
}

/**
 * A run from before recorded decisions decides as its release did: with the decider the
 * aggregate's definition keeps for it (`legacyDecider`).
 */
function decideAsBefore(aggregate: AnyAggregate, input: DecideStepInput): StepDecision[] {
  if (!aggregate.legacyDecider) throw ApplicationFailure.nonRetryable(`no decider of an earlier release for '${aggregate.name}'`, 'NO_LEGACY_DECIDER');
  return decideStep(aggregate.legacyDecider, input);
}

/** The processes an aggregate starts for these events (see `AggregateDefinition.processes`). */
function processStarts(aggregate: AnyAggregate, events: readonly EventEnvelope[]): ProcessStart[] {
  return events.flatMap((event) => {
    const trigger = Object.hasOwn(aggregate.processes, event.type) ? aggregate.processes[event.type] : undefined;
    return trigger ? [trigger({ aggregateId: event.aggregateId, version: event.version, type: event.type, payload: event.payload, correlationId: event.correlationId })] : [];
  });
}

/** The last events for the Web UI: at most `recentEvents` of them and `recentEventsBytes`. */
function lastEvents(events: EventEnvelope[]): EventEnvelope[] {
  let kept = events.length > limits.recentEvents ? events.slice(-limits.recentEvents) : events;
  while (kept.length > 0 && jsonBytes(kept) > limits.recentEventsBytes) kept = kept.slice(1);
  return kept;
}

/** The next events to publish: in order, at most 500 and about 256 KB (Temporal payloads stay small). */
function publishBatch(unpublished: EventEnvelope[]): EventEnvelope[] {
  let bytes = 0;
  let count = 0;
  while (count < unpublished.length && count < maxEventsPerPublish) {
    bytes += JSON.stringify(unpublished[count]).length;
    if (count > 0 && bytes > maxBytesPerPublish) break;
    count += 1;
  }
  return unpublished.slice(0, count);
}

function detailsOf(aggregate: AnyAggregate, snapshot: Snapshot): string {
  return `${aggregate.describe(snapshot.state)}\n\n_version ${snapshot.version}_`;
}
