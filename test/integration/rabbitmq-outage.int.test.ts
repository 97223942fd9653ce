import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ownRabbit, type OwnRabbit } from '../support/rabbit-server';
import { eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';
import { readStream } from '../support/stream';

describe('a RabbitMQ restart (a broker node of the test’s own)', { timeout: 180_000 }, () => {
  let broker: OwnRabbit;
  let stack: LedgerStack;
  before(async () => {
    broker = await ownRabbit();
    stack = await startLedgerStack({ env: { RABBITMQ_URL: broker.url } });
  });
  after(async () => {
    await stack?.stop();
    await broker?.destroy();
  });

  it('keeps accepting commands while the broker is down, then publishes them and resumes projecting', async () => {
    const accountId = uniqueId('broker');
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'before', amount: 1, wait: 'projected' });

    await broker.stop();
    const unhealthy = await fetch(`${stack.api!.url}/health`);
    assert.equal(unhealthy.status, 503);
    const during = [];
    for (let i = 0; i < 5; i++) during.push(await stack.trpc.account.deposit.mutate({ accountId, entryId: `during-${i}`, amount: 1 }));
    assert.deepEqual(during.map((r) => r.version), [2, 3, 4, 5, 6], 'decided with the broker down');
    assert.equal((await stack.trpc.account.get.query({ accountId })).version, 1, 'not yet published');

    await broker.start();
    const doc = await eventually(
      () => stack.trpc.account.get.query({ accountId }).then((d) => (d.version === 6 ? d : undefined)),
      60_000,
      'every event published after the restart and projected',
    );
    assert.deepEqual(doc.entries.map((e) => e.entryId), ['before', ...during.map((_, i) => `during-${i}`)]);
    assert.equal(doc.balance, 6);
    await eventually(async () => ((await fetch(`${stack.api!.url}/health`)).status === 200 ? true : undefined), 15_000, 'healthy again');
    // The stream is durable: what was published before the restart is still in the log, in order.
    const logged = await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => ms.some((m) => m.messageId === `account:${accountId}:6`), 20_000);
    const versions = logged.filter((m) => m.messageId?.startsWith(`account:${accountId}:`)).map((m) => Number(m.messageId!.split(':').pop()));
    assert.deepEqual(versions.filter((v, i) => versions.indexOf(v) === i), [1, 2, 3, 4, 5, 6]);
  });
});
