/** Fills an event stream with cart events (10 per cart) through a confirming publisher. */
import type { Connection } from 'rabbitmq-client';
import type { EventEnvelope } from '../../core/envelopes';
import { currentSchemaVersion } from '../../core/upcasting';
import { cart } from '../../examples/shop/domain';
import type { EventTopology } from '../../infra/rabbit';

export const eventsPerCart = 10;

/** The schema the code reads without upcasting (an event newer than the code would be parked). */
const schemaVersion = currentSchemaVersion(cart, 'ItemAddedToCart');

export function seedEvent(n: number, occurredAt: string): EventEnvelope {
  const cartId = `c${Math.floor(n / eventsPerCart)}`;
  const version = (n % eventsPerCart) + 1;
  return {
    eventId: `cart:${cartId}:${version}`,
    aggregateType: 'cart',
    aggregateId: cartId,
    version,
    type: 'ItemAddedToCart',
    schemaVersion,
    payload: { itemId: `i${version}`, quantity: 1, unitPriceCents: 199 },
    occurredAt,
    commandId: `k${n}`,
    correlationId: `k${n}`,
    causationId: `k${n}`,
  } as EventEnvelope;
}

export async function seedLog(rabbit: Connection, topology: EventTopology, total: number, occurredAt: string): Promise<void> {
  const publisher = rabbit.createPublisher({ confirm: true });
  try {
    for (let start = 0; start < total; start += 1000) {
      await Promise.all(
        Array.from({ length: Math.min(1000, total - start) }, (_, k) => {
          const event = seedEvent(start + k, occurredAt);
          return publisher.send({ exchange: topology.exchange, routingKey: 'cart.ItemAddedToCart', messageId: event.eventId, durable: true }, event);
        }),
      );
    }
  } finally {
    await publisher.close();
  }
}
