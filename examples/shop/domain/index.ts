/** The shop's modules: each aggregate with the read model its `get` reads, its projections and its queries. */
export { cart, cartModule, cartProjection, type CartReadModel, type CartState, type CheckoutInput } from './cart';
export { customer, customerModule, customerProjection, type CustomerReadModel, type CustomerState } from './customer';
export { inventory, inventoryModule, inventoryProjection, type InventoryReadModel, type InventoryState } from './inventory';
export { order, orderModule, orderSummaries, type OrderState, type OrderSummary } from './order';
