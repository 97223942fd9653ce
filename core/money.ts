import { z } from 'zod';

/** The schemas of money at the edges; the arithmetic is in cents.ts (free of zod, for workflow code). */
export { fromCents, toCents, type Cents } from './cents';

/** A positive decimal amount with at most two decimal places, as a client sends it. */
export const decimalAmount = z
  .number()
  .positive({ message: 'must be greater than 0' })
  .max(1_000_000_000, { message: 'must be at most 1,000,000,000' })
  // JavaScript prints a number as its shortest exact decimal, so 19.99 reads "19.99" and
  // 1.000000001 or 1.005 show their extra digits.
  .refine((value) => /^-?\d+(\.\d{1,2})?$/.test(String(value)), { message: 'must have at most two decimal places' });

export const cents = z.number().int().nonnegative();
