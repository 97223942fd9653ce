/**
 * The registry: every aggregate the engine runs, with the projection its `get` query reads.
 * Adding an aggregate is one entry here; workflow routing and the tRPC router follow from it.
 */
import type { AnyProjection } from '../core/projection';
import { cart } from './cart';
import { cartProjection } from './cart.projection';

export const aggregates = { cart } as const;

/** The read model behind `<aggregate>.get`, per aggregate. */
export const readModelOf = { cart: cartProjection } as const satisfies { [K in keyof typeof aggregates]: AnyProjection };

/** Every projection the projector runs. */
export const projections: readonly AnyProjection[] = [cartProjection];

export type Aggregates = typeof aggregates;
export { cart, cartProjection };
export type { CartReadModel } from './cart.projection';
