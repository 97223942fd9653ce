import { z } from 'zod';

const line = (max: number) => z.string().trim().min(1, { message: 'must not be empty' }).max(max, { message: `must be at most ${max} characters` });

/** A shipping address, as a cart's checkout and an order carry it. */
export const shippingAddress = z.strictObject({
  line1: line(200),
  city: line(100),
  postalCode: line(20),
  /** ISO 3166-1 alpha-2, e.g. DE, US. */
  country: z.string().regex(/^[A-Z]{2}$/, { message: 'must be a two-letter country code, e.g. DE' }),
});

export type ShippingAddress = z.infer<typeof shippingAddress>;
