/**
 * The aggregate workflow's message contract, imported by the workflow and by every client
 * (API, CLI, tests) so both sides agree on names and types.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ProcessStart } from '../core/aggregate';
import type { Snapshot } from '../core/decider';
import type { CommandEnvelope, CommandOutcome, EventEnvelope, OutcomeRecord } from '../core/envelopes';
import { jsonBytes } from '../core/limits';
import type { AcceptedId, CommandLookup, RememberedOutcomes } from './outcome-memory';

export const aggregateWorkflowType = 'aggregateWorkflow';

/**
 * Delivers command envelopes to the mailbox and resolves with one outcome per command once
 * they are decided. Its validator refuses, before anything is recorded, an update that would
 * overfill the mailbox or that arrives while the unpublished backlog is full.
 */
export const submitUpdate = defineUpdate<CommandOutcome[], [CommandEnvelope[]]>('submit');

/**
 * Fire-and-forget delivery, kept only so that runs started by earlier releases replay: a signal
 * cannot be refused, so it cannot honour the mailbox's bound. Clients use `submitUpdate`.
 */
export const legacyCommandSignal = defineSignal<[CommandEnvelope]>('command');

export const stateQuery = defineQuery<unknown>('state');
export const versionQuery = defineQuery<number>('version');
/** State and version together: what another aggregate's lookup reads. */
export const snapshotQuery = defineQuery<Snapshot>('snapshot');
export const recentEventsQuery = defineQuery<EventEnvelope[]>('recentEvents');
/** What the aggregate knows of a commandId: pending, accepted, rejected or unknown (`system.commandOutcome`). */
export const outcomeQuery = defineQuery<CommandLookup, [string]>('outcome');

/** How full each of the aggregate's buffers is, against `aggregateLimits`. */
export interface BufferLevels {
  version: number;
  stateBytes: number;
  mailbox: { commands: number; bytes: number };
  backlog: { events: number; bytes: number };
  remembered: number;
}
export const buffersQuery = defineQuery<BufferLevels>('buffers');

export const AggregateType = defineSearchAttributeKey('AggregateType', 'KEYWORD');
export const AggregateId = defineSearchAttributeKey('AggregateId', 'KEYWORD');
export const AggregateVersion = defineSearchAttributeKey('AggregateVersion', 'INT');
/** On a process's workflow: what kind of process it is, e.g. `checkout`. */
export const ProcessType = defineSearchAttributeKey('ProcessType', 'KEYWORD');
/** On a process's workflow: every aggregate it touches, as `<type>:<id>` (find a process by its order). */
export const LinkedAggregates = defineSearchAttributeKey('LinkedAggregates', 'KEYWORD_LIST');
/**
 * What `LinkedAggregates` may hold, as JSON: Temporal refuses a search attribute value over 2 KB
 * by default (`limit.searchAttributesSizeOfValue`), failing the workflow task that set it.
 */
export const linkedAggregatesBytes = 1_800;

/**
 * A process's links, bounded for `LinkedAggregates`: duplicates dropped, and when they do not fit,
 * the first ones kept (put the ones to search by first) and a last entry `+<n> more` saying how
 * many were left out.
 */
export function linkedAggregates(links: readonly string[], maxBytes: number = linkedAggregatesBytes): string[] {
  const unique = [...new Set(links)];
  if (jsonBytes(unique) <= maxBytes) return unique;
  const marker = (left: number) => `+${left} more`;
  const kept: string[] = [];
  let bytes = jsonBytes([marker(unique.length)]);
  for (const link of unique) {
    const cost = jsonBytes(link) + 1;
    if (bytes + cost > maxBytes) break;
    kept.push(link);
    bytes += cost;
  }
  return [...kept, marker(unique.length - kept.length)];
}

/** Every search attribute the workflows set: the namespace must have them (`ledgerflow setup`). */
export const searchAttributeKeys = [AggregateType, AggregateId, AggregateVersion, ProcessType, LinkedAggregates] as const;


/** What a run hands to the next across continue-as-new. */
export interface CarriedState {
  snapshot: Snapshot;
  /** Always empty from runs that record decisions (they hand over only with an empty mailbox). */
  mailbox: CommandEnvelope[];
  unpublished: EventEnvelope[];
  /** What runs of this release remember of decided commands. */
  outcomes?: RememberedOutcomes;
  /** What runs from before remembered: the last 1,000 outcomes, without times. */
  recentOutcomes?: OutcomeRecord[];
  recentEvents: EventEnvelope[];
  /** Processes decided to start and not yet started (absent from runs before processes existed). */
  pendingStarts?: ProcessStart[];
}

export interface AggregateWorkflowInput {
  aggregateType: string;
  aggregateId: string;
  /**
   * Set by every client of this release (and carried across hand-overs): the run records its
   * decisions. Runs started before it lack it and replay as they were written. (An input flag
   * rather than `patched()`, which would cost a marker and a search-attribute write per run.)
   */
  recordDecisions?: true;
  /**
   * Set by every client of this release (and carried across hand-overs): the run decides in a
   * regular activity. Runs started before it decide in a local activity until their next
   * hand-over, as their histories say.
   */
  decideInActivity?: true;
  carried?: CarriedState;
  /** Continue as new after this many history events even if the server has not suggested it. */
  historyBudget?: number;
  /**
   * How long decided commandIds are answered (`aggregateLimits.commandIdRetentionMs` when
   * absent): set by the bus that starts the aggregate, carried across hand-overs.
   */
  commandIdRetentionMs?: number;
}

/** The aggregate workflow's signature, for clients that start it. */
export type AggregateWorkflow = (input: AggregateWorkflowInput) => Promise<AggregateEnd>;

/**
 * How an aggregate's workflow ends. `empty`: no command was ever accepted, so the id may be
 * used again. `terminal`: the aggregate reached a terminal state and published every event; a
 * later command is refused with `code`, and a retry of a remembered command gets its outcome
 * (`recentOutcomes` in full, older acceptances in `acceptedIds`, absent from runs before them).
 */
export type AggregateEnd =
  | { end: 'empty' }
  | { end: 'terminal'; version: number; code: string; recentOutcomes: OutcomeRecord[]; acceptedIds?: AcceptedId[] };
