import { z } from 'zod';
import { defineQuery } from 'ledgerflow';
import { accountProjection } from './projection';
import { statementProjection } from './statement';

export const accountQueries = {
  /** A holder's accounts, most recently changed first. */
  byHolder: defineQuery({
    description: "A holder's accounts, most recently changed first.",
    input: z.strictObject({ holderId: z.string().min(1).max(128), limit: z.number().int().min(1).max(100).optional() }),
    run: (read, input) => read.list(accountProjection, 'byHolder', { key: input.holderId, order: 'desc', limit: input.limit ?? 20 }),
  }),
  /** Every entry of an account (null for an account that took none). */
  statement: defineQuery({
    description: 'Every entry of an account, oldest first.',
    input: z.strictObject({ accountId: z.string().min(1).max(128) }),
    run: (read, input) => read.get(statementProjection, input.accountId),
  }),
};
