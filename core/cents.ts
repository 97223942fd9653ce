/**
 * Money is carried in integer minor units (cents) so sums are exact: 0.1 + 0.2 is 30 cents,
 * where the float sum is 0.30000000000000004. Decimal amounts exist only at the edges (API
 * input, read models), where they are converted once. (No zod here: workflow code uses it.)
 */
export type Cents = number;

export function toCents(amount: number): Cents {
  return Math.round(amount * 100);
}

/** The decimal value of a cent amount; the nearest double to n/100 prints as the exact decimal. */
export function fromCents(cents: Cents): number {
  return cents / 100;
}
