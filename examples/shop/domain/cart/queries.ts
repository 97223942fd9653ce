import { z } from 'zod';
import { defineQuery, pageInput } from 'ledgerflow';
import { cartProjection } from './projection';

export const cartQueries = {
  /** Open carts, least recently changed first (e.g. `updatedBefore` an hour ago: abandoned carts), a page at a time. */
  listOpen: defineQuery({
    description: 'Open carts, least recently changed first, a page at a time.',
    // Every user's carts: staff only.
    access: 'admin',
    input: z.strictObject({ updatedBefore: z.iso.datetime().optional(), ...pageInput }),
    run: (read, input) =>
      read.page(cartProjection, 'openSince', {
        max: input.updatedBefore === undefined ? undefined : Date.parse(input.updatedBefore),
        limit: input.limit ?? 20,
        cursor: input.cursor,
      }),
  }),
};
