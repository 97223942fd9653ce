import type { AnyAggregate } from '../core/aggregate';
import { decideStep, lookupsNeeded, type DecideStepInput, type LookupResults, type StepDecision } from '../core/decider';
import { engineCodes, type Rejection } from '../core/errors';
import { aggregateLimits } from '../core/limits';
import { within } from '../infra/deadline';
import type { Logger } from '../infra/logger';
import type { WorkerMetrics } from '../infra/metrics';
import type { AggregateHeads } from './heads';
import type { AggregateLookup } from './lookups';

export interface DecideDeps {
  aggregates: Readonly<Record<string, AnyAggregate>>;
  /** Reads another aggregate's current state, for decisions that depend on it. */
  lookup: AggregateLookup;
  /** Where a run at version 0 asks whether its aggregate has events already (none: not checked). */
  heads?: AggregateHeads;
  metrics?: WorkerMetrics;
  log?: Pick<Logger, 'warn'>;
}

export function createDecideActivities({ aggregates, lookup, heads, metrics, log }: DecideDeps) {
  /**
   * The aggregate's head elsewhere, or undefined when that record cannot be read: then the run
   * decides as new (fail open, counted and logged). Refusing instead would stop every new cart
   * and order for as long as Redis is away, to guard against a history deleted in that window.
   */
  async function headOf(input: DecideStepInput): Promise<number | undefined> {
    if (!heads) return undefined;
    try {
      const head = await heads(input.aggregateType, input.aggregateId);
      metrics?.headCheck(input.aggregateType, head > 0 ? 'refused' : 'new');
      return head;
    } catch (error) {
      metrics?.headCheck(input.aggregateType, 'unknown');
      log?.warn({ err: error, aggregateType: input.aggregateType, aggregateId: input.aggregateId }, 'could not check whether a new aggregate has events; deciding it as new');
      return undefined;
    }
  }

  /** Everything each command reads from other aggregates, read now and within `lookupMs`; a failure is kept as its reason. */
  async function lookUp(aggregate: AnyAggregate, input: DecideStepInput) {
    const lookedUp = new Map<string, LookupResults | { unavailable: string }>();
    await Promise.all(
      input.commands.map(async (command) => {
        const needed = Object.entries(lookupsNeeded(aggregate, command));
        if (needed.length === 0) return;
        try {
          const reads = Promise.all(needed.map(async ([name, ref]) => [name, await lookup(ref)] as const));
          const results = await within(aggregateLimits.lookupMs, reads, new Error(`no answer within ${aggregateLimits.lookupMs} ms`));
          lookedUp.set(command.commandId, Object.fromEntries(results));
        } catch (error) {
          const names = needed.map(([, ref]) => `${ref.aggregateType} ${ref.aggregateId}`).join(', ');
          lookedUp.set(command.commandId, { unavailable: `a lookup of ${names} failed: ${error instanceof Error ? error.message : String(error)}` });
        }
      }),
    );
    return lookedUp;
  }

  return {
    /**
     * Decides the head of an aggregate's mailbox (a local activity: its result is recorded in the
     * workflow's history, so a replay never decides again, whatever `decide` says by then).
     */
    async decideCommands(input: DecideStepInput): Promise<StepDecision[]> {
      const aggregate = Object.hasOwn(aggregates, input.aggregateType) ? aggregates[input.aggregateType] : undefined;
      if (!aggregate) throw new Error(`unknown aggregate type '${input.aggregateType}'`);
      const started = performance.now();
      const head = input.firstStart ? await headOf(input) : undefined;
      const decisions = head
        ? input.commands.map((): StepDecision => ({ rejection: historyMissing(input, head) }))
        : decideStep(aggregate, input, aggregateLimits, await lookUp(aggregate, input));
      metrics?.decideStep(input, decisions, (performance.now() - started) / 1000);
      return decisions;
    },
  };
}

/** The refusal of every command to a run at version 0 whose aggregate has `head` events elsewhere. */
function historyMissing(input: DecideStepInput, head: number): Rejection {
  return {
    kind: 'AGGREGATE_CLOSED',
    code: engineCodes.AGGREGATE_HISTORY_MISSING,
    message: `${input.aggregateType} ${input.aggregateId} has ${head} events, but its workflow history is gone (deleted, or past Temporal's retention); it is not started again empty`,
    details: { version: head },
  };
}
