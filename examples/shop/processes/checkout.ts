/**
 * The checkout process (a process manager): started by a cart when it decides CheckoutStarted,
 * it reserves stock for every line, creates the order, charges the payment and commits the
 * reservations; if a step fails it compensates — refund, cancel the order, release what it
 * reserved — and tells the cart why, so the customer can fix the cart and check out again.
 * Every command it sends has a commandId derived from the process and the step, and the
 * payment an idempotency key, so retries and worker restarts apply each step once.
 */
import { proxyActivities, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { fromCents } from 'ledgerflow';
import { LinkedAggregates, linkedAggregates, processCommands, ProcessType, type CommandOutcome } from 'ledgerflow/workflow';
import type { CheckoutInput } from '../domain/cart/state';
import type { PaymentActivities } from '../payments/activities';

const retryForever = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' } as const;
const { chargePayment, refundPayment } = proxyActivities<PaymentActivities>({ startToCloseTimeout: '15 seconds', retry: retryForever });

export type CheckoutResult = { status: 'completed'; orderId: string } | { status: 'failed'; orderId: string; code: string; reason: string };

/** A step the process cannot get past: it compensates and reports `code` to the cart. */
class StepFailed extends Error {
  constructor(
    readonly code: string,
    reason: string,
  ) {
    super(reason);
  }
}

export async function checkoutProcess(input: CheckoutInput): Promise<CheckoutResult> {
  const { cartId, customerId, orderId, lines } = input;
  const processId = workflowInfo().workflowId;
  upsertSearchAttributes([
    { key: ProcessType, value: 'checkout' },
    { key: LinkedAggregates, value: linkedAggregates([`cart:${cartId}`, `order:${orderId}`, `customer:${customerId}`, ...lines.map((l) => `inventory:${l.itemId}`)]) },
  ]);
  const progress: string[] = [];
  const note = (step: string) => {
    progress.push(step);
    setCurrentDetails([`**Checkout** of cart ${cartId} → order ${orderId}`, '', ...progress.map((p) => `- ${p}`)].join('\n'));
  };

  const commands = processCommands({ correlationId: input.correlationId });
  const command = (aggregateType: string, aggregateId: string, type: string, payload: Record<string, unknown>): Promise<CommandOutcome> =>
    commands.send(aggregateType, aggregateId, type, payload);
  const required = async (aggregateType: string, aggregateId: string, type: string, payload: Record<string, unknown>) => {
    const outcome = await command(aggregateType, aggregateId, type, payload);
    if (outcome.status === 'rejected') throw new StepFailed(outcome.rejection.code, `${aggregateType} ${aggregateId}: ${outcome.rejection.message}`);
    return outcome;
  };

  const reserved: string[] = [];
  let orderCreated = false;
  let charged = false;
  let failure: StepFailed;
  try {
    const reservations = await Promise.all(lines.map((line) => command('inventory', line.itemId, 'reserve', { orderId, quantity: line.quantity })));
    reservations.forEach((outcome, i) => outcome.status === 'accepted' && reserved.push(lines[i]!.itemId));
    const refused = reservations.findIndex((outcome) => outcome.status === 'rejected');
    if (refused >= 0) {
      const outcome = reservations[refused] as Extract<CommandOutcome, { status: 'rejected' }>;
      throw new StepFailed(outcome.rejection.code, `${lines[refused]!.itemId}: ${outcome.rejection.message}`);
    }
    note(`reserved ${lines.length} line(s)`);

    await required('order', orderId, 'create', {
      customerId,
      items: lines.map((line) => ({ itemId: line.itemId, quantity: line.quantity, price: fromCents(line.unitPriceCents) })),
      shippingAddress: input.shippingAddress,
    });
    orderCreated = true;
    note('order created');

    const payment = await chargePayment({ idempotencyKey: orderId, amountCents: input.totalCents, customerId, description: `order ${orderId}` });
    if (payment.status === 'declined') throw new StepFailed('PAYMENT_DECLINED', `payment declined: ${payment.reason}`);
    charged = true;
    note(`paid ${fromCents(input.totalCents).toFixed(2)} (${payment.chargeId})`);

    await Promise.all(reserved.map((productId) => required('inventory', productId, 'commit', { orderId })));
    note('stock committed');
    await required('cart', cartId, 'completeCheckout', { orderId });
    note('cart checked out');
    return { status: 'completed', orderId };
  } catch (error) {
    failure = error instanceof StepFailed ? error : new StepFailed('CHECKOUT_ERROR', error instanceof Error ? error.message : String(error));
  }

  // Compensation, newest step first. Each command is idempotent, and one refused because it is
  // already undone (a cancelled order, a released reservation) has nothing left to undo.
  note(`failed: ${failure.code} — ${failure.message}`);
  if (charged) await refundPayment(orderId);
  if (orderCreated) await command('order', orderId, 'cancel', { reason: `checkout failed: ${failure.code}` });
  await Promise.all(reserved.map((productId) => command('inventory', productId, 'release', { orderId })));
  await required('cart', cartId, 'failCheckout', { orderId, code: failure.code.slice(0, 64), reason: failure.message.slice(0, 500) });
  note('compensated; the cart is open again');
  return { status: 'failed', orderId, code: failure.code, reason: failure.message };
}
