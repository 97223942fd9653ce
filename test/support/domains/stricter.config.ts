/**
 * The ledger as the next release might ship it: the account's rules got stricter (a deposit
 * of at most 5.00, and a withdrawal may not take the balance below 10.00). Used to deploy a
 * changed `decide` under running aggregates.
 */
import { defineAggregate, defineConfig, defineModule, DomainError, toCents } from 'ledgerflow';
import ledger from './ledger.config';
import { account } from './ledger/account';

export const stricterAccount = defineAggregate({
  ...account,
  decide(state, command, context) {
    if (command.type === 'deposit' && toCents(command.payload.amount) > 500) throw new DomainError('DEPOSIT_LIMIT', 'at most 5.00 a deposit (new rule)');
    if (command.type === 'withdraw' && state.balanceCents - toCents(command.payload.amount) < 1000) throw new DomainError('MINIMUM_BALANCE', 'the balance stays at 10.00 or more (new rule)');
    return account.decide(state, command, context);
  },
});

/** The ledger with this account in place of its own. */
export default defineConfig({ ...ledger, modules: { ...ledger.modules, account: defineModule({ aggregate: stricterAccount, readModel: ledger.modules.account.readModel, queries: ledger.modules.account.queries }) } });
