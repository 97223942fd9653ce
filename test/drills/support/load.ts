/**
 * Full load as a client that follows the API's advice would send it: many senders in a closed
 * loop, each command with its own id, resent with the same id after a retryable refusal or a
 * network error, until answered. Every answer is tallied.
 */

export interface Tally {
  /** commandId → aggregate id, for every command the API answered as done (processed or queued). */
  acknowledged: Map<string, string>;
  refusedRetryable: number;
  /** Retryable refusals by domain code (AGGREGATE_BACKLOG_FULL, COMMAND_TIMEOUT, ...). */
  refusedBy: Map<string, number>;
  networkRetries: number;
  /** Answers that were neither done nor retryable: none are expected. */
  failures: string[];
}

export interface LoadPlan {
  apiUrl: string;
  /** Prefix of this drill's aggregate and command ids. */
  prefix: string;
  /** Senders on one hot cart. */
  hotSenders: number;
  /** Senders spread over many carts, `cartsPerSender` each. */
  manySenders: number;
  cartsPerSender: number;
}

export interface Load {
  tally: Tally;
  hotCart: string;
  carts: string[];
  /** Lets every sender finish its current pair (add, then remove) and stops. */
  stop(): Promise<void>;
}

type ErrorBody = { error?: { message: string; data?: { retryable?: boolean; commandId?: string | null; domainCode?: string | null } } };

export function startLoad(plan: LoadPlan): Load {
  const tally: Tally = { acknowledged: new Map(), refusedRetryable: 0, refusedBy: new Map(), networkRetries: 0, failures: [] };
  const hotCart = `${plan.prefix}-hot`;
  const manyCart = (sender: number, k: number) => `${plan.prefix}-s${sender}-c${k}`;
  const carts = [hotCart, ...Array.from({ length: plan.manySenders }, (_, s) => Array.from({ length: plan.cartsPerSender }, (_, k) => manyCart(s, k))).flat()];
  let stopping = false;

  async function send(type: 'addItem' | 'removeItem', input: Record<string, unknown> & { cartId: string; commandId: string }) {
    for (let attempt = 0; ; attempt++) {
      const backoff = () => new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 1000) * (0.5 + Math.random())));
      let response: Response;
      let body: ErrorBody;
      try {
        response = await fetch(`${plan.apiUrl}/trpc/cart.${type}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(input),
          signal: AbortSignal.timeout(30_000),
        });
        body = (await response.json()) as ErrorBody;
      } catch {
        tally.networkRetries += 1;
        await backoff();
        continue;
      }
      if (response.ok) {
        tally.acknowledged.set(input.commandId, input.cartId);
        return;
      }
      const data = body.error?.data;
      if (data?.retryable) {
        if (data.commandId !== input.commandId) tally.failures.push(`${input.commandId}: a retryable refusal named ${String(data.commandId)}`);
        tally.refusedRetryable += 1;
        const code = data.domainCode ?? `HTTP ${response.status}`;
        tally.refusedBy.set(code, (tally.refusedBy.get(code) ?? 0) + 1);
        await backoff();
        continue;
      }
      tally.failures.push(`${input.commandId}: ${response.status} ${data?.domainCode ?? ''} ${body.error?.message ?? ''}`);
      return;
    }
  }

  /** Adds its own item, then removes it, over and over: every command is valid whatever the others do. */
  async function sender(name: string, cartOf: (pair: number) => string, waitOf: (step: number) => string) {
    for (let step = 0; !stopping || step % 2 === 1; step++) {
      const cartId = cartOf(Math.floor(step / 2));
      const commandId = `${name}-${step}`;
      const wait = waitOf(step);
      if (step % 2 === 0) await send('addItem', { cartId, commandId, wait, itemId: name, quantity: 1, price: 0.01 });
      else await send('removeItem', { cartId, commandId, wait, itemId: name });
    }
  }

  const senders = [
    ...Array.from({ length: plan.hotSenders }, (_, s) =>
      sender(`${plan.prefix}-h${s}`, () => hotCart, (step) => (step % 5 === 4 ? 'none' : 'processed')),
    ),
    ...Array.from({ length: plan.manySenders }, (_, s) =>
      sender(`${plan.prefix}-m${s}`, (pair) => manyCart(s, pair % plan.cartsPerSender), (step) => (step % 10 === 9 ? 'projected' : 'processed')),
    ),
  ];

  return {
    tally,
    hotCart,
    carts,
    async stop() {
      stopping = true;
      await Promise.all(senders);
    },
  };
}

export const runFor = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
