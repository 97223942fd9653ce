/** The account with a bug a release might ship: a deposit with entry `bug` throws a TypeError in decide. */
import { defineAggregate, defineConfig, defineModule } from 'ledgerflow';
import ledger from './ledger.config';
import { account } from './ledger/account';

export const buggyAccount = defineAggregate({
  ...account,
  decide(state, command, context) {
    if (command.type === 'deposit' && command.payload.entryId === 'bug') {
      const missing = undefined as unknown as { cents: number };
      return [{ type: 'Deposited', payload: { entryId: 'bug', amountCents: missing.cents } }];
    }
    return account.decide(state, command, context);
  },
});

/** The engine's test domain with this account in place of its own. */
export default defineConfig({ ...ledger, modules: { ...ledger.modules, account: defineModule({ aggregate: buggyAccount, readModel: ledger.modules.account.readModel, queries: ledger.modules.account.queries }) } });
