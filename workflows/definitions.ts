/**
 * The aggregate workflow's message contract, imported by the workflow and by every client
 * (API, CLI, tests) so both sides agree on names and types.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Snapshot } from '../core/decider';
import type { CommandEnvelope, CommandOutcome, EventEnvelope } from '../core/envelopes';

export const aggregateWorkflowType = 'aggregateWorkflow';

/** Fire-and-forget delivery into the mailbox (used with signalWithStart). */
export const commandSignal = defineSignal<[CommandEnvelope]>('command');
/** Same mailbox; resolves with one outcome per command once they are decided. */
export const submitUpdate = defineUpdate<CommandOutcome[], [CommandEnvelope[]]>('submit');

export const stateQuery = defineQuery<unknown>('state');
export const versionQuery = defineQuery<number>('version');
export const recentEventsQuery = defineQuery<EventEnvelope[]>('recentEvents');

export const AggregateType = defineSearchAttributeKey('AggregateType', 'KEYWORD');
export const AggregateId = defineSearchAttributeKey('AggregateId', 'KEYWORD');
export const AggregateVersion = defineSearchAttributeKey('AggregateVersion', 'INT');

/** Commands per update: an API process coalesces concurrent commands into one update. */
export const maxCommandsPerUpdate = 100;

/**
 * How many recent commandIds (with their outcomes) an aggregate remembers for idempotency.
 * A retry of a command older than the last 1,000 processed is applied again.
 */
export const dedupeWindow = 1000;

/** What a run hands to the next across continue-as-new. */
export interface CarriedState {
  snapshot: Snapshot;
  mailbox: CommandEnvelope[];
  unpublished: EventEnvelope[];
  recentOutcomes: CommandOutcome[];
  recentEvents: EventEnvelope[];
}

export interface AggregateWorkflowInput {
  aggregateType: string;
  aggregateId: string;
  carried?: CarriedState;
  /** Continue as new after this many history events even if the server has not suggested it. */
  historyBudget?: number;
}
