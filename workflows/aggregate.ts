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
import type { AnyAggregate } from '../core/aggregate';
import { aggregatesOf, type AnyAppConfig } from '../core/app';
import { decideStep, type DecideStepInput, type StepDecision } from '../core/decider';
import { engineCodes } from '../core/errors';
import { aggregateLimits as limits, jsonBytes } from '../core/limits';
import { AggregateActor, fitted } from './actor';
import {
  AggregateId,
  AggregateType,
  AggregateVersion,
  buffersQuery,
  legacyCommandSignal,
  outcomeQuery,
  recentEventsQuery,
  snapshotQuery,
  stateQuery,
  submitUpdate,
  versionQuery,
  type AggregateEnd,
  type AggregateWorkflow,
  type AggregateWorkflowInput,
} from './definitions';

const { publishEvents } = proxyActivities<Activities>({
  // Short, so a publish lost with a crashed worker is retried elsewhere within seconds.
  startToCloseTimeout: '10 seconds',
  // No maximum attempts: a broker outage delays events and loses none.
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/**
 * Deciding runs in an activity so that its result is recorded in the history: a replay
 * (another worker, a restart, a deploy that changed `decide`) takes the recorded decisions and
 * never decides again, so the state stays the fold of the events already decided.
 *
 * Runs started by this release decide in a regular activity (dispatched eagerly, on the
 * workflow's own task queue): its result arrives as a history event, in the order it happened. Runs
 * from before decided in a local activity and keep doing so until their next hand-over. A local
 * activity's marker can be recorded one workflow task before the workflow sees its result (the
 * SDK completes a task that answered a query while the activity finished), and that history
 * then fails to replay: TMPRL1100, "Update machine does not handle this event".
 */
const decideOptions = { startToCloseTimeout: '10 seconds', retry: { initialInterval: '100 milliseconds', maximumAttempts: 3 } } as const;
const { decideCommands: decideInActivity } = proxyActivities<Activities>(decideOptions);
const { decideCommands: decideInLocalActivity } = proxyLocalActivities<Activities>(decideOptions);

const publishGrace = '10 seconds';
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
  const decideCommands = input.decideInActivity === true ? decideInActivity : decideInLocalActivity;
  const retentionMs = retentionOf(input);
  const actor = new AggregateActor({ aggregate, aggregateId: input.aggregateId, recorded, carried: input.carried, retentionMs });
  const handOverDue = () => {
    const info = workflowInfo();
    return info.continueAsNewSuggested || (input.historyBudget !== undefined && info.historyLength >= input.historyBudget);
  };

  if (!recorded) setHandler(legacyCommandSignal, (command) => actor.accept([command]));
  setHandler(
    submitUpdate,
    async (commands) => {
      const ticket = actor.submit(commands);
      await condition(ticket.done);
      return ticket.outcomes();
    },
    {
      description: 'Deliver command envelopes to the mailbox and answer each one\'s outcome once decided.',
      validator: (commands) => {
        // Refusals here are not recorded in the history: the update never happened.
        const refusal = actor.refusal(commands);
        if (refusal) throw refusal.retryable ? ApplicationFailure.retryable(refusal.message, refusal.type) : ApplicationFailure.nonRetryable(refusal.message, refusal.type);
      },
    },
  );
  setHandler(stateQuery, () => actor.snapshot.state, { description: 'The aggregate\'s current domain state.' });
  setHandler(versionQuery, () => actor.snapshot.version, { description: 'The number of events the aggregate has decided.' });
  setHandler(snapshotQuery, () => actor.snapshot, { description: 'State and version together (what another aggregate\'s lookup reads).' });
  setHandler(recentEventsQuery, () => actor.recentEvents, { description: `The last ${limits.recentEvents} events decided.` });
  setHandler(outcomeQuery, (commandId) => actor.lookup(String(commandId)), { description: 'What the aggregate knows of a commandId: pending, accepted, rejected or unknown.' });
  setHandler(buffersQuery, () => actor.buffers(), { description: 'How full the mailbox, the unpublished backlog and the dedupe window are.' });

  const decideNext = async () => {
    const step = actor.nextStep(new Date().toISOString()); // workflow time: deterministic on replay
    let decisions: StepDecision[];
    if (!recorded) decisions = decideAsBefore(aggregate, step);
    else {
      try {
        decisions = await decideCommands(step);
      } catch (error) {
        // Only a broken worker gets here (decideStep itself never throws): refuse, keep nothing.
        const message = `deciding failed: ${error instanceof Error ? error.message : String(error)}`;
        decisions = step.commands.map(() => ({ rejection: { kind: 'INTERNAL', code: engineCodes.DECIDE_FAILED, message } }));
      }
    }
    const applied = actor.applyStep(step.commands, decisions);
    if (applied.waiting) {
      const { reason, retryInMs, command } = applied.waiting;
      log.warn('deciding waits for a lookup', { reason, retryInMs, commandId: command?.commandId, correlationId: command?.metadata.correlationId });
      void sleep(retryInMs).then(() => actor.resume());
    }
    if (applied.upsertVersion) upsertSearchAttributes([{ key: AggregateVersion, value: actor.snapshot.version }]);
    if (applied.versionMoved) setCurrentDetails(actor.details());
    actor.noteHandOver(handOverDue);
  };

  // Publishing runs behind deciding, in version order, one activity in flight.
  let publishing: CancellationScope | undefined;
  const publishLoop = async () => {
    for (;;) {
      await condition(() => actor.publishable());
      const batch = actor.nextBatch();
      publishing = new CancellationScope();
      try {
        await publishing.run(() => publishEvents(batch));
        actor.published(batch);
        actor.noteHandOver(handOverDue);
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
      await condition(() => actor.pendingStarts.length > 0);
      const next = actor.pendingStarts[0]!;
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
      actor.pendingStarts.shift();
    }
  };

  // Recorded runs get their search attributes from their start (the command bus sets them) or
  // from the hand-over that began them; runs from before set them here, as they did.
  if (!recorded) {
    upsertSearchAttributes([
      { key: AggregateType, value: aggregate.name },
      { key: AggregateId, value: input.aggregateId },
      { key: AggregateVersion, value: actor.snapshot.version },
    ]);
  }
  setCurrentDetails(actor.details());
  void publishLoop();
  if (recorded) void startLoop();

  for (;;) {
    await condition(() => actor.decidable() || actor.finished() || actor.handOverReady(handOverDue));
    if (actor.decidable()) {
      await decideNext();
      continue;
    }
    if (actor.finished()) {
      await condition(() => actor.mailbox.length > 0 || allHandlersFinished());
      if (!actor.finished()) continue;
      return actor.end();
    }
    // Hand over: stop starting publishes and give the one in flight a while to finish; a broker
    // outage must not hold the run open until its history overflows.
    actor.draining = true;
    if (publishing && !(await condition(() => !publishing, publishGrace))) publishing?.cancel();
    await condition(() => !publishing && actor.pendingStarts.length === 0);
    await condition(() => actor.mailbox.length > 0 || allHandlersFinished());
    if (actor.mailbox.length > 0) {
      // (Runs from before recorded decisions kept draining here; their histories say so.)
      if (recorded) actor.draining = false;
      continue;
    }
    const handed = actor.handOver();
    // The next run records its decisions whatever this one did: a run from before moves over here.
    const next = { aggregateType: input.aggregateType, aggregateId: input.aggregateId, historyBudget: input.historyBudget, recordDecisions: true as const, decideInActivity: true as const, commandIdRetentionMs: retentionMs };
    if (!recorded) await continueAsNew<AggregateWorkflow>({ ...next, carried: handed });
    const { carried, trimmed } = fitted(handed, carryBudget);
    if (trimmed) log.error('hand-over came near the payload limit; the oldest remembered outcomes were let go', { bytes: jsonBytes(carried) });
    await makeContinueAsNewFunc<AggregateWorkflow>({
      typedSearchAttributes: [
        { key: AggregateType, value: aggregate.name },
        { key: AggregateId, value: input.aggregateId },
        { key: AggregateVersion, value: actor.snapshot.version },
      ],
    })({ ...next, carried });
  }
}

/** The input's retention when it is a sane number of milliseconds, else the default. */
function retentionOf(input: AggregateWorkflowInput): number {
  const ms = input.commandIdRetentionMs;
  return typeof ms === 'number' && Number.isSafeInteger(ms) && ms > 0 ? ms : limits.commandIdRetentionMs;
}

/**
 * A run from before recorded decisions decides as its release did: with the decider the
 * aggregate's definition keeps for it (`legacyDecider`).
 */
function decideAsBefore(aggregate: AnyAggregate, input: DecideStepInput): StepDecision[] {
  if (!aggregate.legacyDecider) throw ApplicationFailure.nonRetryable(`no decider of an earlier release for '${aggregate.name}'`, 'NO_LEGACY_DECIDER');
  return decideStep(aggregate.legacyDecider, input);
}
