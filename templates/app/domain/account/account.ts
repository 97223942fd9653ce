/** The account's commands and `decide`: which events a command causes, or which rule it breaks. */
import { z } from 'zod';
import { assertNever, decimalAmount, defineAggregate, DomainError, fromCents, toCents } from 'ledgerflow';
import { accountEvents, describeAccount, evolveAccount, initialAccount, type AccountState } from './state';

export const accountCommands = {
  open: z.strictObject({ owner: z.string().trim().min(1, { message: 'must not be empty' }).max(100) }),
  deposit: z.strictObject({ amount: decimalAmount }),
  withdraw: z.strictObject({ amount: decimalAmount }),
};

export const accountErrorCodes = {
  ACCOUNT_ALREADY_OPEN: 'ACCOUNT_ALREADY_OPEN',
  ACCOUNT_NOT_OPEN: 'ACCOUNT_NOT_OPEN',
  INSUFFICIENT_FUNDS: 'INSUFFICIENT_FUNDS',
} as const;

function requireOpen(state: AccountState) {
  if (state.status !== 'open') throw new DomainError(accountErrorCodes.ACCOUNT_NOT_OPEN, 'the account is not open');
}

/** One aggregate per account: a Temporal workflow `account:<accountId>` that takes its commands one at a time. */
export const account = defineAggregate({
  name: 'account',
  idField: 'accountId',
  events: accountEvents,
  initialState: initialAccount,
  evolve: evolveAccount,
  describe: describeAccount,
  commands: accountCommands,
  errorCodes: Object.values(accountErrorCodes),
  decide(state, command) {
    switch (command.type) {
      case 'open':
        if (state.status === 'open') throw new DomainError(accountErrorCodes.ACCOUNT_ALREADY_OPEN, 'this account is already open');
        return [{ type: 'AccountOpened', payload: { owner: command.payload.owner } }];
      case 'deposit':
        requireOpen(state);
        return [{ type: 'MoneyDeposited', payload: { amountCents: toCents(command.payload.amount) } }];
      case 'withdraw': {
        requireOpen(state);
        const amountCents = toCents(command.payload.amount);
        if (amountCents > state.balanceCents) {
          throw new DomainError(accountErrorCodes.INSUFFICIENT_FUNDS, `the balance is ${fromCents(state.balanceCents).toFixed(2)}`);
        }
        return [{ type: 'MoneyWithdrawn', payload: { amountCents } }];
      }
      default:
        return assertNever(command);
    }
  },
});
