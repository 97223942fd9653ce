import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ownRabbit, type OwnRabbit } from '../support/rabbit-server';
import { eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';
import { readStream } from '../support/stream';

describe('a RabbitMQ restart (a broker node of the test’s own)', { timeout: 180_000 }, () => {
  let broker: OwnRabbit;
  let stack: TestStack;
  before(async () => {
    broker = await ownRabbit();
    stack = await startTestStack({ env: { RABBITMQ_URL: broker.url } });
  });
  after(async () => {
    await stack?.stop();
    await broker?.destroy();
  });

  it('keeps accepting commands while the broker is down, then publishes them and resumes projecting', async () => {
    const cartId = uniqueId('broker');
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'before', quantity: 1, price: 1, wait: 'projected' });

    await broker.stop();
    const unhealthy = await fetch(`${stack.api!.url}/health`);
    assert.equal(unhealthy.status, 503);
    const during = [];
    for (let i = 0; i < 5; i++) during.push(await stack.trpc.cart.addItem.mutate({ cartId, itemId: `during-${i}`, quantity: 1, price: 1 }));
    assert.deepEqual(during.map((r) => r.version), [2, 3, 4, 5, 6], 'decided with the broker down');
    assert.equal((await stack.trpc.cart.get.query({ cartId })).version, 1, 'not yet published');

    await broker.start();
    const doc = await eventually(
      () => stack.trpc.cart.get.query({ cartId }).then((d) => (d.version === 6 ? d : undefined)),
      60_000,
      'every event published after the restart and projected',
    );
    assert.deepEqual(doc.items.map((i) => i.itemId), ['before', ...during.map((_, i) => `during-${i}`)]);
    await eventually(async () => ((await fetch(`${stack.api!.url}/health`)).status === 200 ? true : undefined), 15_000, 'healthy again');
    // The stream is durable: what was published before the restart is still in the log, in order.
    const logged = await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => ms.some((m) => m.messageId === `cart:${cartId}:6`), 20_000);
    const versions = logged.filter((m) => m.messageId?.startsWith(`cart:${cartId}:`)).map((m) => Number(m.messageId!.split(':').pop()));
    assert.deepEqual(versions.filter((v, i) => versions.indexOf(v) === i), [1, 2, 3, 4, 5, 6]);
  });
});
