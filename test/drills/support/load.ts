/**
 * Full load as a client that follows the API's advice would send it: many senders in a closed
 * loop, each command with its own id, resent with the same id after a retryable refusal or a
 * network error, until answered. Every answer is tallied with its time, and every command is
 * kept with what it asks, so the accounting can tell what each account must hold.
 *
 * Each sender deposits and withdraws only its own money, so every command it sends is valid
 * whatever the other senders do: it withdraws at most what its own acknowledged deposits left on
 * that account. Every command names an entry of its own (its commandId), so the account's
 * statement must list each acknowledged command exactly once.
 */
/** What one command asks: the accounting's independent model of the account reads this, not the domain code. */
export interface AccountCommand {
  type: 'deposit' | 'withdraw';
  entryId: string;
  amountCents: number;
}

export interface SentCommand {
  commandId: string;
  accountId: string;
  command: AccountCommand;
}

export interface Ack {
  accountId: string;
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
  /** commandId → its account and when it was answered done (processed or queued), in the order of the answers. */
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
  /** Prefix of this drill's aggregate and command ids (and so of its entries). */
  prefix: string;
  /** Senders on one hot account. */
  hotSenders: number;
  /** Senders spread over many accounts, `accountsPerSender` each (each account is one sender's). */
  manySenders: number;
  accountsPerSender: number;
}

export interface Load {
  tally: Tally;
  hotAccount: string;
  /** Every account the load (or `send`) addressed. */
  accounts: string[];
  /** Sends one command of the caller's own through the same path (tallied, resent until answered). */
  send(accountId: string, commandId: string, command: AccountCommand, wait?: Wait): Promise<'acknowledged' | 'failed'>;
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
export async function sendCommand(apiUrl: string, tally: Tally, accountId: string, commandId: string, command: AccountCommand, wait: Wait = 'processed') {
  tally.commands.set(commandId, { commandId, accountId, command });
  const input = { accountId, commandId, wait, entryId: command.entryId, amount: command.amountCents / 100 };
  // A command still unanswered after this long is a failure of the drill (a process that died
  // for good, say), reported as such rather than retried until the test's own timeout.
  const givesUpAt = Date.now() + 180_000;
  for (let attempt = 0; ; attempt++) {
    if (Date.now() > givesUpAt) {
      tally.failures.push(`${commandId}: no definite answer after 180 s of retries`);
      return 'failed' as const;
    }
    const backoff = () => new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 1000) * (0.5 + Math.random())));
    let response: Response;
    let body: ErrorBody;
    const sentAt = Date.now();
    try {
      response = await fetch(`${apiUrl}/trpc/account.${command.type}`, {
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
      tally.acknowledged.set(commandId, { accountId, sentAt, at: Date.now() });
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

/** An account as its acknowledged commands make it: each entry's amount in cents (withdrawals negative). */
export type ExpectedAccount = Map<string, number>;

/** Each account's entries from its acknowledged commands: computed from what the load sent, not with the domain's code. */
export function expectedAccounts(tally: Tally): Map<string, ExpectedAccount> {
  const accounts = new Map<string, ExpectedAccount>();
  for (const commandId of tally.acknowledged.keys()) {
    const { accountId, command } = tally.commands.get(commandId)!;
    const entries = accounts.get(accountId) ?? new Map<string, number>();
    accounts.set(accountId, entries);
    entries.set(command.entryId, command.type === 'deposit' ? command.amountCents : -command.amountCents);
  }
  return accounts;
}

/** A small deterministic spread (no clock, no random), so a run can be read back from its ids. */
const spread = (text: string, modulo: number) => {
  let h = 7;
  for (const c of text) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % modulo;
};

export function startLoad(plan: LoadPlan): Load {
  const tally = createTally();
  const hotAccount = `${plan.prefix}-hot`;
  const manyAccount = (sender: number, k: number) => `${plan.prefix}-s${sender}-a${k}`;
  const accounts = [hotAccount, ...Array.from({ length: plan.manySenders }, (_, s) => Array.from({ length: plan.accountsPerSender }, (_, k) => manyAccount(s, k))).flat()];
  let stopping = false;

  /**
   * Visits its accounts in turn: two deposits, then a withdrawal of part of what it has left
   * there (its own money, known from its acknowledged commands), and so on.
   */
  async function sender(name: string, own: string[], waitOf: (step: number) => Wait) {
    const held = new Map<string, number>();
    for (let step = 0; !stopping; step++) {
      const accountId = own[step % own.length]!;
      const has = held.get(accountId) ?? 0;
      const withdraw = Math.floor(step / own.length) % 3 === 2 && has > 0;
      const amountCents = withdraw ? 1 + spread(`${name}:${step}`, has) : 1 + spread(`${name}:${step}`, 999);
      const commandId = `${name}-${step}`;
      const command: AccountCommand = { type: withdraw ? 'withdraw' : 'deposit', entryId: commandId, amountCents };
      const answer = await sendCommand(plan.apiUrl, tally, accountId, commandId, command, waitOf(step));
      // A command refused for good leaves this sender unsure of its money: it stops (the failure is reported).
      if (answer === 'failed') return;
      held.set(accountId, has + (withdraw ? -amountCents : amountCents));
    }
  }

  const senders = [
    ...Array.from({ length: plan.hotSenders }, (_, s) => sender(`${plan.prefix}-h${s}`, [hotAccount], (step) => (step % 5 === 4 ? 'none' : 'processed'))),
    ...Array.from({ length: plan.manySenders }, (_, s) =>
      sender(`${plan.prefix}-m${s}`, Array.from({ length: plan.accountsPerSender }, (_, k) => manyAccount(s, k)), (step) => (step % 10 === 9 ? 'projected' : 'processed')),
    ),
  ];

  return {
    tally,
    hotAccount,
    accounts,
    send(accountId, commandId, command, wait) {
      if (!accounts.includes(accountId)) accounts.push(accountId);
      return sendCommand(plan.apiUrl, tally, accountId, commandId, command, wait);
    },
    async stop() {
      stopping = true;
      await Promise.all(senders);
    },
  };
}

export const runFor = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
