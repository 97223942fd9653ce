/**
 * Recorded aggregate histories for the determinism guard. `npm run record:histories` runs the
 * scenarios on a real dev server and writes them to test/fixtures/histories; the replay test
 * replays every file there with the current workflow code.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { History } from '@temporalio/common/lib/proto-utils';
import { createCommandBus } from '../../commands/bus';
import { refusedAs } from '../../commands/failures';
import { engineCodes } from '../../core/errors';
import type { CommandEnvelope } from '../../core/envelopes';
import { aggregateWorkflowType, submitUpdate, versionQuery, type AggregateWorkflow } from '../../workflows/definitions';
import { eventually, uniqueId, type TestStack } from './stack';

export const historiesDir = join(__dirname, '..', 'fixtures', 'histories');

const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };

const command = (cartId: string, type: string, payload: Record<string, unknown>, extra: Partial<CommandEnvelope> = {}, aggregateType = 'cart'): CommandEnvelope => ({
  commandId: uniqueId(type),
  aggregateType,
  aggregateId: cartId,
  type,
  payload,
  metadata: { correlationId: cartId, issuedAt: new Date().toISOString() },
  ...extra,
});

/** Drives carts through every path of the workflow and returns their histories by name. */
export async function recordScenarios(stack: TestStack): Promise<Record<string, History>> {
  const bus = createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE });
  const histories: Record<string, History> = {};

  // Lifecycle: accepted, rejected, duplicate, conflicting, queued; then a checkout that runs the
  // process (its order reads the customer) to completion, and a command to the closed cart.
  const lifecycle = uniqueId('replay-lifecycle');
  const products = { a: uniqueId('replay-a'), b: uniqueId('replay-b') };
  await bus.submit(command(lifecycle, 'register', { name: 'Ada', email: 'ada@example.com' }, {}, 'customer'));
  for (const product of Object.values(products)) await bus.submit(command(product, 'receiveStock', { quantity: 10 }, {}, 'inventory'));
  const first = command(lifecycle, 'addItem', { itemId: products.a, quantity: 2, price: 19.99 });
  await bus.submit(first);
  await bus.submit(first);
  await bus.submit(command(lifecycle, 'addItem', { itemId: products.b, quantity: 1, price: 0.1 }), 'accepted');
  await Promise.all([
    bus.submit(command(lifecycle, 'changeQuantity', { itemId: products.a, quantity: 3 })),
    bus.submit(command(lifecycle, 'removeItem', { itemId: 'zzz' })),
    bus.submit(command(lifecycle, 'addItem', { itemId: 'c', quantity: 0, price: 1 })),
  ]);
  await bus.submit(command(lifecycle, 'checkout', { shippingAddress: address }, { expectedVersion: 0 }));
  await eventually(async () => ((await stack.temporal.workflow.getHandle(`cart:${lifecycle}`).query(versionQuery)) >= 3 ? true : undefined));
  await bus.submit(command(lifecycle, 'checkout', { shippingAddress: address }));
  histories.lifecycle = await closedHistory(stack, `cart:${lifecycle}`, 60_000);
  await bus.submit(command(lifecycle, 'addItem', { itemId: 'd', quantity: 1, price: 1 }));
  histories.checkout = await closedHistory(stack, `checkout:${lifecycle}.1`);
  histories.order = await stack.temporal.workflow.getHandle(`order:${lifecycle}.1`).fetchHistory();
  histories.inventory = await stack.temporal.workflow.getHandle(`inventory:${products.a}`).fetchHistory();

  // A cart whose only command is refused: its workflow ends empty.
  const ghost = uniqueId('replay-empty');
  await bus.submit(command(ghost, 'removeItem', { itemId: 'nothing' }));
  histories.empty = await closedHistory(stack, `cart:${ghost}`);

  // Continue-as-new: a tiny history budget makes the aggregate hand over several times.
  const long = uniqueId('replay-can');
  for (let i = 0; i < 40; i++) {
    const envelope = command(long, 'addItem', { itemId: `i${i}`, quantity: 1, price: 1 });
    // While it hands over, the aggregate refuses new commands for a moment (the bus would retry).
    await eventually(
      () =>
        stack.temporal.workflow
          .executeUpdateWithStart(submitUpdate, {
            args: [[envelope]],
            startWorkflowOperation: new WithStartWorkflowOperation<AggregateWorkflow>(aggregateWorkflowType, {
              workflowId: `cart:${long}`,
              taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
              args: [{ aggregateType: 'cart', aggregateId: long, historyBudget: 60, recordDecisions: true }],
              workflowIdConflictPolicy: 'USE_EXISTING',
            }),
          })
          .catch((error: unknown) => {
            if (refusedAs(error, engineCodes.AGGREGATE_HANDING_OVER)) return undefined;
            throw error;
          }),
      30_000,
      'accepted after the hand-over',
    );
  }
  let run = 0;
  for await (const execution of stack.temporal.workflow.list({ query: `WorkflowId = 'cart:${long}'` })) {
    const handle = stack.temporal.workflow.getHandle(execution.workflowId, execution.runId);
    histories[`continue-as-new-run-${++run}`] = await handle.fetchHistory();
  }
  return histories;
}

/** The whole history of a workflow that completed. */
async function closedHistory(stack: TestStack, workflowId: string, timeoutMs = 15_000): Promise<History> {
  const handle = stack.temporal.workflow.getHandle(workflowId);
  await eventually(async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined), timeoutMs, `${workflowId} completed`);
  return handle.fetchHistory();
}

/** Each recording goes to a folder of its day, so older histories stay and keep being replayed. */
export function writeHistories(histories: Record<string, History>, dir = join(historiesDir, new Date().toISOString().slice(0, 10))): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(histories).map(([name, history]) => {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, historyToJSON(history) + '\n');
    return file;
  });
}

if (require.main === module) {
  const { startTestStack } = require('./stack') as typeof import('./stack');
  (async () => {
    const stack = await startTestStack({ api: false, projector: false });
    try {
      const files = writeHistories(await recordScenarios(stack));
      console.log(`recorded ${files.length} histories:\n${files.join('\n')}`);
    } finally {
      await stack.stop();
    }
  })().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
