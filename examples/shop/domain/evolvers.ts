/**
 * The state side of every registered aggregate, by name: all the aggregate workflow needs
 * (workflows/index.ts). Free of zod and of read models, so the workflow bundle stays small and
 * each workflow starts fast; test/unit/registry.unit.test.ts checks it matches domain/index.ts.
 */
import { cartEvolver } from './cart/state';
import { customerEvolver } from './customer/state';
import { inventoryEvolver } from './inventory/state';
import { orderEvolver } from './order/state';

export const evolvers = { cart: cartEvolver, customer: customerEvolver, inventory: inventoryEvolver, order: orderEvolver } as const;
