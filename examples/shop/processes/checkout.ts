/**
 * The checkout process (a process manager): started by a cart when it decides CheckoutStarted,
 * it reserves stock for every line, creates the order and charges the payment; then the cart
 * decides (completeCheckout) and the reservations are committed. If a step fails, the process
 * is cancelled or its deadline passes first, it compensates — refund, cancel the order, release
 * what it reserved — and tells the cart why, so the customer can fix the cart and check out
 * again. Every command it sends has a commandId derived from the process and the step, every
 * step is idempotent in the domain, and the payment has an idempotency key, so retries, worker
 * restarts and the recovery apply each step once.
 *
 * It runs under a guard (`guarded`, ledgerflow/workflow): terminated, timed out or failed, it runs
 * none of its own code at the end, and `checkoutRecovery` finishes its work instead.
 */
import { CancellationScope, isCancellation, patched, proxyActivities, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { fromCents } from 'ledgerflow';
import { guarded, LinkedAggregates, linkedAggregates, processCommands, ProcessType, type CommandOutcome } from 'ledgerflow/workflow';
import type { CheckoutInput } from '../domain/cart/state';
import { checkout2026_11_25 } from '../legacy/checkout-2026-11-25';
import type { PaymentActivities } from '../payments/activities';

const retryForever = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' } as const;
const { chargePayment, refundPayment } = proxyActivities<PaymentActivities>({ startToCloseTimeout: '15 seconds', retry: retryForever });

/** How long a checkout may take to reserve, create the order and charge before it gives up and compensates. */
export const checkoutDeadline = '10 minutes';

export type CheckoutResult =
  | { status: 'completed'; orderId: string; unsettled?: string[] }
  | { status: 'failed'; orderId: string; code: string; reason: string; unsettled?: string[] };

/** A step the process cannot get past: it compensates and reports `code` to the cart. Never leaves this module. */
class StepFailed {
  constructor(
    readonly code: string,
    readonly message: string,
  ) {}
}

type Rejected = Extract<CommandOutcome, { status: 'rejected' }>;

/** Refusals of an undo that mean there was nothing to undo: the order was never created, the stock never reserved. */
const nothingToUndo = new Set(['ORDER_NOT_FOUND', 'NO_RESERVATION']);

/** The commands and the progress notes (Web UI details) of one checkout or its recovery. */
function checkoutSteps(input: CheckoutInput, title: string, processType: 'checkout' | 'checkoutRecovery') {
  const { cartId, customerId, orderId, lines } = input;
  upsertSearchAttributes([
    { key: ProcessType, value: processType },
    { key: LinkedAggregates, value: linkedAggregates([`cart:${cartId}`, `order:${orderId}`, `customer:${customerId}`, ...lines.map((l) => `inventory:${l.itemId}`)]) },
  ]);
  const progress: string[] = [];
  /** Steps a compensation could not undo: reported in the result, for an operator. */
  const unsettled: string[] = [];
  const note = (step: string) => {
    progress.push(step);
    setCurrentDetails([`**${title}** of cart ${cartId} → order ${orderId}`, '', ...progress.map((p) => `- ${p}`)].join('\n'));
  };
  const commands = processCommands({ correlationId: input.correlationId });
  const send = (aggregateType: string, aggregateId: string, type: string, payload: Record<string, unknown>) => commands.send(aggregateType, aggregateId, type, payload);
  /**
   * A settling step the domain refused: what it settles has moved on. Noted and reported, never
   * thrown; a refusal that says there was nothing to undo (never created, never reserved) is none.
   */
  const settled = (label: string, outcome: CommandOutcome) => {
    if (outcome.status === 'rejected' && !nothingToUndo.has(outcome.rejection.code)) {
      unsettled.push(`${label}: ${outcome.rejection.code}`);
      note(`${label} refused: ${outcome.rejection.code} — ${outcome.rejection.message}`);
    }
    return outcome;
  };

  return {
    note,
    send,
    unsettled,
    /**
     * Undoes what the checkout may have done, newest first. The stock follows the order: an
     * order that was shipped meanwhile (its cancel refused ORDER_ALREADY_SHIPPED) took its
     * stock, so its reservations are committed; otherwise they are released. A refund voids a
     * charge still on its way (the gateway refuses a charge under a refunded key).
     */
    async undo(done: { payment: boolean; order: boolean; reserved: readonly string[] }, failure: StepFailed) {
      if (done.payment) await refundPayment(orderId);
      let shipped = false;
      if (done.order) {
        const cancelled = settled('order cancel', await send('order', orderId, 'cancel', { reason: `checkout failed: ${failure.code}` }));
        shipped = cancelled.status === 'rejected' && cancelled.rejection.code === 'ORDER_ALREADY_SHIPPED';
      }
      const settling = shipped ? 'commit' : 'release';
      for (const productId of done.reserved) settled(`${settling} ${productId}`, await send('inventory', productId, settling, { orderId }));
    },
    /** Commits every reservation, one after the other; each is idempotent, so a resumed commit is that commit. */
    async commit(reserved: readonly string[]) {
      for (const productId of reserved) settled(`commit ${productId}`, await send('inventory', productId, 'commit', { orderId }));
    },
    /** Reports a failure to the cart; a cart that has left this checkout refuses it, and that is noted. */
    reportFailure: async (failure: StepFailed) =>
      settled('cart failCheckout', await send('cart', cartId, 'failCheckout', { orderId, code: failure.code.slice(0, 64), reason: failure.message.slice(0, 500) })),
  };
}

export async function checkoutProcess(input: CheckoutInput): Promise<CheckoutResult> {
  // Checkouts started before the guard replay and finish as they were released.
  if (!patched('checkout-guarded')) return checkout2026_11_25(input);
  return guarded({ recovery: 'checkoutRecovery', input }, () => checkout(input));
}

async function checkout(input: CheckoutInput): Promise<CheckoutResult> {
  const { cartId, customerId, orderId, lines } = input;
  const steps = checkoutSteps(input, 'Checkout', 'checkout');
  const { note, send, unsettled } = steps;
  const required = async (aggregateType: string, aggregateId: string, type: string, payload: Record<string, unknown>) => {
    const outcome = await send(aggregateType, aggregateId, type, payload);
    if (outcome.status === 'rejected') throw new StepFailed(outcome.rejection.code, `${aggregateType} ${aggregateId}: ${outcome.rejection.message}`);
    return outcome;
  };

  // What may have happened so far: a step in flight when the process is cancelled counts as done.
  const done = { reserved: [] as string[], order: false, payment: false };
  const deadline = new CancellationScope({ cancellable: true, timeout: checkoutDeadline });
  let failure: StepFailed | undefined;
  try {
    await deadline.run(async () => {
      const reservations = await Promise.allSettled(
        lines.map(async (line) => {
          const outcome = await send('inventory', line.itemId, 'reserve', { orderId, quantity: line.quantity });
          if (outcome.status === 'accepted') done.reserved.push(line.itemId);
          return outcome;
        }),
      );
      const broken = reservations.find((r) => r.status === 'rejected');
      if (broken) throw broken.reason;
      const refused = reservations.findIndex((r) => r.status === 'fulfilled' && r.value.status === 'rejected');
      if (refused >= 0) {
        const { rejection } = (reservations[refused] as PromiseFulfilledResult<Rejected>).value;
        throw new StepFailed(rejection.code, `${lines[refused]!.itemId}: ${rejection.message}`);
      }
      note(`reserved ${lines.length} line(s)`);

      done.order = true;
      await required('order', orderId, 'create', {
        customerId,
        items: lines.map((line) => ({ itemId: line.itemId, quantity: line.quantity, price: fromCents(line.unitPriceCents) })),
        shippingAddress: input.shippingAddress,
      });
      note('order created');

      done.payment = true;
      const payment = await chargePayment({ idempotencyKey: orderId, amountCents: input.totalCents, customerId, description: `order ${orderId}` });
      if (payment.status === 'declined') {
        done.payment = false;
        throw new StepFailed('PAYMENT_DECLINED', `payment declined: ${payment.reason}`);
      }
      note(`paid ${fromCents(input.totalCents).toFixed(2)} (${payment.chargeId})`);
    });
  } catch (error) {
    failure = failureOf(error);
  }

  // From here nothing is cancelled: the process finishes one way or the other.
  return CancellationScope.nonCancellable(async () => {
    if (!failure) {
      // The cart decides: once it has checked out, the checkout only goes forward.
      const report = await send('cart', cartId, 'completeCheckout', { orderId });
      if (report.status === 'accepted') {
        note('cart checked out');
        await steps.commit(done.reserved);
        note('stock committed');
        return { status: 'completed', orderId, ...(unsettled.length ? { unsettled } : {}) };
      }
      failure = new StepFailed(report.rejection.code, `cart ${cartId}: ${report.rejection.message}`);
    }
    note(`failed: ${failure.code} — ${failure.message}`);
    await steps.undo(done, failure);
    await steps.reportFailure(failure);
    note('compensated; the cart is open again');
    return { status: 'failed', orderId, code: failure.code, reason: failure.message, ...(unsettled.length ? { unsettled } : {}) };
  });
}

/** What made the checkout stop: a refused step, a cancellation, its deadline, or an activity that failed for good. */
function failureOf(error: unknown): StepFailed {
  if (error instanceof StepFailed) return error;
  if (isCancellation(error)) {
    return CancellationScope.current().consideredCancelled
      ? new StepFailed('CHECKOUT_CANCELLED', 'the checkout was cancelled')
      : new StepFailed('CHECKOUT_DEADLINE', `the checkout did not finish within ${checkoutDeadline}`);
  }
  return new StepFailed('CHECKOUT_ERROR', error instanceof Error ? error.message : String(error));
}

/**
 * Finishes a checkout whose process ended without finishing (terminated, timed out, failed):
 * started by its guard, with the checkout's input, once the checkout's last steps can no longer
 * be landing. The cart decides the direction: if it takes the failure (it was still checking
 * out this order, or had already failed it), everything the checkout may have done is undone;
 * if it refuses (it checked out), the checkout goes forward and its reservations are committed.
 * Every step is idempotent, so whatever the checkout did before it ended is not done twice.
 */
export async function checkoutRecovery(input: CheckoutInput): Promise<CheckoutResult> {
  const steps = checkoutSteps(input, 'Checkout recovery', 'checkoutRecovery');
  const { orderId, lines } = input;
  const all = lines.map((line) => line.itemId);
  const failure = new StepFailed('CHECKOUT_ABORTED', `the checkout process ended before it finished (${workflowInfo().workflowId})`);
  const report = await steps.reportFailure(failure);
  if (report.status === 'rejected') {
    await steps.commit(all);
    steps.note('the cart had checked out: stock committed');
    return { status: 'completed', orderId, unsettled: steps.unsettled };
  }
  await steps.undo({ payment: true, order: true, reserved: all }, failure);
  steps.note('compensated; the cart is open again');
  return { status: 'failed', orderId, code: failure.code, reason: failure.message, unsettled: steps.unsettled };
}
