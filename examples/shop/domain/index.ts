/**
 * The registry: every aggregate the engine runs, one module each (its aggregate, the read model
 * its `get` query reads, its projections and custom queries). Adding an aggregate is one entry
 * here; workflow routing, the tRPC router and the projector follow from it.
 */
import { defineRegistry } from '../core/module';
import { cartModule } from './cart';
import { customerModule } from './customer';
import { inventoryModule } from './inventory';
import { orderModule } from './order';

export const { modules, aggregates, readModelOf, projections } = defineRegistry({
  cart: cartModule,
  customer: customerModule,
  inventory: inventoryModule,
  order: orderModule,
});

export type Modules = typeof modules;
export type Aggregates = typeof aggregates;

export { cart, cartProjection, type CartReadModel } from './cart';
export { customer, customerProjection, type CustomerReadModel } from './customer';
export { inventory, inventoryProjection, type InventoryReadModel } from './inventory';
export { order, orderSummaries, type OrderSummary } from './order';
