import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../../api';
import { address, registerCustomer } from '../support/shop';
import { eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';

const failure = async (call: Promise<unknown>) => {
  const error = await call.then(() => assert.fail('expected a rejection'), (e: unknown) => e);
  assert.ok(error instanceof TRPCClientError, String(error));
  return error as TRPCClientError<AppRouter>;
};

const statusOf = async (stack: TestStack, workflowId: string) => (await stack.temporal.workflow.getHandle(workflowId).describe()).status.name;

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
    await eventually(async () => ((await statusOf(stack, `order:${orderId}`)) === 'COMPLETED' ? true : undefined), 30_000, 'workflow completed');

    for (const wait of ['processed', 'none', 'projected'] as const) {
      const refused = await failure(stack.trpc.order.cancel.mutate({ orderId, reason: 'too late', wait }));
      assert.equal(refused.data?.code, 'PRECONDITION_FAILED', wait);
      assert.equal(refused.data?.domainCode, 'ORDER_CLOSED', wait);
      assert.equal(refused.data?.retryable, false);
      assert.ok(refused.data?.commandId, 'the refusal names the command');
    }
    const again = await stack.trpc.order.complete.mutate({ orderId, commandId: completeId });
    assert.deepEqual(again, { ...completed, status: 'processed' }, 'a retry of the completion answers its original outcome');
    assert.equal(await statusOf(stack, `order:${orderId}`), 'COMPLETED', 'nothing restarted it');
    const doc = await stack.trpc.order.get.query({ orderId });
    assert.deepEqual([doc.status, doc.version, doc.itemCount, doc.total], ['completed', 3, 2, 6]);
  });

  it('leaves no running workflow when an aggregate’s first commands are all refused, and lets the id be used later', async () => {
    const cartId = uniqueId('ghost');
    const refused = await failure(stack.trpc.cart.removeItem.mutate({ cartId, itemId: 'nothing' }));
    assert.equal(refused.data?.domainCode, 'ITEM_NOT_IN_CART');
    const refusedAgain = await failure(stack.trpc.cart.checkout.mutate({ cartId, shippingAddress: address }));
    assert.equal(refusedAgain.data?.domainCode, 'CART_EMPTY');
    await eventually(async () => {
      const { count } = await stack.temporal.workflow.count(`WorkflowId = 'cart:${cartId}' AND ExecutionStatus = 'Running'`);
      return count === 0 ? true : undefined;
    }, 30_000, 'no running workflow left');

    const added = await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 1, price: 1 });
    assert.equal(added.version, 1, 'the id starts afresh: it never held an event');
    assert.equal(await statusOf(stack, `cart:${cartId}`), 'RUNNING');
  });

  it('never restarts empty an aggregate whose workflow an operator terminated', async () => {
    const cartId = uniqueId('terminated');
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 1, price: 1 });
    await stack.temporal.workflow.getHandle(`cart:${cartId}`).terminate('test: operator closed it');
    for (const wait of ['processed', 'none'] as const) {
      const error = await failure(stack.trpc.cart.addItem.mutate({ cartId, itemId: 'b', quantity: 1, price: 1, wait }));
      assert.equal(error.data?.code, 'PRECONDITION_FAILED', wait);
      assert.equal(error.data?.domainCode, 'AGGREGATE_WORKFLOW_CLOSED', wait);
    }
    const { count } = await stack.temporal.workflow.count(`WorkflowId = 'cart:${cartId}' AND ExecutionStatus = 'Running'`);
    assert.equal(count, 0);
  });
});

describe('a command with no worker to decide it', { timeout: 120_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ worker: false, projector: false, env: { COMMAND_TIMEOUT_MS: '2000' } });
  });
  after(async () => {
    await stack?.stop();
  });

  it('answers 503 COMMAND_TIMEOUT naming its commandId; the same id retried once a worker runs is applied once', async () => {
    const cartId = uniqueId('noworker');
    const commandId = `${cartId}-1`;
    const attempts = await Promise.all(
      ['processed', 'none'].map((wait, i) =>
        failure(stack.trpc.cart.addItem.mutate({ cartId, itemId: `a${i}`, quantity: 1, price: 1, commandId: `${commandId}-${wait}`, wait: wait as 'processed' | 'none' })),
      ),
    );
    for (const [i, error] of attempts.entries()) {
      assert.equal(error.data?.code, 'SERVICE_UNAVAILABLE');
      assert.equal(error.data?.httpStatus, 503);
      assert.equal(error.data?.domainCode, 'COMMAND_TIMEOUT');
      assert.equal(error.data?.retryable, true);
      assert.equal(error.data?.commandId, `${commandId}-${i === 0 ? 'processed' : 'none'}`);
      assert.match(error.message, new RegExp(`${commandId}`));
    }
    // Behind the first, more commands for the same aggregate do not pile up: each gets its answer in time.
    const behind = await Promise.all(
      Array.from({ length: 5 }, (_, i) => failure(stack.trpc.cart.addItem.mutate({ cartId, itemId: `b${i}`, quantity: 1, price: 1 }))),
    );
    assert.deepEqual(behind.map((e) => e.data?.domainCode), Array(5).fill('COMMAND_TIMEOUT'));

    await stack.startWorker();
    const applied = await eventually(
      () => stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a0', quantity: 1, price: 1, commandId: `${commandId}-processed` }).catch(() => undefined),
      60_000,
      'the retry is answered',
    );
    const state = (await stack.temporal.workflow.getHandle(`cart:${cartId}`).query('state')) as { items: { itemId: string; quantity: number }[] };
    const a0 = state.items.find((item) => item.itemId === 'a0');
    assert.equal(a0?.quantity, 1, 'applied once, whether or not the first attempt got through');
    assert.ok(applied.version! >= 1);
  });
});
