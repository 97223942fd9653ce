/**
 * The ledger as an app that pays withdrawals out would write it: a withdrawal starts the payout
 * process (a workflow of its own, payouts/process.ts), which sends the money through the app's
 * bank activity and confirms it on the account with a command only processes send.
 */
import { z } from 'zod';
import { defineAggregate, defineConfig, defineModule } from 'ledgerflow';
import ledger from './ledger.config';
import { account, accountEvents, evolveAccount } from './ledger/account';
import { createBankActivities } from './payouts/bank';
import { payoutProcess, type PayoutInput } from './payouts/process';

const entryId = z.string().trim().min(1).max(64);

export const payingAccount = defineAggregate({
  name: account.name,
  idField: account.idField,
  initialState: account.initialState,
  describe: account.describe,
  isTerminal: account.isTerminal,
  errorCodes: account.errorCodes,
  lookups: (command) => (command.type === 'confirmPayout' ? {} : account.lookups(command)),
  commands: { ...account.commands, confirmPayout: z.strictObject({ entryId, reference: z.string().min(1).max(128) }) },
  events: { ...accountEvents, PayoutConfirmed: z.object({ entryId: z.string(), reference: z.string() }) },
  internalCommands: ['confirmPayout'],
  processes: {
    Withdrawn: (event) => ({
      workflowType: 'payoutProcess',
      workflowId: `payout:${event.aggregateId}.${event.payload.entryId}`,
      input: { accountId: event.aggregateId, entryId: event.payload.entryId, amountCents: event.payload.amountCents, correlationId: event.correlationId } satisfies PayoutInput,
    }),
  },
  decide: (state, command, context) => (command.type === 'confirmPayout' ? [{ type: 'PayoutConfirmed', payload: command.payload }] : account.decide(state, command, context)),
  evolve: (state, event) => (event.type === 'PayoutConfirmed' ? state : evolveAccount(state, event)),
});

const { readModel, queries } = ledger.modules.account;

export const payoutsConfig = defineConfig({
  ...ledger,
  modules: { ...ledger.modules, account: defineModule({ aggregate: payingAccount, readModel, queries }) },
  processes: { payoutProcess },
  activities: () => createBankActivities(),
});

export default payoutsConfig;
