/** The payment gateway as the checkout process's activities call it: idempotent per key. */

export type ChargeResult = { status: 'captured'; chargeId: string } | { status: 'declined'; reason: string };

/** The gateway did not answer usefully (down, slow, 5xx): the call may be retried with the same key. */
export class PaymentUnavailableError extends Error {
  override readonly name = 'PaymentUnavailableError';
}

export function createPaymentClient(baseUrl: string, timeoutMs = 5000) {
  const call = async (path: string, init: RequestInit & { headers?: Record<string, string> }) => {
    let response: Response;
    try {
      response = await fetch(`${baseUrl}${path}`, { ...init, headers: { 'content-type': 'application/json', ...init.headers }, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new PaymentUnavailableError(`payment gateway at ${baseUrl} did not answer: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (response.status >= 500) throw new PaymentUnavailableError(`payment gateway answered ${response.status}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  return {
    /** Charges once per key: the same key again answers the first result. */
    async charge(idempotencyKey: string, amountCents: number, customerId: string, description?: string): Promise<ChargeResult> {
      const { status, body } = await call('/charges', {
        method: 'POST',
        headers: { 'idempotency-key': idempotencyKey },
        body: JSON.stringify({ amountCents, customerId, description }),
      });
      if (status === 402) return { status: 'declined', reason: String(body.reason ?? 'declined') };
      if (status === 200 || status === 201) return { status: 'captured', chargeId: String(body.chargeId) };
      throw new Error(`payment gateway refused the charge (${status}): ${JSON.stringify(body)}`);
    },

    /** Refunds the charge made with this key (again: nothing more happens). */
    async refund(idempotencyKey: string): Promise<void> {
      const { status, body } = await call('/refunds', { method: 'POST', body: JSON.stringify({ idempotencyKey }) });
      if (status !== 200 && status !== 404) throw new Error(`payment gateway refused the refund (${status}): ${JSON.stringify(body)}`);
    },
  };
}

export type PaymentClient = ReturnType<typeof createPaymentClient>;
