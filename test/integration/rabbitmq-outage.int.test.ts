import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';

const management = 'http://127.0.0.1:15672/api';
const auth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

async function connectionsOf(exchange: string) {
  const response = await fetch(`${management}/connections`, { headers: auth });
  assert.equal(response.status, 200, 'the RabbitMQ management API answers (make test enables it)');
  const connections = (await response.json()) as { name: string; client_properties?: { connection_name?: string } }[];
  return connections.filter((c) => c.client_properties?.connection_name?.endsWith(`(${exchange})`));
}

/** Closes every RabbitMQ connection of this test run (worker, API, and the test’s, which its projector shares), as a broker restart would. */
async function dropConnections(exchange: string): Promise<number> {
  // The management API lists a connection once its first statistics arrive (every 5 s).
  const ours = await eventually(async () => {
    const found = await connectionsOf(exchange);
    return found.length >= 3 ? found : undefined;
  }, 20_000, 'the run’s connections listed');
  for (const c of ours) {
    await fetch(`${management}/connections/${encodeURIComponent(c.name)}`, { method: 'DELETE', headers: { ...auth, 'x-reason': 'test: broker outage' } });
  }
  return ours.length;
}

describe('RabbitMQ connections lost', { timeout: 120_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.stop();
  });

  it('keeps accepting commands, retries publishing, and resumes the projection from its checkpoint', async () => {
    const cartId = uniqueId('broker');
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'before', quantity: 1, price: 1, wait: 'projected' });

    const dropped = await dropConnections(stack.config.EVENTS_EXCHANGE);
    assert.ok(dropped >= 3, `worker, API and test-and-projector connections dropped (${dropped})`);
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await stack.trpc.cart.addItem.mutate({ cartId, itemId: `after-${i}`, quantity: 1, price: 1 }));
    assert.deepEqual(results.map((r) => r.version), [2, 3, 4, 5, 6]);
    await dropConnections(stack.config.EVENTS_EXCHANGE);

    const doc = await eventually(
      () => stack.trpc.cart.get.query({ cartId }).then((d) => (d.version === 6 ? d : undefined)),
      30_000,
      'every event published and projected',
    );
    assert.equal(doc.items.length, 6);
    await eventually(async () => ((await fetch(`${stack.api!.url}/health`)).status === 200 ? true : undefined), 15_000, 'healthy again');
  });
});
