/** The account read model: one document per account in Redis, kept up to date from the account's events. */
import { assertNever, defineProjection, fromCents } from 'ledgerflow';
import { account } from './account';

/** An account as clients read it (`account.get`). */
export interface AccountReadModel {
  accountId: string;
  owner: string;
  /** The balance as a decimal amount (19.99). */
  balance: number;
  balanceCents: number;
  openedAt: string;
  version: number;
  updatedAt: string;
}

export const accountProjection = defineProjection<AccountReadModel, typeof account.events>({
  name: 'accounts',
  // Raise it when evolve or an index changes meaning: the read model is rebuilt from the event log.
  version: 1,
  source: account,
  evolve(current, event) {
    if (event.type === 'AccountOpened') {
      return { accountId: event.aggregateId, owner: event.payload.owner, balance: 0, balanceCents: 0, openedAt: event.occurredAt, version: event.version, updatedAt: event.occurredAt };
    }
    if (!current) return null; // nothing is decided before an account is opened
    const moved = (balanceCents: number): AccountReadModel => ({ ...current, balanceCents, balance: fromCents(balanceCents), version: event.version, updatedAt: event.occurredAt });
    switch (event.type) {
      case 'MoneyDeposited':
        return moved(current.balanceCents + event.payload.amountCents);
      case 'MoneyWithdrawn':
        return moved(current.balanceCents - event.payload.amountCents);
      default:
        return assertNever(event);
    }
  },
  // A sorted index per owner, by balance: what the `byOwner` query reads (no scans, no joins).
  indexes: {
    byOwner: (doc) => ({ key: doc.owner, score: doc.balanceCents }),
  },
});
