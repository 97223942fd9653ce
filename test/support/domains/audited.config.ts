/**
 * The ledger with account statements: every entry an account took (the accounts read model lists
 * only the latest), and a query that reads one. The drills and sigterm.int run it, so that their
 * accounting can check each acknowledged command's entry, one by one.
 */
import { z } from 'zod';
import { defineConfig, defineModule, defineQuery } from 'ledgerflow';
import ledger from './ledger.config';
import { statementProjection } from './ledger/account';

const { aggregate, readModel, projections, queries } = ledger.modules.account;

export const auditedAccountModule = defineModule({
  aggregate,
  readModel,
  projections: [...projections, statementProjection],
  queries: {
    ...queries,
    /** Every entry of an account (null for an account that took none). */
    statement: defineQuery({
      description: 'Every entry of an account, oldest first.',
      input: z.strictObject({ accountId: z.string().min(1).max(128) }),
      run: (read, input) => read.get(statementProjection, input.accountId),
    }),
  },
});

export default defineConfig({ ...ledger, modules: { ...ledger.modules, account: auditedAccountModule } });
