import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AccountReadModel } from '../support/domains/ledger/account';
import { eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';

interface SseEvent {
  id: string | null;
  data: unknown;
}

/** Reads server-sent events from `account.onChange` with plain fetch, as any HTTP client could. */
async function subscribeToAccount(url: string, input: Record<string, unknown>, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(`${url}/trpc/account.onChange?input=${encodeURIComponent(JSON.stringify(input))}`, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const events: SseEvent[] = [];
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const id = /^id: ?(.*)$/m.exec(block)?.[1] ?? null;
          const data = /^data: ?(.*)$/m.exec(block)?.[1];
          const event = /^event: ?(.*)$/m.exec(block)?.[1];
          if (data !== undefined && event !== 'connected' && event !== 'ping') events.push({ id, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    events,
    async next(count: number, timeoutMs = 10_000): Promise<SseEvent[]> {
      const deadline = Date.now() + timeoutMs;
      while (events.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${events.length} of ${count} events`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return events.slice(0, count);
    },
    async close() {
      controller.abort();
      await pump;
    },
  };
}

describe('live updates: account.onChange over server-sent events', { timeout: 120_000 }, () => {
  let stack: LedgerStack;
  before(async () => {
    stack = await startLedgerStack();
  });
  after(async () => {
    await stack?.stop();
  });

  it('sends the account at each newer version, tracked by version, and resumes after a reconnect without going back', async () => {
    const accountId = uniqueId('live');
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 1, wait: 'projected' });

    const first = await subscribeToAccount(stack.api!.url, { accountId });
    const [initial] = await first.next(1);
    assert.equal(initial!.id, '1');
    assert.equal((initial!.data as AccountReadModel).version, 1);

    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'b', amount: 6 });
    const [, update] = await first.next(2);
    assert.equal(update!.id, '2');
    assert.equal((update!.data as AccountReadModel).balance, 7);
    await first.close();

    // While disconnected the account changes twice; the client resumes from the last id it saw.
    await stack.trpc.account.withdraw.mutate({ accountId, entryId: 'c', amount: 3 });
    await stack.trpc.account.withdraw.mutate({ accountId, entryId: 'd', amount: 4, wait: 'projected' });
    const resumed = await subscribeToAccount(stack.api!.url, { accountId, lastEventId: '2' });
    const [caughtUp] = await resumed.next(1);
    assert.equal(caughtUp!.id, '4');
    assert.deepEqual([(caughtUp!.data as AccountReadModel).balance, (caughtUp!.data as AccountReadModel).entries.map((e) => e.entryId)], [0, ['a', 'b', 'c', 'd']]);
    await resumed.close();

    // Reconnecting already up to date sends nothing old.
    const current = await subscribeToAccount(stack.api!.url, { accountId, lastEventId: '4' });
    await stack.trpc.account.close.mutate({ accountId });
    const [afterClose] = await current.next(1);
    assert.equal(afterClose!.id, '5');
    assert.equal((afterClose!.data as AccountReadModel).status, 'closed');
    await current.close();
  });

  it('sends the account again when a rebuild switches the generation queries read', async () => {
    const accountId = uniqueId('switch');
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 1, wait: 'projected' });
    const before = (await stack.trpc.system.projections.query()).find((p) => p.name === 'accounts')!;
    const watching = await subscribeToAccount(stack.api!.url, { accountId });
    await watching.next(1);
    await stack.trpc.system.rebuild.mutate({ projection: 'accounts' });
    const [, again] = await watching.next(2, 60_000);
    assert.equal(again!.id, '1', 'the same version, read from the new generation');
    // (The owner's status is refreshed each tick, so it may trail the switch a moment.)
    await eventually(async () => {
      const after = (await stack.trpc.system.projections.query()).find((p) => p.name === 'accounts')!;
      return after.generation === before.generation! + 1 ? true : undefined;
    }, 30_000, 'the new generation serves');
    await watching.close();
  });
});
