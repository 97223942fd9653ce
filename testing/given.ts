/**
 * `ledgerflow/testing`: given/when/then specs for an app's deciders, in any test runner (they
 * throw node:assert errors). Pure: no services.
 */
import assert from 'node:assert/strict';
import type { AggregateDefinition, DecideContext, MessageOf, MessageSchemas } from '../core/aggregate';
import { DomainError } from '../core/errors';

export const defaultContext: DecideContext = { now: '2024-05-01T10:00:00.000Z', commandId: 'cmd-1', aggregateId: 'agg-1', lookups: {} };

/**
 * given(events).when(command).then(events) over an aggregate's pure functions: the given
 * events are folded with `evolve` from `initialState`, then `decide` runs on the result.
 */
export function deciderSpec<C extends MessageSchemas, E extends MessageSchemas, S, X extends keyof C & string>(
  aggregate: AggregateDefinition<string, string, C, E, S, X>,
  context: DecideContext = defaultContext,
) {
  const stateAfter = (events: readonly MessageOf<E>[]): S =>
    events.reduce<S>((state, event) => aggregate.evolve(state, event), aggregate.initialState());

  const given = (...events: MessageOf<E>[]) => ({
    state: () => stateAfter(events),
    when: (command: MessageOf<C>) => {
      const run = () => aggregate.decide(stateAfter(events), command, context);
      return {
        then(expected: readonly MessageOf<E>[]) {
          assert.deepEqual(run(), expected);
        },
        thenNothingHappens() {
          assert.deepEqual(run(), []);
        },
        thenRejects(code: string) {
          assert.throws(run, (error: unknown) => {
            assert.ok(error instanceof DomainError, `expected a DomainError, got ${String(error)}`);
            assert.equal(error.code, code);
            assert.equal(error.kind, 'RULE_VIOLATED');
            return true;
          });
        },
      };
    },
  });

  return { given, stateAfter };
}
