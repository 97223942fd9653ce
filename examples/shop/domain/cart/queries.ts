import { z } from 'zod';
import { defineQuery } from 'ledgerflow';
import { cartProjection } from './projection';

export const cartQueries = {
  /** Open carts, least recently changed first (e.g. `updatedBefore` an hour ago: abandoned carts). */
  listOpen: defineQuery({
    description: 'Open carts, least recently changed first.',
    // Every user's carts: staff only.
    access: 'admin',
    input: z.strictObject({ updatedBefore: z.iso.datetime().optional(), limit: z.number().int().min(1).max(100).optional() }),
    run: (read, input) =>
      read.list(cartProjection, 'openSince', {
        max: input.updatedBefore === undefined ? undefined : Date.parse(input.updatedBefore),
        limit: input.limit ?? 20,
      }),
  }),
};
