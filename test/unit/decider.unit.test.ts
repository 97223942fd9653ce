import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideCommand, replay, type Snapshot } from '../../core/decider';
import type { CommandEnvelope, CommandOutcome } from '../../core/envelopes';
import { cart, type CartState } from '../../examples/shop/domain/cart';

const occurredAt = '2024-05-01T10:00:05.000Z';
const issuedAt = '2024-05-01T10:00:00.000Z';

const command = (type: string, payload: Record<string, unknown>, overrides: Partial<CommandEnvelope> = {}): CommandEnvelope => ({
  commandId: 'cmd-1',
  aggregateType: 'cart',
  aggregateId: 'c1',
  type,
  payload,
  metadata: { correlationId: 'corr-1', issuedAt },
  ...overrides,
});

const address = { shippingAddress: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' } };
const addApple = (overrides: Partial<CommandEnvelope> = {}) => command('addItem', { itemId: 'apple', quantity: 2, price: 19.99 }, overrides);

const emptyCart = (): Snapshot<CartState> => replay<CartState>(cart, []);

const rejection = (outcome: CommandOutcome) => {
  assert.equal(outcome.status, 'rejected');
  return outcome.status === 'rejected' ? outcome.rejection : assert.fail('accepted');
};

/** Applies commands one after another, as the workflow does, and returns every decision. */
const run = (snapshot: Snapshot<CartState>, commands: CommandEnvelope[]) => {
  const decisions = [];
  for (const next of commands) {
    const decision = decideCommand(cart, snapshot, next, occurredAt);
    decisions.push(decision);
    snapshot = decision.snapshot;
  }
  return decisions;
};

describe('decideCommand', () => {
  describe('accepted commands', () => {
    it('wraps each decided event in a full envelope', () => {
      const decision = decideCommand(cart, emptyCart(), addApple(), occurredAt);
      assert.deepEqual(decision.events, [
        {
          eventId: 'cart:c1:1',
          aggregateType: 'cart',
          aggregateId: 'c1',
          version: 1,
          type: 'ItemAddedToCart',
          schemaVersion: 1,
          payload: { itemId: 'apple', quantity: 2, unitPriceCents: 1999 },
          occurredAt,
          commandId: 'cmd-1',
          correlationId: 'corr-1',
          causationId: 'cmd-1',
        },
      ]);
    });

    it('answers an accepted outcome with the new version and the events', () => {
      const decision = decideCommand(cart, emptyCart(), addApple(), occurredAt);
      assert.deepEqual(decision.outcome, {
        status: 'accepted',
        commandId: 'cmd-1',
        aggregateId: 'c1',
        version: 1,
        events: [{ type: 'ItemAddedToCart', version: 1, payload: { itemId: 'apple', quantity: 2, unitPriceCents: 1999 } }],
      });
    });

    it('evolves the snapshot without touching the one it was given', () => {
      const before = emptyCart();
      const decision = decideCommand(cart, before, addApple(), occurredAt);
      assert.deepEqual(decision.snapshot, { state: { status: 'open', items: [{ itemId: 'apple', quantity: 2, unitPriceCents: 1999 }] }, version: 1 });
      assert.deepEqual(before, { state: { status: 'open', items: [] }, version: 0 });
    });

    it('numbers events gaplessly across commands, with deterministic ids', () => {
      const decisions = run(emptyCart(), [
        addApple({ commandId: 'cmd-1' }),
        command('addItem', { itemId: 'pear', quantity: 1, price: 0.5 }, { commandId: 'cmd-2' }),
        command('removeItem', { itemId: 'apple' }, { commandId: 'cmd-3' }),
        command('checkout', address, { commandId: 'cmd-4' }),
      ]);
      const events = decisions.flatMap((decision) => decision.events);
      assert.deepEqual(
        events.map(({ version, eventId, type, commandId }) => ({ version, eventId, type, commandId })),
        [
          { version: 1, eventId: 'cart:c1:1', type: 'ItemAddedToCart', commandId: 'cmd-1' },
          { version: 2, eventId: 'cart:c1:2', type: 'ItemAddedToCart', commandId: 'cmd-2' },
          { version: 3, eventId: 'cart:c1:3', type: 'ItemRemovedFromCart', commandId: 'cmd-3' },
          { version: 4, eventId: 'cart:c1:4', type: 'CheckoutStarted', commandId: 'cmd-4' },
        ],
      );
      assert.deepEqual(events[3]?.payload, { orderId: 'c1.1', lines: [{ itemId: 'pear', quantity: 1, unitPriceCents: 50 }], totalCents: 50, ...address });
      assert.equal(decisions.at(-1)?.snapshot.version, 4);
    });

    it('is deterministic: the same inputs give the same decision', () => {
      const snapshot = emptyCart();
      assert.deepEqual(decideCommand(cart, snapshot, addApple(), occurredAt), decideCommand(cart, snapshot, addApple(), occurredAt));
    });

    it('takes causationId from the metadata when the sender gives one', () => {
      const decision = decideCommand(cart, emptyCart(), addApple({ metadata: { correlationId: 'corr-9', causationId: 'evt-7', issuedAt } }), occurredAt);
      assert.equal(decision.events[0]?.causationId, 'evt-7');
      assert.equal(decision.events[0]?.correlationId, 'corr-9');
    });

    it('decides on the parsed payload', () => {
      const decision = decideCommand(cart, emptyCart(), command('addItem', { itemId: '  apple ', quantity: 1, price: 1 }), occurredAt);
      assert.deepEqual(decision.events[0]?.payload, { itemId: 'apple', quantity: 1, unitPriceCents: 100 });
    });

    it('accepts a command that decides no events, keeping the version', () => {
      const [, decision] = run(emptyCart(), [addApple(), command('changeQuantity', { itemId: 'apple', quantity: 2 }, { commandId: 'cmd-2' })]);
      assert.deepEqual(decision?.outcome, { status: 'accepted', commandId: 'cmd-2', aggregateId: 'c1', version: 1, events: [] });
      assert.deepEqual(decision?.events, []);
      assert.equal(decision?.snapshot.version, 1);
    });

    it('accepts a command whose expectedVersion matches', () => {
      const [first] = run(emptyCart(), [addApple()]);
      const decision = decideCommand(cart, first!.snapshot, command('removeItem', { itemId: 'apple' }, { expectedVersion: 1 }), occurredAt);
      assert.equal(decision.outcome.status, 'accepted');
      assert.equal(decision.outcome.version, 2);
      assert.equal(decision.events[0]?.eventId, 'cart:c1:2');
    });

    it('accepts expectedVersion 0 on a new aggregate', () => {
      assert.equal(decideCommand(cart, emptyCart(), addApple({ expectedVersion: 0 }), occurredAt).outcome.status, 'accepted');
    });
  });

  describe('rejected commands', () => {
    it('rejects an unknown command type with UNKNOWN_COMMAND', () => {
      const outcome = decideCommand(cart, emptyCart(), command('explode', {}), occurredAt).outcome;
      assert.deepEqual(outcome, {
        status: 'rejected',
        commandId: 'cmd-1',
        aggregateId: 'c1',
        version: 0,
        rejection: { kind: 'INVALID_COMMAND', code: 'UNKNOWN_COMMAND', message: "cart has no command 'explode'" },
      });
    });

    for (const inherited of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      it(`rejects the inherited property name '${inherited}' as UNKNOWN_COMMAND`, () => {
        const { kind, code } = rejection(decideCommand(cart, emptyCart(), command(inherited, {}), occurredAt).outcome);
        assert.deepEqual({ kind, code }, { kind: 'INVALID_COMMAND', code: 'UNKNOWN_COMMAND' });
      });
    }

    it('rejects an invalid payload with the field errors', () => {
      const { kind, code, details } = rejection(
        decideCommand(cart, emptyCart(), command('addItem', { itemId: 'apple', quantity: 0, price: 1.999 }), occurredAt).outcome,
      );
      assert.equal(kind, 'INVALID_COMMAND');
      assert.equal(code, 'INVALID_PAYLOAD');
      assert.deepEqual(details, {
        formErrors: [],
        fieldErrors: { quantity: ['must be at least 1'], price: ['must have at most two decimal places'] },
      });
    });

    it('rejects a payload with a missing field', () => {
      const { code, details } = rejection(decideCommand(cart, emptyCart(), command('removeItem', {}), occurredAt).outcome);
      assert.equal(code, 'INVALID_PAYLOAD');
      const fieldErrors = (details as { fieldErrors: Record<string, string[]> }).fieldErrors;
      assert.deepEqual(Object.keys(fieldErrors), ['itemId']);
    });

    it('rejects a stale expectedVersion with VERSION_CONFLICT', () => {
      const [first] = run(emptyCart(), [addApple()]);
      const outcome = decideCommand(cart, first!.snapshot, command('removeItem', { itemId: 'apple' }, { expectedVersion: 0 }), occurredAt).outcome;
      const { kind, code, details } = rejection(outcome);
      assert.deepEqual({ kind, code, details }, { kind: 'VERSION_CONFLICT', code: 'VERSION_CONFLICT', details: { expected: 0, actual: 1 } });
      assert.equal(outcome.version, 1);
    });

    it('rejects an expectedVersion ahead of the aggregate with VERSION_CONFLICT', () => {
      const { details } = rejection(decideCommand(cart, emptyCart(), addApple({ expectedVersion: 3 }), occurredAt).outcome);
      assert.deepEqual(details, { expected: 3, actual: 0 });
    });

    it('turns a DomainError from decide into a RULE_VIOLATED rejection', () => {
      const { kind, code } = rejection(decideCommand(cart, emptyCart(), command('checkout', address), occurredAt).outcome);
      assert.deepEqual({ kind, code }, { kind: 'RULE_VIOLATED', code: 'CART_EMPTY' });
    });

    describe('on a checked-out cart', () => {
      const closed = () =>
        run(emptyCart(), [addApple(), command('checkout', address, { commandId: 'cmd-2' }), command('completeCheckout', { orderId: 'c1.1' }, { commandId: 'cmd-3' })]).at(-1)!
          .snapshot;

      it('is terminal at version 3', () => {
        assert.equal(closed().version, 3);
        assert.equal(cart.isTerminal(closed().state), true);
      });

      for (const [type, payload] of [
        ['addItem', { itemId: 'pear', quantity: 1, price: 1 }],
        ['removeItem', { itemId: 'apple' }],
        ['changeQuantity', { itemId: 'apple', quantity: 5 }],
        ['checkout', address],
      ] as const) {
        it(`rejects ${type} with AGGREGATE_CLOSED / CART_CLOSED`, () => {
          const { kind, code } = rejection(decideCommand(cart, closed(), command(type, payload, { commandId: 'cmd-3' }), occurredAt).outcome);
          assert.deepEqual({ kind, code }, { kind: 'AGGREGATE_CLOSED', code: 'CART_CLOSED' });
        });
      }

      it('still reports a malformed payload as INVALID_COMMAND', () => {
        const { kind } = rejection(decideCommand(cart, closed(), command('addItem', { itemId: '' }), occurredAt).outcome);
        assert.equal(kind, 'INVALID_COMMAND');
      });
    });

    const rejectedCases: [string, () => Snapshot<CartState>, CommandEnvelope][] = [
      ['an unknown command', emptyCart, command('explode', {})],
      ['an invalid payload', emptyCart, command('addItem', { itemId: 'apple', quantity: 100, price: 1 })],
      ['a version conflict', emptyCart, addApple({ expectedVersion: 5 })],
      ['a rule violation', emptyCart, command('checkout', address)],
      ['a closed aggregate', () => replay<CartState>(cart, [{ type: 'CartCheckedOut', payload: { totalItems: 1, totalCents: 1 } }]), addApple()],
    ];
    for (const [name, makeSnapshot, rejected] of rejectedCases) {
      it(`leaves the snapshot identical and emits nothing after ${name}`, () => {
        const snapshot = makeSnapshot();
        const copy = structuredClone(snapshot);
        const decision = decideCommand(cart, snapshot, rejected, occurredAt);
        assert.equal(decision.outcome.status, 'rejected');
        assert.equal(decision.snapshot, snapshot);
        assert.deepEqual(snapshot, copy);
        assert.deepEqual(decision.events, []);
      });
    }
  });
});

describe('replay', () => {
  it('starts from the initial state at version 0', () => {
    assert.deepEqual(replay(cart, []), { state: { status: 'open', items: [] }, version: 0 });
  });

  it('folds events and counts them as the version', () => {
    const snapshot = replay<CartState>(cart, [
      { type: 'ItemAddedToCart', payload: { itemId: 'apple', quantity: 2, unitPriceCents: 1999 } },
      { type: 'ItemAddedToCart', payload: { itemId: 'pear', quantity: 1, unitPriceCents: 50 } },
      { type: 'ItemQuantityChanged', payload: { itemId: 'apple', quantity: 5 } },
      { type: 'ItemRemovedFromCart', payload: { itemId: 'pear' } },
    ]);
    assert.deepEqual(snapshot, { state: { status: 'open', items: [{ itemId: 'apple', quantity: 5, unitPriceCents: 1999 }] }, version: 4 });
  });

  it('rebuilds the snapshot decideCommand reached from the events it emitted', () => {
    const decisions = run(emptyCart(), [
      addApple(),
      command('addItem', { itemId: 'apple', quantity: 1, price: 19.99 }, { commandId: 'cmd-2' }),
      command('checkout', address, { commandId: 'cmd-3' }),
      command('completeCheckout', { orderId: 'c1.1' }, { commandId: 'cmd-4' }),
    ]);
    const events = decisions.flatMap((decision) => decision.events);
    assert.deepEqual(replay(cart, events), decisions.at(-1)?.snapshot);
    assert.equal(cart.isTerminal(replay<CartState>(cart, events).state), true);
  });
});
