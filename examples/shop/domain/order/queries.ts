import { z } from 'zod';
import { defineQuery, pageInput } from 'ledgerflow';
import { isOrderSummary, orderSummaries } from './projection';

const status = z.enum(['created', 'shipped', 'completed', 'cancelled']);

export const orderQueries = {
  /** The customer's orders neither completed nor cancelled, newest first, a page at a time (`nextCursor` reads the next). */
  activeForCustomer: defineQuery({
    description: "The customer's orders neither completed nor cancelled, newest first, a page at a time.",
    access: { owner: (input) => input.customerId },
    input: z.strictObject({ customerId: z.string().min(1).max(128), ...pageInput }),
    run: async (read, input) => {
      const page = await read.page(orderSummaries, 'activeByCustomer', { key: input.customerId, order: 'desc', limit: input.limit ?? 50, cursor: input.cursor });
      return { items: page.items.filter(isOrderSummary), nextCursor: page.nextCursor };
    },
  }),
  /** Orders in a status, oldest first (e.g. `created`: waiting to be shipped), a page at a time. */
  byStatus: defineQuery({
    description: 'Orders in a status, oldest first, a page at a time.',
    // Every user's orders: staff only.
    access: 'admin',
    input: z.strictObject({ status, ...pageInput }),
    run: async (read, input) => {
      const page = await read.page(orderSummaries, 'byStatus', { key: input.status, limit: input.limit ?? 50, cursor: input.cursor });
      return { items: page.items.filter(isOrderSummary), nextCursor: page.nextCursor };
    },
  }),
};
