import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { commandIdLink, isRetryableError, trpcUrl } from '../../client/index';

describe('the client helper', () => {
  it('finds the tRPC endpoint under a base URL', () => {
    assert.equal(trpcUrl('http://127.0.0.1:3000'), 'http://127.0.0.1:3000/trpc');
    assert.equal(trpcUrl('http://127.0.0.1:3000/'), 'http://127.0.0.1:3000/trpc');
    assert.equal(trpcUrl('https://shop.example/api/trpc/'), 'https://shop.example/api/trpc');
  });

  it('gives every command without a commandId one, and nothing else', () => {
    const sent = (type: 'query' | 'mutation', path: string, input: unknown) => {
      let seen: unknown;
      const link = commandIdLink(() => 'made-here')({} as never);
      const op = { id: 1, type, path, input, context: {}, signal: null };
      link({ op, next: (forwarded) => ((seen = forwarded.input), undefined as never) });
      return seen;
    };
    assert.deepEqual(sent('mutation', 'cart.addItem', { cartId: 'c' }), { cartId: 'c', commandId: 'made-here' });
    assert.deepEqual(sent('mutation', 'cart.addItem', { cartId: 'c', commandId: 'mine' }), { cartId: 'c', commandId: 'mine' });
    assert.deepEqual(sent('mutation', 'system.rebuild', { projection: 'carts' }), { projection: 'carts' });
    assert.deepEqual(sent('query', 'cart.get', { cartId: 'c' }), { cartId: 'c' });
  });

  it('retries what the API calls retryable and what got no answer, nothing else', () => {
    const answered = (data: Record<string, unknown>) => TRPCClientError.from({ error: { code: -32603, message: 'x', data } });
    assert.equal(isRetryableError(answered({ code: 'SERVICE_UNAVAILABLE', retryable: true })), true);
    assert.equal(isRetryableError(answered({ code: 'UNPROCESSABLE_CONTENT', retryable: false })), false);
    assert.equal(isRetryableError(answered({ code: 'PAYLOAD_TOO_LARGE' })), false);
    assert.equal(isRetryableError(TRPCClientError.from(new TypeError('fetch failed'))), true);
    assert.equal(isRetryableError(new Error('not a client error')), false);
  });
});
