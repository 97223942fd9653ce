import { assertNever, defineProjection, fromCents } from 'ledgerflow';
import { account } from './account';

/** How many entries a read model lists (the balance counts them all). */
export const recentEntries = 100;

/** An account as clients read it. */
export interface AccountReadModel {
  accountId: string;
  holderId: string | null;
  balance: number;
  /** The latest entries, oldest first; withdrawals negative. */
  entries: { entryId: string; amount: number }[];
  status: 'open' | 'closed';
  version: number;
  updatedAt: string;
}

const withEntry = (doc: AccountReadModel, entryId: string, cents: number): AccountReadModel => ({
  ...doc,
  balance: fromCents(Math.round(doc.balance * 100) + cents),
  entries: [...doc.entries, { entryId, amount: fromCents(Math.abs(cents)) * Math.sign(cents) }].slice(-recentEntries),
});

export const accountProjection = defineProjection<AccountReadModel, typeof account.events>({
  name: 'accounts',
  version: 1,
  source: account,
  indexes: {
    /** A holder's accounts by when they last changed. */
    byHolder: (doc) => (doc.holderId ? { key: doc.holderId, score: Date.parse(doc.updatedAt) } : null),
  },
  evolve(current, event) {
    const doc: AccountReadModel = current ?? { accountId: event.aggregateId, holderId: null, balance: 0, entries: [], status: 'open', version: 0, updatedAt: event.occurredAt };
    const next = { ...doc, version: event.version, updatedAt: event.occurredAt };
    switch (event.type) {
      case 'Deposited':
        return withEntry(next, event.payload.entryId, event.payload.amountCents);
      case 'Withdrawn':
        return withEntry(next, event.payload.entryId, -event.payload.amountCents);
      case 'HolderAssigned':
        return { ...next, holderId: event.payload.holderId };
      case 'AccountClosed':
        return { ...next, status: 'closed' };
      default:
        return assertNever(event);
    }
  },
});
