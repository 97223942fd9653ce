/**
 * Full load as a client that follows the API's advice would send it: many senders in a closed
 * loop, each command with its own id, resent with the same id after a retryable refusal or a
 * network error, until answered. Every answer is tallied with its time, and every command is
 * kept with what it asks, so the accounting can tell what each cart must hold.
 *
 * Each sender owns its items (ids carry the sender's name), so every command it sends is valid
 * whatever the other senders do: it adds to and removes only its own lines. Per cart a sender
 * keeps `itemsPerCart` items: the first comes and goes (added, then removed), the others
 * accumulate adds of varying quantities and are removed only before they would pass the cart's
 * quantity limit. The final carts thus depend on nearly every command: an add that a later
 * remove of the same item erased is the only kind a read model cannot show (the log still does).
 */
import { cartLimits } from '../../../examples/shop/domain/cart/cart';

/** What one command asks: the accounting's independent model of the cart reads this, not the domain code. */
export type CartCommand =
  | { type: 'addItem'; itemId: string; quantity: number; priceCents: number }
  | { type: 'removeItem'; itemId: string };

export interface SentCommand {
  commandId: string;
  cartId: string;
  command: CartCommand;
}

export interface Ack {
  cartId: string;
  /** When the acknowledged attempt was sent, and when its answer arrived (ms since the epoch). */
  sentAt: number;
  at: number;
}

/** A retryable refusal or a network error, after which the command was sent again with the same id. */
export interface Retry {
  /** When the refused attempt was sent, and when its answer (or error) came. */
  sentAt: number;
  at: number;
  commandId: string;
  /** The refusal's domain code, `HTTP <status>` without one, or `network` for no answer at all. */
  code: string;
}

export interface Tally {
  /** commandId → its cart and when it was answered done (processed or queued), in the order of the answers. */
  acknowledged: Map<string, Ack>;
  /** Every command sent, by commandId, whatever its answer. */
  commands: Map<string, SentCommand>;
  refusedRetryable: number;
  /** Retryable refusals by domain code (AGGREGATE_BACKLOG_FULL, COMMAND_TIMEOUT, ...). */
  refusedBy: Map<string, number>;
  networkRetries: number;
  /** Every retry, in order. */
  retries: Retry[];
  /**
   * Commands answered at least once with "it may have been applied" (COMMAND_TIMEOUT,
   * TEMPORAL_UNAVAILABLE, a command in flight, no answer at all): each was sent again with the
   * same id, and its final answer is in `acknowledged` or `failures`.
   */
  ambiguous: Set<string>;
  /** Answers that were neither done nor retryable: none are expected. */
  failures: string[];
}

export interface LoadPlan {
  apiUrl: string;
  /** Prefix of this drill's aggregate, item and command ids. */
  prefix: string;
  /** Senders on one hot cart. */
  hotSenders: number;
  /** Senders spread over many carts, `cartsPerSender` each (each cart is one sender's). */
  manySenders: number;
  cartsPerSender: number;
  /** Items each sender keeps per cart (default 3); hotSenders × this stays under the cart's line limit. */
  itemsPerCart?: number;
}

export interface Load {
  tally: Tally;
  hotCart: string;
  /** Every cart the load (or `send`) addressed. */
  carts: string[];
  /** Sends one command of the caller's own through the same path (tallied, resent until answered). */
  send(cartId: string, commandId: string, command: CartCommand, wait?: Wait): Promise<'acknowledged' | 'failed'>;
  /** Lets every sender finish the command it is sending and stops. */
  stop(): Promise<void>;
}

type Wait = 'none' | 'processed' | 'projected';
type ErrorBody = { error?: { message: string; data?: { retryable?: boolean; commandId?: string | null; domainCode?: string | null } } };

/** Refusals that say nothing was decided; any other retryable answer may follow an applied command. */
const nothingDecided = new Set(['AGGREGATE_BACKLOG_FULL', 'AGGREGATE_MAILBOX_FULL', 'AGGREGATE_HANDING_OVER', 'COMMAND_QUEUE_FULL']);

export function createTally(): Tally {
  return { acknowledged: new Map(), commands: new Map(), refusedRetryable: 0, refusedBy: new Map(), networkRetries: 0, retries: [], ambiguous: new Set(), failures: [] };
}

