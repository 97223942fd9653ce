import { z } from 'zod';
import { assertNever, decimalAmount, defineAggregate, DomainError, toCents, type AggregateRef, type LookedUp } from 'ledgerflow';
import type { HolderState } from '../holder/state';
import { accountEvents, describeAccount, evolveAccount, initialAccount, isAccountClosed } from './state';

const entry = z.strictObject({ entryId: z.string().trim().min(1).max(64), amount: decimalAmount });

export const accountCommands = {
  /** One event. */
  deposit: entry,
  /** One event, or INSUFFICIENT_FUNDS. */
  withdraw: entry,
  /** One event per entry: several in one decision. */
  depositMany: z.strictObject({ entries: z.array(entry).min(1).max(20) }),
  /** Reads the holder's current state; decides nothing when the holder is already this one. */
  assign: z.strictObject({ holderId: z.string().trim().min(1).max(128) }),
  /** Terminal: the engine refuses every later command with ACCOUNT_CLOSED. */
  close: z.strictObject({}),
};

export const accountErrorCodes = {
  INSUFFICIENT_FUNDS: 'INSUFFICIENT_FUNDS',
  BALANCE_NOT_ZERO: 'BALANCE_NOT_ZERO',
  HOLDER_NOT_FOUND: 'HOLDER_NOT_FOUND',
  HOLDER_SUSPENDED: 'HOLDER_SUSPENDED',
} as const;

/** The engine tests' main aggregate: an account any command creates, as a cart is. */
export const account = defineAggregate({
  name: 'account',
  idField: 'accountId',
  events: accountEvents,
  initialState: initialAccount,
  evolve: evolveAccount,
  describe: describeAccount,
  isTerminal: isAccountClosed,
  commands: accountCommands,
  errorCodes: Object.values(accountErrorCodes),
  lookups: (command): Record<string, AggregateRef> => (command.type === 'assign' ? { holder: { aggregateType: 'holder', aggregateId: command.payload.holderId } } : {}),

  decide(state, command, { lookups }) {
    switch (command.type) {
      case 'deposit':
        return [{ type: 'Deposited', payload: { entryId: command.payload.entryId, amountCents: toCents(command.payload.amount) } }];
      case 'withdraw': {
        const amountCents = toCents(command.payload.amount);
        if (amountCents > state.balanceCents) throw new DomainError(accountErrorCodes.INSUFFICIENT_FUNDS, `the balance is ${state.balanceCents} cents, ${amountCents} asked`);
        return [{ type: 'Withdrawn', payload: { entryId: command.payload.entryId, amountCents } }];
      }
      case 'depositMany':
        return command.payload.entries.map(({ entryId, amount }) => ({ type: 'Deposited' as const, payload: { entryId, amountCents: toCents(amount) } }));
      case 'assign': {
        const holder = lookups.holder as LookedUp<HolderState> | null;
        if (!holder || holder.state.status === 'unregistered') throw new DomainError(accountErrorCodes.HOLDER_NOT_FOUND, `holder ${command.payload.holderId} does not exist`);
        if (holder.state.status === 'suspended') throw new DomainError(accountErrorCodes.HOLDER_SUSPENDED, 'the holder is suspended');
        if (state.holderId === command.payload.holderId) return [];
        return [{ type: 'HolderAssigned', payload: { holderId: command.payload.holderId, holderVersion: holder.version } }];
      }
      case 'close':
        if (state.balanceCents !== 0) throw new DomainError(accountErrorCodes.BALANCE_NOT_ZERO, 'only an empty account can be closed');
        return [{ type: 'AccountClosed', payload: {} }];
      default:
        return assertNever(command);
    }
  },
});
