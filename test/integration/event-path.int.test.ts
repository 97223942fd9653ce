import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CartState } from '../../examples/shop/domain/cart';
import type { EventEnvelope } from '../../core/envelopes';
import { stateQuery, versionQuery } from '../../workflows/definitions';
import type { AsyncMessage } from 'rabbitmq-client';
import { cartProjection } from '../../examples/shop/domain';
import { currenciesProjection } from '../support/cart-v2';
import { eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';
import { readStream } from '../support/stream';

describe('event path: workflow → RabbitMQ stream → projector → Redis', { timeout: 120_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ projections: [cartProjection, currenciesProjection] });
  });
  after(async () => {
    await stack?.stop();
  });

  it('decides in the aggregate workflow, answers its queries and keeps search attributes to within 10 versions', async () => {
    const cartId = uniqueId('wf');
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 2, price: 3.5 });
    await stack.trpc.cart.changeQuantity.mutate({ cartId, itemId: 'a', quantity: 5 });
    const handle = stack.temporal.workflow.getHandle(`cart:${cartId}`);
    assert.equal(await handle.query(versionQuery), 2);
    assert.deepEqual(await handle.query(stateQuery) as CartState, { status: 'open', items: [{ itemId: 'a', quantity: 5, unitPriceCents: 350 }] });

    const ours = ['AggregateType', 'AggregateId', 'AggregateVersion'];
    const attributesOf = async () =>
      Object.fromEntries((await handle.describe()).typedSearchAttributes.getAll().filter((p) => ours.includes(p.key.name)).map((p) => [p.key.name, p.value]));
    assert.deepEqual(await attributesOf(), { AggregateType: 'cart', AggregateId: cartId, AggregateVersion: 0 }, 'as the command bus started it');
    // Every tenth version is written to the search attribute (a history event and a visibility write each).
    for (let quantity = 6; quantity <= 15; quantity++) await stack.trpc.cart.changeQuantity.mutate({ cartId, itemId: 'a', quantity });
    assert.equal(await handle.query(versionQuery), 12);
    assert.equal((await attributesOf()).AggregateVersion, 10);

    // Filterable, as in the Web UI's search box (visibility is eventually consistent).
    await eventually(async () => {
      const { count } = await stack.temporal.workflow.count(`AggregateType = 'cart' AND AggregateId = '${cartId}' AND AggregateVersion >= 10`);
      return count === 1 ? true : undefined;
    }, 10_000, 'visibility query finds the cart');
  });

  it('publishes each event with confirms: routing key, message id, persistent, in version order', async () => {
    const cartId = uniqueId('pub');
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 1, price: 19.99 });
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'b', quantity: 1, price: 0.1 });
    await stack.trpc.cart.removeItem.mutate({ cartId, itemId: 'b' });
    await stack.trpc.cart.changeQuantity.mutate({ cartId, itemId: 'a', quantity: 2 });

    const ofThisCart = (ms: AsyncMessage[]) => ms.filter((m) => (m.body as EventEnvelope).aggregateId === cartId);
    const messages = ofThisCart(await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => ofThisCart(ms).length >= 4));
    assert.deepEqual(
      messages.map((m) => [m.routingKey, m.messageId, m.durable, m.contentType]),
      [
        ['cart.ItemAddedToCart', `cart:${cartId}:1`, true, 'application/json'],
        ['cart.ItemAddedToCart', `cart:${cartId}:2`, true, 'application/json'],
        ['cart.ItemRemovedFromCart', `cart:${cartId}:3`, true, 'application/json'],
        ['cart.ItemQuantityChanged', `cart:${cartId}:4`, true, 'application/json'],
      ],
    );
    const changed = messages[3]!.body as EventEnvelope;
    assert.equal(changed.version, 4);
    assert.deepEqual(changed.payload, { itemId: 'a', quantity: 2 });
    assert.equal(changed.schemaVersion, 1);
    assert.match(changed.occurredAt, /^\d{4}-\d\d-\d\dT/);
  });

  it('projects into Redis exactly once: a re-delivered event is skipped by its version', async () => {
    const cartId = uniqueId('dup');
    const first = await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 1, price: 2.5, wait: 'projected' });
    assert.equal(first.version, 1);
    const skippedBefore = stack.projector!.status().find((s) => s.name === 'carts')!.duplicatesSkipped;

    // What a publish retry after a lost confirm does: the same event on the log again.
    const [original] = (await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => ms.some((m) => m.messageId === `cart:${cartId}:1`)))
      .filter((m) => m.messageId === `cart:${cartId}:1`);
    const publisher = stack.rabbit.createPublisher({ confirm: true });
    await publisher.send({ exchange: stack.config.EVENTS_EXCHANGE, routingKey: original!.routingKey, messageId: original!.messageId, durable: true }, original!.body);
    await publisher.close();

    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'b', quantity: 1, price: 1, wait: 'projected' });
    const cart = await stack.trpc.cart.get.query({ cartId });
    assert.deepEqual(cart.items, [
      { itemId: 'a', quantity: 1, price: 2.5 },
      { itemId: 'b', quantity: 1, price: 1 },
    ]);
    assert.equal(cart.totalPrice, 3.5);
    assert.equal(cart.version, 2);
    assert.ok(stack.projector!.status().find((s) => s.name === 'carts')!.duplicatesSkipped > skippedBefore, 'the duplicate was counted as skipped');
  });

  it('holds back an event that arrives after a gap until the missing versions come', async () => {
    const cartId = uniqueId('gap');
    const event = (version: number): EventEnvelope => ({
      eventId: `cart:${cartId}:${version}`, aggregateType: 'cart', aggregateId: cartId, version, type: 'ItemAddedToCart', schemaVersion: 1,
      payload: { itemId: `i${version}`, quantity: 1, unitPriceCents: 100 }, occurredAt: new Date().toISOString(),
      commandId: `k${version}`, correlationId: 'k', causationId: `k${version}`,
    });
    const publisher = stack.rabbit.createPublisher({ confirm: true });
    const publish = (...versions: number[]) =>
      Promise.all(versions.map((v) => publisher.send({ exchange: stack.config.EVENTS_EXCHANGE, routingKey: 'cart.ItemAddedToCart', messageId: `cart:${cartId}:${v}` }, event(v))));
    const carts = () => stack.projector!.status().find((s) => s.name === 'carts')!;
    const gapsBefore = carts().gaps;

    // v2 was lost (nacked), v3 confirmed: the publisher's retry re-sends v1..v3 in order.
    await publish(1);
    await publish(3);
    await eventually(async () => (carts().gaps > gapsBefore ? true : undefined), 10_000, 'gap counted');
    assert.equal((await stack.readModels.get(cartProjection, cartId))?.version, 1, 'v3 not applied over the gap');
    await publish(1, 2, 3);
    const doc = await eventually(() => stack.readModels.get(cartProjection, cartId).then((d) => (d?.version === 3 ? d : undefined)), 10_000, 'filled');
    assert.deepEqual(doc.items.map((i) => i.itemId), ['i1', 'i2', 'i3']);
    await publisher.close();
  });

  it('resumes from its stored checkpoint after a restart, without replaying what it applied', async () => {
    const cartId = uniqueId('resume');
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 1, price: 1, wait: 'projected' });
    await stack.projector!.stop();

    // Events published while no projector runs wait in the stream.
    await stack.trpc.cart.changeQuantity.mutate({ cartId, itemId: 'a', quantity: 7 });
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'b', quantity: 2, price: 0.3 });
    assert.equal((await stack.readModels.get(cartProjection, cartId))?.version, 1);

    const restarted = stack.startProjector();
    const cart = await eventually(async () => {
      const doc = await stack.readModels.get(cartProjection, cartId);
      return doc?.version === 3 ? doc : undefined;
    }, 10_000, 'read model at version 3');
    assert.equal(cart.totalItems, 9);
    assert.equal(cart.totalPrice, 7.6);
    assert.equal(restarted.status()[0]!.applied, 2, 'only the two events published while stopped were applied');
  });

  it('reads schema-1 events already in the log through the upcaster of a schema-2 definition', async () => {
    const cartId = uniqueId('legacy');
    // Today's cart writes ItemAddedToCart as schema 1 (no currency).
    const first = await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'old', quantity: 1, price: 2, wait: 'projected' });
    const [logged] = (await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => ms.some((m) => m.messageId === `cart:${cartId}:1`)))
      .filter((m) => m.messageId === `cart:${cartId}:1`);
    assert.equal((logged!.body as EventEnvelope).schemaVersion, 1);

    // A later release writes schema 2 with a currency; its projection reads both.
    const newer: EventEnvelope = {
      ...(logged!.body as EventEnvelope),
      eventId: `cart:${cartId}:2`,
      version: first.version! + 1,
      schemaVersion: 2,
      payload: { itemId: 'new', quantity: 1, unitPriceCents: 300, currency: 'USD' },
    };
    const publisher = stack.rabbit.createPublisher({ confirm: true });
    await publisher.send({ exchange: stack.config.EVENTS_EXCHANGE, routingKey: 'cart.ItemAddedToCart', messageId: newer.eventId, durable: true }, newer);
    await publisher.close();

    const doc = await eventually(
      () => stack.readModels.get(currenciesProjection, cartId).then((d) => (d?.version === 2 ? d : undefined)),
      10_000,
      'both schemas projected',
    );
    assert.deepEqual(doc.currencies, ['EUR', 'USD']);
    assert.equal(stack.projector!.status().find((s) => s.name === 'cart-currencies')!.parked, 0);
  });
});