/** Sends one command until it is answered done or refused for good; tallies every answer. */
export async function sendCommand(apiUrl: string, tally: Tally, cartId: string, commandId: string, command: CartCommand, wait: Wait = 'processed') {
  tally.commands.set(commandId, { commandId, cartId, command });
  const input =
    command.type === 'addItem'
      ? { cartId, commandId, wait, itemId: command.itemId, quantity: command.quantity, price: command.priceCents / 100 }
      : { cartId, commandId, wait, itemId: command.itemId };
  for (let attempt = 0; ; attempt++) {
    const backoff = () => new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 1000) * (0.5 + Math.random())));
    let response: Response;
    let body: ErrorBody;
    const sentAt = Date.now();
    try {
      response = await fetch(`${apiUrl}/trpc/cart.${command.type}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(input),
        signal: AbortSignal.timeout(30_000),
      });
      body = (await response.json()) as ErrorBody;
    } catch {
      tally.networkRetries += 1;
      tally.retries.push({ sentAt, at: Date.now(), commandId, code: 'network' });
      tally.ambiguous.add(commandId);
      await backoff();
      continue;
    }
    if (response.ok) {
      tally.acknowledged.set(commandId, { cartId, sentAt, at: Date.now() });
      return 'acknowledged' as const;
    }
    const data = body.error?.data;
    if (data?.retryable) {
      if (data.commandId !== commandId) tally.failures.push(`${commandId}: a retryable refusal named ${String(data.commandId)}`);
      tally.refusedRetryable += 1;
      const code = data.domainCode ?? `HTTP ${response.status}`;
      tally.refusedBy.set(code, (tally.refusedBy.get(code) ?? 0) + 1);
      tally.retries.push({ sentAt, at: Date.now(), commandId, code });
      if (!nothingDecided.has(code)) tally.ambiguous.add(commandId);
      await backoff();
      continue;
    }
    tally.failures.push(`${commandId}: ${response.status} ${data?.domainCode ?? ''} ${body.error?.message ?? ''}`);
    return 'failed' as const;
  }
}

/**
 * What happened within a window (a fault): the exchanges sent and answered inside it, so a
 * command sent before the fault and answered during it counts for neither side.
 */
export function tallyBetween(tally: Tally, from: number, to: number) {
  const inside = (x: { sentAt: number; at: number }) => x.sentAt >= from && x.at <= to;
  const acknowledged = [...tally.acknowledged.values()].filter(inside).length;
  const retries: Record<string, number> = {};
  for (const r of tally.retries) if (inside(r)) retries[r.code] = (retries[r.code] ?? 0) + 1;
  return { acknowledged, retries, retried: Object.values(retries).reduce((sum, n) => sum + n, 0) };
}

export function describeBetween(figures: ReturnType<typeof tallyBetween>): string {
  const by = Object.entries(figures.retries).map(([code, n]) => `${code} ${n}`).join(', ');
  return `sent and answered meanwhile: ${figures.acknowledged} acknowledged, ${figures.retried} refused or unanswered (retried)${by ? ` (${by})` : ''}`;
}

/** A cart as the acknowledged commands make it, by item: what the read model must hold. */
export type ExpectedCart = Map<string, { quantity: number; priceCents: number }>;

/**
 * Folds each cart's acknowledged commands, in the order they were answered, into the cart they
 * make. Computed from what the load sent, not with the domain's code. The order is right per
 * item because one sender owns it and waits for each answer before its next command.
 */
export function expectedCarts(tally: Tally): Map<string, ExpectedCart> {
  const carts = new Map<string, ExpectedCart>();
  for (const commandId of tally.acknowledged.keys()) {
    const { cartId, command } = tally.commands.get(commandId)!;
    const cart = carts.get(cartId) ?? new Map();
    carts.set(cartId, cart);
    if (command.type === 'removeItem') cart.delete(command.itemId);
    else cart.set(command.itemId, { quantity: (cart.get(command.itemId)?.quantity ?? 0) + command.quantity, priceCents: command.priceCents });
  }
  return carts;
}

/** A small deterministic spread (no clock, no random), so a run can be read back from its ids. */
const spread = (text: string, modulo: number) => {
  let h = 7;
  for (const c of text) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % modulo;
};

export function startLoad(plan: LoadPlan): Load {
  const tally = createTally();
  const itemsPerCart = plan.itemsPerCart ?? 3;
  if (plan.hotSenders * itemsPerCart > cartLimits.maxLines) throw new Error(`${plan.hotSenders} hot senders × ${itemsPerCart} items pass the cart's ${cartLimits.maxLines} lines`);
  const hotCart = `${plan.prefix}-hot`;
  const manyCart = (sender: number, k: number) => `${plan.prefix}-s${sender}-c${k}`;
  const carts = [hotCart, ...Array.from({ length: plan.manySenders }, (_, s) => Array.from({ length: plan.cartsPerSender }, (_, k) => manyCart(s, k))).flat()];
  let stopping = false;

  /** Visits its carts and items in turn; knows its own lines from its acknowledged commands. */
  async function sender(name: string, own: string[], waitOf: (step: number) => Wait) {
    const held = new Map<string, number>();
    for (let step = 0; !stopping; step++) {
      const cartId = own[step % own.length]!;
      const k = Math.floor(step / own.length) % itemsPerCart;
      const itemId = `${name}-i${k}`;
      const line = `${cartId}/${itemId}`;
      const has = held.get(line) ?? 0;
      const quantity = 1 + spread(`${name}:${step}`, 5);
      const remove = has > 0 && (k === 0 || has + quantity > cartLimits.maxQuantity);
      const command: CartCommand = remove ? { type: 'removeItem', itemId } : { type: 'addItem', itemId, quantity, priceCents: 1 + spread(itemId, 999) };
      const answer = await sendCommand(plan.apiUrl, tally, cartId, `${name}-${step}`, command, waitOf(step));
      // A command refused for good leaves this sender unsure of its lines: it stops (the failure is reported).
      if (answer === 'failed') return;
      held.set(line, remove ? 0 : has + quantity);
    }
  }

  const senders = [
    ...Array.from({ length: plan.hotSenders }, (_, s) => sender(`${plan.prefix}-h${s}`, [hotCart], (step) => (step % 5 === 4 ? 'none' : 'processed'))),
    ...Array.from({ length: plan.manySenders }, (_, s) =>
      sender(`${plan.prefix}-m${s}`, Array.from({ length: plan.cartsPerSender }, (_, k) => manyCart(s, k)), (step) => (step % 10 === 9 ? 'projected' : 'processed')),
    ),
  ];

  return {
    tally,
    hotCart,
    carts,
    send(cartId, commandId, command, wait) {
      if (!carts.includes(cartId)) carts.push(cartId);
      return sendCommand(plan.apiUrl, tally, cartId, commandId, command, wait);
    },
    async stop() {
      stopping = true;
      await Promise.all(senders);
    },
  };
}

export const runFor = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
