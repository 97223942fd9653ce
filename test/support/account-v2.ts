/**
 * The ledger's account as a later release might define it: Deposited gains a `currency`
 * (schema 2), and an upcaster reads the schema-1 events already in the log as euros. Used to
 * test schema evolution against events the account writes today.
 */
import { z } from 'zod';
import type { AnyAggregate, Upcasters } from '../../core/aggregate';
import { defineProjection } from '../../core/projection';
import { account, accountEvents } from './domains/ledger/account';

export const accountV2Events = {
  ...accountEvents,
  Deposited: accountEvents.Deposited.extend({ currency: z.string().length(3) }),
};

const upcasters: Upcasters<typeof accountV2Events> = {
  Deposited: { 1: (payload) => ({ ...payload, currency: 'EUR' }) },
};

/** The account's decider with the new event schemas (its decide still writes schema-1 shapes: tests only). */
export const accountV2 = { ...account, events: accountV2Events, upcasters } as AnyAggregate;

/** Which currencies each account's deposits were made in, read through the upcaster. */
export const currenciesProjection = defineProjection<{ accountId: string; currencies: string[]; version: number }, typeof accountV2Events>({
  name: 'account-currencies',
  version: 1,
  source: { name: 'account', events: accountV2Events, upcasters },
  evolve(doc, event) {
    const current = doc ?? { accountId: event.aggregateId, currencies: [], version: 0 };
    if (event.type !== 'Deposited') return { ...current, version: event.version };
    const currencies = current.currencies.includes(event.payload.currency) ? current.currencies : [...current.currencies, event.payload.currency];
    return { ...current, currencies, version: event.version };
  },
});
