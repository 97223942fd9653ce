import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSubscriptionSlots, untilIdle } from '../../api/subscriptions';

describe('subscription slots', () => {
  it('refuses beyond the cap per caller, and beyond the total, until a slot is released (once)', () => {
    const slots = createSubscriptionSlots({ perCaller: 2, total: 3 });
    const a1 = slots.acquire('a');
    const a2 = slots.acquire('a');
    assert.deepEqual(slots.acquire('a'), { refused: 'caller' });
    const b1 = slots.acquire('b');
    assert.deepEqual(slots.acquire('c'), { refused: 'total' });
    assert.equal(slots.open, 3);
    for (const slot of [a1, a2, b1]) assert.ok('release' in slot);
    if ('release' in a1) {
      a1.release();
      a1.release();
    }
    assert.equal(slots.open, 2);
    assert.ok('release' in slots.acquire('c'));
    assert.deepEqual(slots.acquire('a'), { refused: 'total' });
  });
});

describe('untilIdle', () => {
  /** Yields each of `values` after `gapMs`, then waits until its signal aborts. */
  async function* paced(values: number[], gapMs: number, signal: AbortSignal) {
    for (const value of values) {
      await new Promise((resolve) => setTimeout(resolve, gapMs));
      yield value;
    }
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  }

  it('passes events on while they come, and ends with an AbortError once none came for idleMs', async () => {
    const seen: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const value of untilIdle((signal) => paced([1, 2, 3], 20, signal), new AbortController().signal, 200)) seen.push(value);
      })(),
      (error: Error) => error.name === 'AbortError',
    );
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it('ends quietly when the request is aborted', async () => {
    const request = new AbortController();
    setTimeout(() => request.abort(), 50);
    const seen: number[] = [];
    for await (const value of untilIdle((signal) => paced([1], 10, signal), request.signal, 60_000)) seen.push(value);
    assert.deepEqual(seen, [1]);
  });
});
