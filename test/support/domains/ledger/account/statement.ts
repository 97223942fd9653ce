import { assertNever, defineProjection, fromCents } from 'ledgerflow';
import { account } from './account';

/**
 * An account's statement: every entry it ever took, in version order. The accounts read model
 * lists only the latest entries; this one is what a user checks an account against, entry by
 * entry (the drills' accounting does: a lost or doubled event shows as an entry missing or twice).
 */
export interface StatementReadModel {
  accountId: string;
  /** Every entry, oldest first; withdrawals negative. */
  entries: { entryId: string; amount: number; version: number }[];
  balance: number;
  status: 'open' | 'closed';
  version: number;
}

const withEntry = (doc: StatementReadModel, entryId: string, cents: number, version: number): StatementReadModel => ({
  ...doc,
  entries: [...doc.entries, { entryId, amount: fromCents(Math.abs(cents)) * Math.sign(cents), version }],
  balance: fromCents(Math.round(doc.balance * 100) + cents),
});

export const statementProjection = defineProjection<StatementReadModel, typeof account.events>({
  name: 'statements',
  version: 1,
  source: account,
  evolve(current, event) {
    const doc: StatementReadModel = { ...(current ?? { accountId: event.aggregateId, entries: [], balance: 0, status: 'open', version: 0 }), version: event.version };
    switch (event.type) {
      case 'Deposited':
        return withEntry(doc, event.payload.entryId, event.payload.amountCents, event.version);
      case 'Withdrawn':
        return withEntry(doc, event.payload.entryId, -event.payload.amountCents, event.version);
      case 'HolderAssigned':
        return doc;
      case 'AccountClosed':
        return { ...doc, status: 'closed' };
      default:
        return assertNever(event);
    }
  },
});
