import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestStack, uniqueId, type TestStack } from '../support/stack';

describe('bearer tokens (API_TOKENS set)', { timeout: 120_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ projector: false, env: { API_TOKENS: 'alpha, beta', API_HOST: '127.0.0.1' } });
  });
  after(async () => {
    await stack?.stop();
  });

  const call = (procedure: string, input: unknown, token?: string) =>
    fetch(`${stack.api!.url}/trpc/${procedure}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(input),
    });

  it('refuses a missing or wrong token with UNAUTHORIZED and changes nothing; accepts any listed token', async () => {
    const cartId = uniqueId('auth');
    const input = { cartId, itemId: 'a', quantity: 1, price: 1 };
    for (const token of [undefined, 'gamma', 'alph']) {
      const response = await call('cart.addItem', input, token);
      assert.equal(response.status, 401, `token ${token}`);
      const body = (await response.json()) as { error: { data: { code: string } } };
      assert.equal(body.error.data.code, 'UNAUTHORIZED');
    }
    const { count } = await stack.temporal.workflow.count(`WorkflowId = 'cart:${cartId}'`);
    assert.equal(count, 0, 'nothing reached Temporal');

    assert.equal((await call('cart.addItem', input, 'beta')).status, 200);
    const read = await fetch(`${stack.api!.url}/trpc/cart.get?input=${encodeURIComponent(JSON.stringify({ cartId }))}`);
    assert.equal(read.status, 401, 'queries need a token too');
    assert.equal((await fetch(`${stack.api!.url}/trpc/system.health`)).status, 200, 'health needs none');
    assert.equal((await fetch(`${stack.api!.url}/health`)).status, 200);
  });
});
