import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../../examples/shop/ledgerflow.config';
import type { AggregateEnd } from '../../workflows/definitions';
import { address, registerCustomer } from '../support/shop';
import { eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';

const failure = async (call: Promise<unknown>) => {
  const error = await call.then(() => assert.fail('expected a rejection'), (e: unknown) => e);
  assert.ok(error instanceof TRPCClientError, String(error));
  return error as TRPCClientError<AppRouter>;
};

/** The workflow as Temporal holds it (not its lagging visibility index): the latest run, or the run named. */
const describeRun = (stack: TestStack, workflowId: string, runId?: string) => stack.temporal.workflow.getHandle(workflowId, runId).describe();
/** The first run of the chain a run belongs to (a continue-as-new keeps it; a fresh start is its own). */
const firstRunOf = (description: Awaited<ReturnType<typeof describeRun>>) => description.raw.workflowExecutionInfo?.firstRunId;
const endOf = (stack: TestStack, workflowId: string, runId: string) => stack.temporal.workflow.getHandle(workflowId, runId).result() as Promise<AggregateEnd>;

describe('aggregate lifecycle', { timeout: 180_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.stop();
  });

  it('completes a terminal aggregate once its events are published; later commands get its _CLOSED code, a retry its first answer', async () => {
    const customerId = uniqueId('buyer');
    await registerCustomer(stack, customerId);
    const orderId = uniqueId('done');
    await stack.trpc.order.create.mutate({ orderId, customerId, items: [{ itemId: 'book', quantity: 2, price: 3 }], shippingAddress: address });
    await stack.trpc.order.ship.mutate({ orderId });
    const completeId = `${orderId}-complete`;
    const completed = await stack.trpc.order.complete.mutate({ orderId, commandId: completeId, wait: 'projected' });
    assert.equal(completed.version, 3);
    const done = await eventually(async () => {
      const description = await describeRun(stack, `order:${orderId}`);
      return description.status.name === 'COMPLETED' ? description : undefined;
    }, 30_000, 'workflow completed');
    const end = await endOf(stack, `order:${orderId}`, done.runId);
    assert.deepEqual(end.end === 'terminal' ? [end.end, end.version, end.code] : end, ['terminal', 3, 'ORDER_CLOSED']);

    for (const wait of ['processed', 'none', 'projected'] as const) {
      const refused = await failure(stack.trpc.order.cancel.mutate({ orderId, reason: 'too late', wait }));
      assert.equal(refused.data?.code, 'PRECONDITION_FAILED', wait);
      assert.equal(refused.data?.domainCode, 'ORDER_CLOSED', wait);
      assert.equal(refused.data?.retryable, false);
      assert.ok(refused.data?.commandId, 'the refusal names the command');
    }
    const again = await stack.trpc.order.complete.mutate({ orderId, commandId: completeId });
    assert.deepEqual(again, { ...completed, status: 'processed' }, 'a retry of the completion answers its original outcome');
    const latest = await describeRun(stack, `order:${orderId}`);
    assert.deepEqual([latest.status.name, latest.runId], ['COMPLETED', done.runId], 'nothing restarted it: the completed run is still the latest');
    const doc = await stack.trpc.order.get.query({ orderId });
    assert.deepEqual([doc.status, doc.version, doc.itemCount, doc.total], ['completed', 3, 2, 6]);
  });

  it('leaves no running workflow when an aggregate’s first commands are all refused, and lets the id be used later', async () => {
    const cartId = uniqueId('ghost');
    const refused = await failure(stack.trpc.cart.removeItem.mutate({ cartId, itemId: 'nothing' }));
    assert.equal(refused.data?.domainCode, 'ITEM_NOT_IN_CART');
    const refusedAgain = await failure(stack.trpc.cart.checkout.mutate({ cartId, shippingAddress: address }));
    assert.equal(refusedAgain.data?.domainCode, 'CART_EMPTY');
    // Both refusals are answered once decided; the run that decided them then ends without an event.
    const workflowId = `cart:${cartId}`;
    const emptyRun = await eventually(async () => {
      const description = await describeRun(stack, workflowId);
      return description.status.name === 'COMPLETED' ? description : undefined;
    }, 30_000, 'the refused aggregate’s workflow completed');
    assert.deepEqual(await endOf(stack, workflowId, emptyRun.runId), { end: 'empty' });

    const added = await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 1, price: 1 });
    assert.equal(added.version, 1, 'the id starts afresh: it never held an event');
    const reused = await describeRun(stack, workflowId);
    assert.equal(reused.status.name, 'RUNNING');
    assert.notEqual(reused.runId, emptyRun.runId, 'a new run, not the empty one reopened');
    assert.equal(firstRunOf(reused), reused.runId, 'started afresh, not continued from the empty run');
    assert.equal((await describeRun(stack, workflowId, emptyRun.runId)).status.name, 'COMPLETED', 'the empty run stays closed');
  });

  it('never restarts empty an aggregate whose workflow an operator terminated', async () => {
    const cartId = uniqueId('terminated');
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 1, price: 1 });
    const { runId } = await describeRun(stack, `cart:${cartId}`);
    await stack.temporal.workflow.getHandle(`cart:${cartId}`).terminate('test: operator closed it');
    for (const wait of ['processed', 'none'] as const) {
      const error = await failure(stack.trpc.cart.addItem.mutate({ cartId, itemId: 'b', quantity: 1, price: 1, wait }));
      assert.equal(error.data?.code, 'PRECONDITION_FAILED', wait);
      assert.equal(error.data?.domainCode, 'AGGREGATE_WORKFLOW_CLOSED', wait);
    }
    const latest = await describeRun(stack, `cart:${cartId}`);
    assert.deepEqual([latest.status.name, latest.runId], ['TERMINATED', runId], 'no run was started after the terminated one');
  });
});

