import type { AnyAggregate } from '../core/aggregate';
import { decideStep, lookupsNeeded, type DecideStepInput, type LookupResults, type StepDecision } from '../core/decider';
import { aggregateLimits } from '../core/limits';
import type { WorkerMetrics } from '../infra/metrics';
import type { AggregateLookup } from './lookups';

export interface DecideDeps {
  aggregates: Readonly<Record<string, AnyAggregate>>;
  /** Reads another aggregate's current state, for decisions that depend on it. */
  lookup: AggregateLookup;
  metrics?: WorkerMetrics;
}

export function createDecideActivities({ aggregates, lookup, metrics }: DecideDeps) {
  return {
    /**
     * Decides the head of an aggregate's mailbox (a local activity: its result is recorded in the
     * workflow's history, so a replay never decides again, whatever `decide` says by then).
     */
    async decideCommands(input: DecideStepInput): Promise<StepDecision[]> {
      const aggregate = Object.hasOwn(aggregates, input.aggregateType) ? aggregates[input.aggregateType] : undefined;
      if (!aggregate) throw new Error(`unknown aggregate type '${input.aggregateType}'`);
      const started = performance.now();
      // Everything the commands read from other aggregates, read now, just before deciding.
      const lookedUp = new Map<string, LookupResults | { unavailable: string }>();
      await Promise.all(
        input.commands.map(async (command) => {
          const needed = Object.entries(lookupsNeeded(aggregate, command));
          if (needed.length === 0) return;
          try {
            const results = await Promise.all(needed.map(async ([name, ref]) => [name, await lookup(ref)] as const));
            lookedUp.set(command.commandId, Object.fromEntries(results));
          } catch (error) {
            lookedUp.set(command.commandId, { unavailable: `a lookup failed: ${error instanceof Error ? error.message : String(error)}` });
          }
        }),
      );
      const decisions = decideStep(aggregate, input, aggregateLimits, lookedUp);
      metrics?.decideStep(input, decisions, (performance.now() - started) / 1000);
      return decisions;
    },
  };
}
