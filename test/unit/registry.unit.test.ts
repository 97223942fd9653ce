import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineRegistry } from '../../core/module';
import { aggregates, modules } from '../../domain';
import { evolvers } from '../../domain/evolvers';

describe('the registry', () => {
  it('gives the workflow the state side of every registered aggregate, and nothing else', () => {
    assert.deepEqual(Object.keys(evolvers).sort(), Object.keys(aggregates).sort());
    for (const [name, evolver] of Object.entries(evolvers)) {
      const aggregate = aggregates[name as keyof typeof aggregates];
      assert.equal(evolver.name, name);
      assert.equal(aggregate.evolve, evolver.evolve, `${name}: the workflow folds events with the aggregate's own evolve`);
      assert.equal(aggregate.initialState, evolver.initialState);
      assert.equal(aggregate.isTerminal, evolver.isTerminal);
    }
  });

  it('refuses a module registered under another name than its aggregate’s', () => {
    assert.throws(() => defineRegistry({ basket: modules.cart }), /module 'basket' holds aggregate 'cart'/);
  });
});