describe('a command with no worker to decide it', { timeout: 300_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ worker: false, projector: false, env: { COMMAND_TIMEOUT_MS: '2000' } });
  });
  after(async () => {
    await stack?.stop();
  });

  it('answers 503 COMMAND_TIMEOUT naming its commandId; each such command, retried with its id once a worker runs, is applied exactly once', async (t) => {
    const cartId = uniqueId('noworker');
    const commandId = `${cartId}-1`;
    const sent: { itemId: string; commandId?: string; wait?: 'processed' | 'none' }[] = [
      { itemId: 'a0', commandId: `${commandId}-processed`, wait: 'processed' },
      { itemId: 'a1', commandId: `${commandId}-none`, wait: 'none' },
    ];
    const attempts = await Promise.all(sent.map((command) => failure(stack.trpc.cart.addItem.mutate({ cartId, quantity: 1, price: 1, ...command }))));
    for (const [i, error] of attempts.entries()) {
      assert.equal(error.data?.code, 'SERVICE_UNAVAILABLE');
      assert.equal(error.data?.httpStatus, 503);
      assert.equal(error.data?.domainCode, 'COMMAND_TIMEOUT');
      assert.equal(error.data?.retryable, true);
      assert.equal(error.data?.commandId, sent[i]!.commandId);
      assert.match(error.message, new RegExp(`${commandId}`));
    }
    // Behind the first, more commands for the same aggregate do not pile up: each gets its answer in time.
    const behindItems = Array.from({ length: 5 }, (_, i) => `b${i}`);
    const behind = await Promise.all(behindItems.map((itemId) => failure(stack.trpc.cart.addItem.mutate({ cartId, itemId, quantity: 1, price: 1 }))));
    assert.deepEqual(behind.map((e) => e.data?.domainCode), Array(5).fill('COMMAND_TIMEOUT'));
    // Each names the commandId the API gave it: the handle for finding out what became of it.
    const unsettled = [
      ...sent.map(({ itemId, commandId }) => ({ itemId, commandId: commandId! })),
      ...behind.map((error, i) => ({ itemId: behindItems[i]!, commandId: error.data?.commandId ?? assert.fail(`b${i}: no commandId named`) })),
    ];
    assert.equal(new Set(unsettled.map((c) => c.commandId)).size, 7, 'seven distinct commandIds');

    // Every one of them "may have been applied": once a worker runs, the same commandId gets a definite answer.
    await stack.startWorker();
    const outcomes = [];
    for (const { itemId, commandId } of unsettled) {
      const outcome = await eventually(
        () =>
          stack.trpc.cart.addItem.mutate({ cartId, itemId, quantity: 1, price: 1, commandId }).then(
            (result) => ({ applied: result }),
            (error: unknown) => {
              // Still no definite answer (the worker warming up): ask again. Anything else is the answer.
              if (error instanceof TRPCClientError && error.data?.domainCode === 'COMMAND_TIMEOUT') return undefined;
              return { refused: error instanceof TRPCClientError ? `${error.data?.code} ${error.data?.domainCode}` : String(error) };
            },
          ),
        120_000,
        `a definite answer for ${commandId}`,
      );
      outcomes.push({ itemId, commandId, ...outcome });
    }
    t.diagnostic(`retried outcomes: ${outcomes.map((o) => `${o.itemId}→${'applied' in o ? `v${o.applied.version}` : o.refused}`).join(', ')}`);
    assert.deepEqual(outcomes.filter((o) => !('applied' in o)), [], 'an addItem of a new line to an open cart is applied');
    const applied = outcomes.map((o) => ('applied' in o ? o.applied : assert.fail('refused')));
    for (const [i, result] of applied.entries()) {
      assert.equal(result.status, 'processed');
      assert.equal(result.commandId, unsettled[i]!.commandId);
      assert.deepEqual(result.events, [{ type: 'ItemAddedToCart', version: result.version, payload: { itemId: unsettled[i]!.itemId, quantity: 1, unitPriceCents: 100 } }]);
    }
    // One version per applied command, none shared, none skipped: nothing applied twice or lost.
    assert.deepEqual(applied.map((r) => r.version).sort((a, b) => a! - b!), [1, 2, 3, 4, 5, 6, 7]);
    const handle = stack.temporal.workflow.getHandle(`cart:${cartId}`);
    assert.equal(await handle.query('version'), 7, 'the aggregate’s version is the number of commands that ended applied');
    const state = (await handle.query('state')) as { items: { itemId: string; quantity: number }[] };
    assert.deepEqual(
      state.items.map(({ itemId, quantity }) => [itemId, quantity]).sort(),
      ['a0', 'a1', 'b0', 'b1', 'b2', 'b3', 'b4'].map((itemId) => [itemId, 1]),
      'each line applied once, whether or not its first attempt got through',
    );
  });
});
