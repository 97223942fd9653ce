import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { commandIdLink, isRetryableError, trpcUrl } from '../../client/index';
import { uuidV7Time } from '../../core/ids';

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

  it('makes time-ordered commandIds (UUIDv7), so an aggregate can refuse a retry older than it remembers', () => {
    let seen: { commandId?: string } | undefined;
    const link = commandIdLink()({} as never);
    link({ op: { id: 1, type: 'mutation', path: 'cart.addItem', input: {}, context: {}, signal: null }, next: (op) => ((seen = op.input as never), undefined as never) });
    assert.match(seen?.commandId ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.ok(Math.abs(uuidV7Time(seen!.commandId!)! - Date.now()) < 60_000, 'it carries the time it was made');
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
