import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EventEnvelope } from '../../core/envelopes';
import { stateQuery, versionQuery } from '../../workflows/definitions';
import type { AsyncMessage } from 'rabbitmq-client';
import { currenciesProjection } from '../support/account-v2';
import { accountProjection, type AccountState } from '../support/domains/ledger/account';
import { eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';
import { readStream } from '../support/stream';

describe('event path: workflow → RabbitMQ stream → projector → Redis', { timeout: 120_000 }, () => {
  let stack: LedgerStack;
  before(async () => {
    stack = await startLedgerStack({ projections: [accountProjection, currenciesProjection] });
  });
  after(async () => {
    await stack?.stop();
  });

  it('decides in the aggregate workflow, answers its queries and keeps search attributes to within 10 versions', async () => {
    const accountId = uniqueId('wf');
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 7 });
    await stack.trpc.account.withdraw.mutate({ accountId, entryId: 'b', amount: 2 });
    const handle = stack.temporal.workflow.getHandle(`account:${accountId}`);
    assert.equal(await handle.query(versionQuery), 2);
    assert.deepEqual(await handle.query(stateQuery) as AccountState, { status: 'open', balanceCents: 500, holderId: null });

    const ours = ['AggregateType', 'AggregateId', 'AggregateVersion'];
    const attributesOf = async () =>
      Object.fromEntries((await handle.describe()).typedSearchAttributes.getAll().filter((p) => ours.includes(p.key.name)).map((p) => [p.key.name, p.value]));
    assert.deepEqual(await attributesOf(), { AggregateType: 'account', AggregateId: accountId, AggregateVersion: 0 }, 'as the command bus started it');
    // Every tenth version is written to the search attribute (a history event and a visibility write each).
    for (let i = 1; i <= 10; i++) await stack.trpc.account.deposit.mutate({ accountId, entryId: `c${i}`, amount: 1 });
    assert.equal(await handle.query(versionQuery), 12);
    assert.equal((await attributesOf()).AggregateVersion, 10);

    // Filterable, as in the Web UI's search box (visibility is eventually consistent).
    await eventually(async () => {
      const { count } = await stack.temporal.workflow.count(`AggregateType = 'account' AND AggregateId = '${accountId}' AND AggregateVersion >= 10`);
      return count === 1 ? true : undefined;
    }, 10_000, 'visibility query finds the account');
  });

  it('publishes each event with confirms: routing key, message id, persistent, in version order', async () => {
    const accountId = uniqueId('pub');
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 19.99 });
    await stack.trpc.account.withdraw.mutate({ accountId, entryId: 'b', amount: 0.1 });
    // One command, two events: two messages, in version order.
    await stack.trpc.account.depositMany.mutate({ accountId, entries: [{ entryId: 'c', amount: 1 }, { entryId: 'd', amount: 2 }] });

    const ofThisAccount = (ms: AsyncMessage[]) => ms.filter((m) => (m.body as EventEnvelope).aggregateId === accountId);
    const messages = ofThisAccount(await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => ofThisAccount(ms).length >= 4));
    assert.deepEqual(
      messages.map((m) => [m.routingKey, m.messageId, m.durable, m.contentType]),
      [
        ['account.Deposited', `account:${accountId}:1`, true, 'application/json'],
        ['account.Withdrawn', `account:${accountId}:2`, true, 'application/json'],
        ['account.Deposited', `account:${accountId}:3`, true, 'application/json'],
        ['account.Deposited', `account:${accountId}:4`, true, 'application/json'],
      ],
    );
    const changed = messages[3]!.body as EventEnvelope;
    assert.equal(changed.version, 4);
    assert.deepEqual(changed.payload, { entryId: 'd', amountCents: 200 });
    assert.equal(changed.schemaVersion, 1);
    assert.match(changed.occurredAt, /^\d{4}-\d\d-\d\dT/);
  });

  it('projects into Redis exactly once: a re-delivered event is skipped by its version', async () => {
    const accountId = uniqueId('dup');
    const first = await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 2.5, wait: 'projected' });
    assert.equal(first.version, 1);
    const skippedBefore = stack.projector!.status().find((s) => s.name === 'accounts')!.duplicatesSkipped;

    // What a publish retry after a lost confirm does: the same event on the log again.
    const [original] = (await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => ms.some((m) => m.messageId === `account:${accountId}:1`)))
      .filter((m) => m.messageId === `account:${accountId}:1`);
    const publisher = stack.rabbit.createPublisher({ confirm: true });
    await publisher.send({ exchange: stack.config.EVENTS_EXCHANGE, routingKey: original!.routingKey, messageId: original!.messageId, durable: true }, original!.body);
    await publisher.close();

    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'b', amount: 1, wait: 'projected' });
    const account = await stack.trpc.account.get.query({ accountId });
    assert.deepEqual(account.entries, [
      { entryId: 'a', amount: 2.5 },
      { entryId: 'b', amount: 1 },
    ]);
    assert.equal(account.balance, 3.5);
    assert.equal(account.version, 2);
    assert.ok(stack.projector!.status().find((s) => s.name === 'accounts')!.duplicatesSkipped > skippedBefore, 'the duplicate was counted as skipped');
  });

  it('holds back an event that arrives after a gap until the missing versions come', async () => {
    const accountId = uniqueId('gap');
    const event = (version: number): EventEnvelope => ({
      eventId: `account:${accountId}:${version}`, aggregateType: 'account', aggregateId: accountId, version, type: 'Deposited', schemaVersion: 1,
      payload: { entryId: `i${version}`, amountCents: 100 }, occurredAt: new Date().toISOString(),
      commandId: `k${version}`, correlationId: 'k', causationId: `k${version}`,
    });
    const publisher = stack.rabbit.createPublisher({ confirm: true });
    const publish = (...versions: number[]) =>
      Promise.all(versions.map((v) => publisher.send({ exchange: stack.config.EVENTS_EXCHANGE, routingKey: 'account.Deposited', messageId: `account:${accountId}:${v}` }, event(v))));
    const accounts = () => stack.projector!.status().find((s) => s.name === 'accounts')!;
    const gapsBefore = accounts().gaps;

    // v2 was lost (nacked), v3 confirmed: the publisher's retry re-sends v1..v3 in order.
    await publish(1);
    await publish(3);
    await eventually(async () => (accounts().gaps > gapsBefore ? true : undefined), 10_000, 'gap counted');
    assert.equal((await stack.readModels.get(accountProjection, accountId))?.version, 1, 'v3 not applied over the gap');
    await publish(1, 2, 3);
    const doc = await eventually(() => stack.readModels.get(accountProjection, accountId).then((d) => (d?.version === 3 ? d : undefined)), 10_000, 'filled');
    assert.deepEqual(doc.entries.map((e) => e.entryId), ['i1', 'i2', 'i3']);
    await publisher.close();
  });

  it('resumes from its stored checkpoint after a restart, without replaying what it applied', async () => {
    const accountId = uniqueId('resume');
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 1, wait: 'projected' });
    await stack.projector!.stop();

    // Events published while no projector runs wait in the stream.
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'b', amount: 7 });
    await stack.trpc.account.withdraw.mutate({ accountId, entryId: 'c', amount: 0.4 });
    assert.equal((await stack.readModels.get(accountProjection, accountId))?.version, 1);

    const restarted = stack.startProjector();
    const account = await eventually(async () => {
      const doc = await stack.readModels.get(accountProjection, accountId);
      return doc?.version === 3 ? doc : undefined;
    }, 10_000, 'read model at version 3');
    assert.equal(account.entries.length, 3);
    assert.equal(account.balance, 7.6);
    assert.equal(restarted.status()[0]!.applied, 2, 'only the two events published while stopped were applied');
  });

  it('reads schema-1 events already in the log through the upcaster of a schema-2 definition', async () => {
    const accountId = uniqueId('legacy');
    // Today's account writes Deposited as schema 1 (no currency).
    const first = await stack.trpc.account.deposit.mutate({ accountId, entryId: 'old', amount: 2, wait: 'projected' });
    const [logged] = (await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => ms.some((m) => m.messageId === `account:${accountId}:1`)))
      .filter((m) => m.messageId === `account:${accountId}:1`);
    assert.equal((logged!.body as EventEnvelope).schemaVersion, 1);

    // A later release writes schema 2 with a currency; its projection reads both.
    const newer: EventEnvelope = {
      ...(logged!.body as EventEnvelope),
      eventId: `account:${accountId}:2`,
      version: first.version! + 1,
      schemaVersion: 2,
      payload: { entryId: 'new', amountCents: 300, currency: 'USD' },
    };
    const publisher = stack.rabbit.createPublisher({ confirm: true });
    await publisher.send({ exchange: stack.config.EVENTS_EXCHANGE, routingKey: 'account.Deposited', messageId: newer.eventId, durable: true }, newer);
    await publisher.close();

    const doc = await eventually(
      () => stack.readModels.get(currenciesProjection, accountId).then((d) => (d?.version === 2 ? d : undefined)),
      10_000,
      'both schemas projected',
    );
    assert.deepEqual(doc.currencies, ['EUR', 'USD']);
    assert.equal(stack.projector!.status().find((s) => s.name === 'account-currencies')!.parked, 0);
  });
});
