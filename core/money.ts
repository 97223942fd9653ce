import { z } from 'zod';

/**
 * Money is carried in integer minor units (cents) so sums are exact; 19.99 + 0.10 + 0.20 is
 * 2029 cents, never 20.290000000000003. Decimal amounts exist only at the edges (API input,
 * read models), where they are converted once.
 */
export type Cents = number;

/** A positive decimal amount with at most two decimal places, as a client sends it. */
export const decimalAmount = z
  .number()
  .positive({ message: 'must be greater than 0' })
  .max(1_000_000_000, { message: 'must be at most 1,000,000,000' })
  .refine((value) => Number.isInteger(Math.round(value * 100)) && Math.abs(value * 100 - Math.round(value * 100)) < 1e-6, {
    message: 'must have at most two decimal places',
  });

export function toCents(amount: number): Cents {
  return Math.round(amount * 100);
}

/** The decimal value of a cent amount; the nearest double to n/100 prints as the exact decimal. */
export function fromCents(cents: Cents): number {
  return cents / 100;
}

export const cents = z.number().int().nonnegative();
