import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import type { LedgerRouter } from '../support/domains/ledger.config';
import type { EventEnvelope } from '../../core/envelopes';
import { accountProjection } from '../support/domains/ledger/account';
import { recentEventsQuery, versionQuery } from '../../workflows/definitions';
import { eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';

describe('command semantics through the API', { timeout: 180_000 }, () => {
  let stack: LedgerStack;
  before(async () => {
    stack = await startLedgerStack();
  });
  after(async () => {
    await stack?.stop();
  });

  const post = async (procedure: string, input: unknown) => {
    const response = await fetch(`${stack.api!.url}/trpc/${procedure}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    return { status: response.status, body: (await response.json()) as { result?: { data: Record<string, unknown> }; error?: { data: Record<string, unknown> } } };
  };
  const failure = async (call: Promise<unknown>) => {
    const error = await call.then(() => assert.fail('expected a rejection'), (e: unknown) => e);
    assert.ok(error instanceof TRPCClientError);
    return error as TRPCClientError<LedgerRouter>;
  };

  it('applies a commandId sent twice by a plain HTTP client once, answering the same outcome', async () => {
    const accountId = uniqueId('idem');
    const input = { accountId, entryId: 'a', amount: 4.5, commandId: `${accountId}-cmd-1` };
    const first = await post('account.deposit', input);
    const second = await post('account.deposit', input);
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.deepEqual(second.body.result!.data, first.body.result!.data);
    const account = await stack.trpc.account.get.query({ accountId, minVersion: 1 });
    assert.deepEqual([account.entries, account.balance], [[{ entryId: 'a', amount: 4.5 }], 4.5], 'deposited once, not twice');
    assert.equal(await stack.temporal.workflow.getHandle(`account:${accountId}`).query(versionQuery), 1);
  });

  it('dedupes a queued (wait: none) command sent twice, and answers a later processed retry with its outcome', async () => {
    const accountId = uniqueId('queued');
    const commandId = `${accountId}-once`;
    const a = await stack.trpc.account.deposit.mutate({ accountId, entryId: 'x', amount: 1, commandId, wait: 'none' });
    const b = await stack.trpc.account.deposit.mutate({ accountId, entryId: 'x', amount: 1, commandId, wait: 'none' });
    assert.deepEqual([a.status, a.version, b.status], ['queued', null, 'queued']);
    const processed = await stack.trpc.account.deposit.mutate({ accountId, entryId: 'x', amount: 1, commandId });
    assert.equal(processed.status, 'processed');
    assert.equal(processed.version, 1);
    const account = await stack.trpc.account.get.query({ accountId, minVersion: 1 });
    assert.equal(account.balance, 1);
    assert.equal(account.version, 1);
  });

  it('decides 50 concurrent commands to one aggregate with versions 1..50', async () => {
    const accountId = uniqueId('burst');
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => stack.trpc.account.deposit.mutate({ accountId, entryId: `entry-${i}`, amount: 0.5 })),
    );
    assert.deepEqual(
      results.map((r) => r.version).sort((x, y) => x! - y!),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    const account = await stack.trpc.account.get.query({ accountId, minVersion: 50 });
    assert.equal(account.entries.length, 50);
    assert.equal(account.balance, 25);
  });

  it('lets exactly one of two commands expecting the same version win; the other gets CONFLICT with both versions', async () => {
    const accountId = uniqueId('occ');
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 1 });
    const attempts = await Promise.allSettled([
      stack.trpc.account.withdraw.mutate({ accountId, entryId: 'w5', amount: 0.5, expectedVersion: 1 }),
      stack.trpc.account.withdraw.mutate({ accountId, entryId: 'w9', amount: 0.9, expectedVersion: 1 }),
    ]);
    const won = attempts.filter((a) => a.status === 'fulfilled');
    const lost = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    const error = lost[0]!.reason as TRPCClientError<LedgerRouter>;
    assert.equal(error.data?.code, 'CONFLICT');
    assert.equal(error.data?.httpStatus, 409);
    assert.deepEqual(error.data?.details, { expected: 1, actual: 2 });

    const stale = await post('account.deposit', { accountId, entryId: 'b', amount: 1, expectedVersion: 0 });
    assert.equal(stale.status, 409);
    assert.deepEqual(stale.body.error!.data.details, { expected: 0, actual: 2 });
  });

  it("answers wait 'none' before deciding and wait 'projected' only once the read model has the version", async () => {
    const accountId = uniqueId('wait');
    const queued = await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 1, wait: 'none' });
    assert.equal(queued.status, 'queued');
    assert.deepEqual(queued.events, []);
    const projected = await stack.trpc.account.deposit.mutate({ accountId, entryId: 'b', amount: 2, wait: 'projected' });
    assert.equal(projected.version, 2);
    // No minVersion: whatever the read model holds right now must already be version 2.
    const account = await stack.readModels.get(accountProjection, accountId);
    assert.equal(account?.version, 2);
    assert.equal(account?.balance, 3);
  });

  it('is inspectable in the Temporal Web UI: described handlers, current details, recent events', async () => {
    const accountId = uniqueId('ui');
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'widget', amount: 7.5 });
    await stack.trpc.account.withdraw.mutate({ accountId, entryId: 'widget-back', amount: 7.5 });
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'gadget', amount: 10 });
    const handle = stack.temporal.workflow.getHandle(`account:${accountId}`);

    // What the Web UI shows: the workflow's metadata query.
    const metadata = (await handle.query('__temporal_workflow_metadata')) as {
      currentDetails: string;
      definition: { queryDefinitions: { name: string; description?: string }[]; signalDefinitions: { name: string; description?: string }[]; updateDefinitions: { name: string; description?: string }[] };
    };
    assert.equal(metadata.currentDetails, '**Account** — open, balance 10.00\n\n_version 3_', "the app's own describe of the current state, and its version");
    const described = (defs: { name: string; description?: string }[]) => Object.fromEntries(defs.map((d) => [d.name, Boolean(d.description)]));
    assert.deepEqual(
      { state: true, version: true, snapshot: true, recentEvents: true, outcome: true, buffers: true },
      Object.fromEntries(Object.entries(described(metadata.definition.queryDefinitions)).filter(([n]) => !n.startsWith('__'))),
    );
    assert.deepEqual(described(metadata.definition.signalDefinitions), {}, 'commands arrive only by update, which can be refused');
    assert.deepEqual(described(metadata.definition.updateDefinitions), { submit: true });

    const recent = (await handle.query(recentEventsQuery)) as EventEnvelope[];
    assert.deepEqual(
      recent.map((e) => [e.version, e.type]),
      [
        [1, 'Deposited'],
        [2, 'Withdrawn'],
        [3, 'Deposited'],
      ],
    );
    await eventually(async () => {
      const { count } = await stack.temporal.workflow.count(`AggregateType = 'account' AND AggregateId = '${accountId}'`);
      return count === 1 ? true : undefined;
    }, 10_000, 'found by its search attributes');
  });

  it('answers 408 TIMEOUT naming the command when the read models do not catch up; a retry with its id applies nothing twice', async () => {
    const accountId = uniqueId('slow');
    await stack.projector!.stop();
    const commandId = `${accountId}-1`;
    const late = await failure(stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 2, commandId, wait: 'projected' }));
    assert.equal(late.data?.code, 'TIMEOUT');
    assert.equal(late.data?.httpStatus, 408);
    assert.equal(late.data?.commandId, commandId);
    assert.equal(late.data?.retryable, true);
    assert.match(late.message, /accepted at version 1/);

    stack.startProjector();
    const retried = await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 2, commandId, wait: 'projected' });
    assert.equal(retried.version, 1);
    const account = await stack.trpc.account.get.query({ accountId });
    assert.deepEqual([account.version, account.balance], [1, 2], 'applied once');
  });
});
