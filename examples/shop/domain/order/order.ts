import { z } from 'zod';
import { assertNever, defineAggregate, type LookedUp, DomainError, cents, decimalAmount, toCents } from 'ledgerflow';
import { describeOrder, evolveOrder, initialOrder, isOrderTerminal, orderEvents, type OrderState } from './state';
import { shippingAddress } from '../address';
import type { CustomerState } from '../customer/state';

const item = z.strictObject({
  itemId: z.string().trim().min(1).max(64),
  quantity: z.number().int({ message: 'must be a whole number' }).min(1).max(99),
  price: decimalAmount,
});

export const orderCommands = {
  create: z.strictObject({
    customerId: z.string().min(1).max(128),
    items: z.array(item).min(1, { message: 'an order needs at least one item' }).max(100, { message: 'at most 100 items' }),
    shippingAddress,
  }),
  ship: z.strictObject({}),
  complete: z.strictObject({}),
  cancel: z.strictObject({ reason: z.string().trim().min(1).max(500) }),
};



export const orderErrorCodes = {
  CUSTOMER_NOT_FOUND: 'CUSTOMER_NOT_FOUND',
  CUSTOMER_INACTIVE: 'CUSTOMER_INACTIVE',
  ORDER_ALREADY_CREATED: 'ORDER_ALREADY_CREATED',
  ORDER_NOT_FOUND: 'ORDER_NOT_FOUND',
  ORDER_CANCELLED: 'ORDER_CANCELLED',
  ORDER_ALREADY_SHIPPED: 'ORDER_ALREADY_SHIPPED',
  ORDER_NOT_SHIPPED: 'ORDER_NOT_SHIPPED',
} as const;

function requireStatus(state: OrderState, action: string) {
  if (state.status === 'none') throw new DomainError(orderErrorCodes.ORDER_NOT_FOUND, 'there is no such order');
  if (state.status === 'cancelled') throw new DomainError(orderErrorCodes.ORDER_CANCELLED, `a cancelled order cannot be ${action}`);
}

/** Whether a create asks for the order this one is: same customer, same total. */
const sameOrder = (state: OrderState, create: { customerId: string; items: { quantity: number; price: number }[] }) =>
  state.customerId === create.customerId && state.totalCents === create.items.reduce((sum, item) => sum + item.quantity * toCents(item.price), 0);

export const order = defineAggregate({
  name: 'order',
  idField: 'orderId',
  events: orderEvents,
  initialState: initialOrder,
  evolve: evolveOrder,
  describe: describeOrder,
  isTerminal: isOrderTerminal,
  commands: orderCommands,
  errorCodes: Object.values(orderErrorCodes),
  // Creating an order reads the customer aggregate's current state, not a read model.
  lookups: (command) =>
    command.type === 'create' ? { customer: { aggregateType: 'customer', aggregateId: command.payload.customerId } } : {},

  decide(state, command, { lookups }) {
    switch (command.type) {
      case 'create': {
        if (state.status !== 'none') {
          // The same create resent (its commandId forgotten meanwhile) is the order it created.
          if (sameOrder(state, command.payload)) return [];
          throw new DomainError(orderErrorCodes.ORDER_ALREADY_CREATED, 'this order already exists');
        }
        const customer = lookups.customer as LookedUp<CustomerState> | null;
        if (!customer || customer.state.status === 'unregistered') {
          throw new DomainError(orderErrorCodes.CUSTOMER_NOT_FOUND, `customer ${command.payload.customerId} does not exist`);
        }
        if (customer.state.status === 'inactive') throw new DomainError(orderErrorCodes.CUSTOMER_INACTIVE, 'Customer is inactive');
        const items = command.payload.items.map(({ itemId, quantity, price }) => ({ itemId, quantity, unitPriceCents: toCents(price) }));
        const totalCents = items.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0);
        return [
          {
            type: 'OrderCreated',
            payload: { customerId: command.payload.customerId, items, totalCents, shippingAddress: command.payload.shippingAddress, customerVersion: customer.version },
          },
        ];
      }
      case 'ship':
        requireStatus(state, 'shipped');
        if (state.status !== 'created') throw new DomainError(orderErrorCodes.ORDER_ALREADY_SHIPPED, 'the order was already shipped');
        return [{ type: 'OrderShipped', payload: {} }];
      case 'complete':
        requireStatus(state, 'completed');
        if (state.status !== 'shipped') throw new DomainError(orderErrorCodes.ORDER_NOT_SHIPPED, 'only a shipped order can be completed');
        return [{ type: 'OrderCompleted', payload: {} }];
      case 'cancel':
        // A cancel resent for a cancelled order is that cancellation (a compensation's retry).
        if (state.status === 'cancelled') return [];
        requireStatus(state, 'cancelled');
        if (state.status === 'shipped') throw new DomainError(orderErrorCodes.ORDER_ALREADY_SHIPPED, 'a shipped order cannot be cancelled');
        return [{ type: 'OrderCancelled', payload: command.payload }];
      default:
        return assertNever(command);
    }
  },

});
