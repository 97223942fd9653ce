/** The account's custom queries: `account.byOwner` in the API, beside the generated `account.get`. */
import { z } from 'zod';
import { defineQuery } from 'ledgerflow';
import { accountProjection } from './projection';

export const accountQueries = {
  /** An owner's accounts, largest balance first. */
  byOwner: defineQuery({
    description: "An owner's accounts, largest balance first.",
    input: z.strictObject({ owner: z.string().min(1).max(100), limit: z.number().int().min(1).max(100).optional() }),
    run: (read, input) => read.list(accountProjection, 'byOwner', { key: input.owner, order: 'desc', limit: input.limit ?? 20 }),
  }),
};
