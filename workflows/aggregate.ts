import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  isCancellation,
  condition,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { AnyAggregate } from '../core/aggregate';
import { decideCommand, rejectedOutcome, type Decision, type Snapshot } from '../core/decider';
import type { CommandEnvelope, CommandOutcome, EventEnvelope } from '../core/envelopes';
import { aggregates } from '../domain';
import {
  AggregateId,
  AggregateType,
  AggregateVersion,
  commandSignal,
  dedupeWindow,
  maxCommandsPerUpdate,
  recentEventsQuery,
  stateQuery,
  submitUpdate,
  versionQuery,
  type AggregateWorkflowInput,
} from './definitions';

const { publishEvents } = proxyActivities<ReturnType<typeof createActivities>>({
  // Short, so a publish lost with a crashed worker is retried elsewhere within seconds.
  startToCloseTimeout: '10 seconds',
  // No maximum attempts: a broker outage delays events and loses none.
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

const maxEventsPerPublish = 500;
const maxBytesPerPublish = 256 * 1024;
const recentEventsKept = 20;
const publishGrace = '10 seconds';

/** The actor: the single writer of one aggregate, draining its mailbox in arrival order. */
export async function aggregateWorkflow(input: AggregateWorkflowInput): Promise<void> {
  const aggregate: AnyAggregate | undefined = Object.hasOwn(aggregates, input.aggregateType)
    ? aggregates[input.aggregateType as keyof typeof aggregates]
    : undefined;
  if (!aggregate) {
    throw ApplicationFailure.nonRetryable(`unknown aggregate type '${input.aggregateType}'`, 'UNKNOWN_AGGREGATE_TYPE');
  }

  const carried = input.carried;
  let snapshot: Snapshot = carried?.snapshot ?? { state: aggregate.initialState(), version: 0 };
  const mailbox: CommandEnvelope[] = [...(carried?.mailbox ?? [])];
  const unpublished: EventEnvelope[] = [...(carried?.unpublished ?? [])];
  const outcomes = new Map<string, CommandOutcome>((carried?.recentOutcomes ?? []).map((o) => [o.commandId, o]));
  let recentEvents: EventEnvelope[] = [...(carried?.recentEvents ?? [])];
  /** Update handlers waiting for a command's outcome, by commandId. */
  const waiting = new Map<string, ((outcome: CommandOutcome) => void)[]>();
  let publishing: CancellationScope | undefined;
  let draining = false;

  const accept = (commands: CommandEnvelope[]) => {
    for (const command of commands) mailbox.push(command);
  };

  setHandler(commandSignal, (command) => accept([command]), {
    description: 'Deliver a command envelope to the mailbox without waiting for its outcome.',
  });
  setHandler(
    submitUpdate,
    async (commands) => {
      // Answers are taken as each command is decided, not looked up later: a large batch may
      // push them out of the dedupe window before this handler runs again.
      const answers = new Map<string, CommandOutcome>();
      for (const { commandId } of commands) {
        const known = outcomes.get(commandId);
        if (known) answers.set(commandId, known);
        else waiting.set(commandId, [...(waiting.get(commandId) ?? []), (outcome) => answers.set(commandId, outcome)]);
      }
      accept(commands);
      await condition(() => commands.every((c) => answers.has(c.commandId)));
      return commands.map((c) => answers.get(c.commandId)!);
    },
    {
      description: 'Deliver command envelopes to the mailbox and answer each one\'s outcome once decided.',
      validator: (commands) => {
        if (!Array.isArray(commands) || commands.length === 0 || commands.length > maxCommandsPerUpdate) {
          throw new Error(`submit takes 1 to ${maxCommandsPerUpdate} commands`);
        }
        for (const c of commands) {
          if (typeof c?.commandId !== 'string' || c.aggregateId !== input.aggregateId || c.aggregateType !== input.aggregateType) {
            throw new Error(`command ${String(c?.commandId)} is not addressed to ${input.aggregateType}:${input.aggregateId}`);
          }
        }
      },
    },
  );
  setHandler(stateQuery, () => snapshot.state, { description: 'The aggregate\'s current domain state.' });
  setHandler(versionQuery, () => snapshot.version, { description: 'The number of events the aggregate has decided.' });
  setHandler(recentEventsQuery, () => recentEvents, { description: `The last ${recentEventsKept} events decided.` });

  const remember = (outcome: CommandOutcome) => {
    outcomes.set(outcome.commandId, outcome);
    if (outcomes.size > dedupeWindow) outcomes.delete(outcomes.keys().next().value!);
    for (const answer of waiting.get(outcome.commandId) ?? []) answer(outcome);
    waiting.delete(outcome.commandId);
  };

  const decideMailbox = () => {
    const batch = mailbox.splice(0, mailbox.length);
    const versionBefore = snapshot.version;
    const occurredAt = new Date().toISOString(); // workflow time: deterministic on replay
    for (const command of batch) {
      if (outcomes.has(command.commandId)) continue; // a retry: answered from the first outcome
      const decision = decideSafely(aggregate, snapshot, command, occurredAt);
      snapshot = decision.snapshot;
      unpublished.push(...decision.events);
      recentEvents.push(...decision.events);
      remember(decision.outcome);
    }
    if (recentEvents.length > recentEventsKept) recentEvents = recentEvents.slice(-recentEventsKept);
    if (snapshot.version !== versionBefore) {
      upsertSearchAttributes([{ key: AggregateVersion, value: snapshot.version }]);
      setCurrentDetails(detailsOf(aggregate, snapshot));
    }
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
      } catch (error) {
        if (!isCancellation(error)) throw error;
        // Cancelled for a hand-over: the batch is carried and published again (consumers dedupe).
      } finally {
        publishing = undefined;
      }
    }
  };

  const continueAsNewDue = () => {
    const info = workflowInfo();
    return info.continueAsNewSuggested || (input.historyBudget !== undefined && info.historyLength >= input.historyBudget);
  };

  upsertSearchAttributes([
    { key: AggregateType, value: aggregate.name },
    { key: AggregateId, value: input.aggregateId },
    { key: AggregateVersion, value: snapshot.version },
  ]);
  setCurrentDetails(detailsOf(aggregate, snapshot));
  void publishLoop();

  for (;;) {
    await condition(() => mailbox.length > 0 || continueAsNewDue());
    if (mailbox.length > 0) {
      decideMailbox();
      continue;
    }
    // Hand over: stop starting publishes and give the one in flight a while to finish; a broker
    // outage must not hold the run open until its history overflows.
    draining = true;
    if (publishing && !(await condition(() => !publishing, publishGrace))) publishing?.cancel();
    await condition(() => !publishing);
    await condition(() => mailbox.length > 0 || allHandlersFinished());
    if (mailbox.length > 0) continue;
    await continueAsNew<typeof aggregateWorkflow>({
      aggregateType: input.aggregateType,
      aggregateId: input.aggregateId,
      historyBudget: input.historyBudget,
      carried: { snapshot, mailbox, unpublished, recentOutcomes: [...outcomes.values()], recentEvents },
    });
  }
}

/**
 * A bug in domain code (anything but a DomainError) must not wedge the aggregate, which would
 * retry the workflow task forever and answer nobody: the command is refused as INTERNAL.
 */
function decideSafely(aggregate: AnyAggregate, snapshot: Snapshot, command: CommandEnvelope, occurredAt: string): Decision {
  try {
    return decideCommand(aggregate, snapshot, command, occurredAt);
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const rejection = { kind: 'INTERNAL', code: 'DECIDE_FAILED', message: `${aggregate.name}.${command.type} failed: ${message}` } as const;
    return { snapshot, events: [], outcome: rejectedOutcome(command, snapshot.version, rejection) };
  }
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
