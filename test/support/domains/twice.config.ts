/**
 * The cart with a write-side defect a release might ship: an add of an item whose id ends in
 * `~twice` is decided twice, so one command becomes two events (two versions, one commandId).
 * The drill accounting must see it as Temporal, RabbitMQ and Redis show it.
 */
import { defineAggregate } from '../../../core/aggregate';
import { aggregates } from '../../../domain';
import { cart } from '../../../domain/cart';

export const twiceCart = defineAggregate({
  ...cart,
  decide(state, command, context) {
    const events = cart.decide(state, command, context);
    return command.type === 'addItem' && command.payload.itemId.endsWith('~twice') ? [...events, ...events] : events;
  },
});

export const twiceAggregates = { ...aggregates, cart: twiceCart };
