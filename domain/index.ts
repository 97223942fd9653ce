/**
 * The registry: every aggregate the engine runs, one module each (its aggregate, the read model
 * its `get` query reads, its projections and custom queries). Adding an aggregate is one entry
 * in `modules`; workflow routing, the tRPC router and the projector follow from it.
 */
import type { AnyProjection } from '../core/projection';
import { cartModule } from './cart';
import { customerModule } from './customer';
import { inventoryModule } from './inventory';
import { orderModule } from './order';

export const modules = { cart: cartModule, customer: customerModule, inventory: inventoryModule, order: orderModule } as const;

export type Modules = typeof modules;

/** The aggregates, by name (what the workflow and deciding run). */
export const aggregates = {
  cart: cartModule.aggregate,
  customer: customerModule.aggregate,
  inventory: inventoryModule.aggregate,
  order: orderModule.aggregate,
} as const;

export type Aggregates = typeof aggregates;

/** The read model behind `<aggregate>.get`, per aggregate. */
export const readModelOf = {
  cart: cartModule.readModel,
  customer: customerModule.readModel,
  inventory: inventoryModule.readModel,
  order: orderModule.readModel,
} as const satisfies { [K in keyof Aggregates]: AnyProjection };

/** Every projection the projector runs, each once. */
export const projections: readonly AnyProjection[] = [...new Set(Object.values(modules).flatMap((m) => m.projections))];

export { cart, cartProjection, type CartReadModel } from './cart';
export { customer, customerProjection, type CustomerReadModel } from './customer';
export { inventory, inventoryProjection, type InventoryReadModel } from './inventory';
export { order, orderSummaries, type OrderSummary } from './order';
