import { z } from 'zod';
import { defineQuery } from 'ledgerflow';
import { accountProjection } from './projection';

export const accountQueries = {
  /** A holder's accounts, most recently changed first. */
  byHolder: defineQuery({
    description: "A holder's accounts, most recently changed first.",
    input: z.strictObject({ holderId: z.string().min(1).max(128), limit: z.number().int().min(1).max(100).optional() }),
    run: (read, input) => read.list(accountProjection, 'byHolder', { key: input.holderId, order: 'desc', limit: input.limit ?? 20 }),
  }),
};
