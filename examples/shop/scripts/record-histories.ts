/**
 * Records the shop's workflow histories for the replay check (test/replay.int.test.ts): drives
 * carts through every path of the aggregate workflow and a checkout through its process, on a
 * stack of its own, and writes the histories to test/histories/<today>/. Older recordings stay
 * and keep being replayed. Run with `npm run record:histories`.
 */
import { join } from 'node:path';
import { TRPCClientError } from '@trpc/client';
import { eventually, uniqueId, type TestStack, type TestStackOptions } from 'ledgerflow/testing/stack';
import { writeHistories, type History } from 'ledgerflow/testing/replay';
import type { AppRouter } from '../ledgerflow.config';
import { startShopStack } from '../test/support/shop';

export const historiesDir = join(__dirname, '..', 'test', 'histories');

/** A stack that records them: its Temporal suggests continue-as-new early, so aggregates hand over. */
export const recordingStack: TestStackOptions = { dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 100 } };

const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };

/** A command the aggregate refuses: its refusal is part of the history too. */
const refused = (call: Promise<unknown>) =>
  call.then(
    () => {
      throw new Error('expected the command to be refused');
    },
    (error: unknown) => {
      if (!(error instanceof TRPCClientError)) throw error;
    },
  );

/** Drives carts through every path of the workflow and returns their histories by name. */
export async function recordScenarios(stack: TestStack<AppRouter>): Promise<Record<string, History>> {
  const { trpc, temporal } = stack;
  const histories: Record<string, History> = {};
  const historyOf = (workflowId: string, runId?: string) => temporal.workflow.getHandle(workflowId, runId).fetchHistory();
  /** The whole history of a workflow that completed. */
  const closedHistory = async (workflowId: string, timeoutMs = 60_000) => {
    const handle = temporal.workflow.getHandle(workflowId);
    await eventually(async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined), timeoutMs, `${workflowId} completed`);
    return handle.fetchHistory();
  };

  // Lifecycle: accepted, duplicate, queued, refused, conflicting; then a checkout that runs the
  // process (its order reads the customer) to completion, and a command to the closed cart.
  const cartId = uniqueId('replay-lifecycle');
  const [a, b] = [uniqueId('replay-a'), uniqueId('replay-b')];
  await trpc.customer.register.mutate({ customerId: cartId, name: 'Ada', email: 'ada@example.com' });
  for (const productId of [a, b]) await trpc.inventory.receiveStock.mutate({ productId, quantity: 10 });
  const first = await trpc.cart.addItem.mutate({ cartId, itemId: a, quantity: 2, price: 19.99 });
  await trpc.cart.addItem.mutate({ cartId, itemId: a, quantity: 2, price: 19.99, commandId: first.commandId });
  await trpc.cart.addItem.mutate({ cartId, itemId: b, quantity: 1, price: 0.1, wait: 'none' });
  await Promise.all([
    trpc.cart.changeQuantity.mutate({ cartId, itemId: a, quantity: 3 }),
    refused(trpc.cart.removeItem.mutate({ cartId, itemId: 'zzz' })),
    refused(trpc.cart.changeQuantity.mutate({ cartId, itemId: 'zzz', quantity: 1 })),
  ]);
  await refused(trpc.cart.checkout.mutate({ cartId, shippingAddress: address, expectedVersion: 0 }));
  await eventually(async () => ((await trpc.cart.get.query({ cartId })).version >= 3 ? true : undefined), 30_000, 'the queued commands decided');
  const checkout = await trpc.cart.checkout.mutate({ cartId, shippingAddress: address });
  const orderId = (checkout.events[0]?.payload as { orderId: string }).orderId;
  histories.lifecycle = await closedHistory(`cart:${cartId}`);
  await refused(trpc.cart.addItem.mutate({ cartId, itemId: 'd', quantity: 1, price: 1 }));
  histories.checkout = await closedHistory(`checkout:${orderId}`);
  histories.order = await historyOf(`order:${orderId}`);
  histories.inventory = await historyOf(`inventory:${a}`);

  // A cart whose only command is refused: its workflow ends empty.
  const ghost = uniqueId('replay-empty');
  await refused(trpc.cart.removeItem.mutate({ cartId: ghost, itemId: 'nothing' }));
  histories.empty = await closedHistory(`cart:${ghost}`);

  // Continue-as-new: on a recording stack the aggregate hands over several times.
  const long = uniqueId('replay-can');
  for (let i = 0; i < 40; i++) await trpc.cart.addItem.mutate({ cartId: long, itemId: `i${i}`, quantity: 1, price: 1 });
  let run = 0;
  for await (const execution of temporal.workflow.list({ query: `WorkflowId = 'cart:${long}'` })) {
    histories[`continue-as-new-run-${++run}`] = await historyOf(execution.workflowId, execution.runId);
  }
  return histories;
}

if (require.main === module) {
  (async () => {
    const stack = await startShopStack(recordingStack);
    try {
      const files = writeHistories(await recordScenarios(stack), join(historiesDir, new Date().toISOString().slice(0, 10)));
      console.log(`recorded ${files.length} histories:\n${files.join('\n')}`);
    } finally {
      await stack.stop();
    }
  })().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
