import { z } from 'zod';

/**
 * Money is carried in integer minor units (cents) so sums are exact: 0.1 + 0.2 is 30 cents,
 * where the float sum is 0.30000000000000004. Decimal amounts exist only at the edges (API
 * input, read models), where they are converted once.
 */
export type Cents = number;

/** A positive decimal amount with at most two decimal places, as a client sends it. */
export const decimalAmount = z
  .number()
  .positive({ message: 'must be greater than 0' })
  .max(1_000_000_000, { message: 'must be at most 1,000,000,000' })
  // JavaScript prints a number as its shortest exact decimal, so 19.99 reads "19.99" and
  // 1.000000001 or 1.005 show their extra digits.
  .refine((value) => /^-?\d+(\.\d{1,2})?$/.test(String(value)), { message: 'must have at most two decimal places' });

export function toCents(amount: number): Cents {
  return Math.round(amount * 100);
}

/** The decimal value of a cent amount; the nearest double to n/100 prints as the exact decimal. */
export function fromCents(cents: Cents): number {
  return cents / 100;
}

export const cents = z.number().int().nonnegative();
