import type { AnyAggregate } from '../../core/aggregate';
import { cart2026_11_22 } from './cart-2026-11-22';

/** The deciders runs from before recorded decisions replay with, by aggregate type. */
export const legacyDeciders: Readonly<Record<string, AnyAggregate>> = { cart: cart2026_11_22 };
