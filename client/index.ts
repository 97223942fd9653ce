/**
 * A typed client for a Ledgerflow API, for apps in Node and in the browser: queries and mutations
 * over HTTP, subscriptions over server-sent events, the token on both, and a commandId on every
 * command so that a retry never applies it twice.
 *
 * It imports @trpc/client, eventsource (used only where the runtime has no EventSource: Node 20)
 * and types: no server code reaches a browser bundle.
 */
import { createTRPCClient, httpLink, httpSubscriptionLink, retryLink, splitLink, TRPCClientError, type TRPCLink } from '@trpc/client';
import { EventSource as EventSourcePonyfill } from 'eventsource';
import { v7 as uuidv7 } from 'uuid';
import type { AnyTRPCRouter, TRPCBuiltRouter, TRPCMutationProcedure, TRPCQueryProcedure, TRPCRouterRecord, TRPCSubscriptionProcedure } from '@trpc/server';

// The API's wire types, written out here (not imported: the client's bundled declarations must
// not pull the engine in); client/wire.check.ts makes the compiler hold them equal to the engine's.

/** none: once in the mailbox; processed (default): once decided; projected: once in the read models. */
export type WaitMode = 'none' | 'processed' | 'projected';

/** Options every command takes beside the aggregate id and the payload. */
export interface CommandOptions {
  /** Idempotency key; the client generates one when absent. */
  commandId?: string;
  /** Reject with CONFLICT unless the aggregate is at this version. */
  expectedVersion?: number;
  wait?: WaitMode;
}

/** An event a command decided, as its result lists it. */
export interface DecidedEvent {
  type: string;
  version: number;
  payload: Record<string, unknown>;
}

/** What a command answers. */
export interface CommandResult {
  aggregateId: string;
  commandId: string;
  /** `queued` for wait 'none': the command is durably in the mailbox, not yet decided. */
  status: 'processed' | 'queued';
  /** The aggregate's version after the command; null while queued. */
  version: number | null;
  events: DecidedEvent[];
  /** Set when answering a retry whose original events were too large to remember: `events` is then empty. */
  eventsOmitted?: true;
}

/** What `system.commandOutcome` answers: what became of a command, by its commandId. */
export interface CommandStatus {
  aggregateType: string;
  aggregateId: string;
  commandId: string;
  /**
   * pending: in the aggregate's mailbox; accepted at `version`; rejected (INTERNAL and
   * UNAVAILABLE kinds decided nothing: a resend with the same id is decided afresh); unknown:
   * never seen, or no longer remembered.
   */
  status: 'pending' | 'accepted' | 'rejected' | 'unknown';
  version: number | null;
  rejection: { kind: string; code: string; message: string } | null;
}

/** A token, or a function asked before each request (for tokens that expire). */
export type TokenSource = string | null | (() => string | null | undefined | Promise<string | null | undefined>);

/** An EventSource class: the browser's, or `eventsource`'s (the default where there is none). */
export type EventSourceClass = NonNullable<Parameters<typeof httpSubscriptionLink>[0]['EventSource']>;

export interface LedgerflowClientOptions {
  /** The API: `http://127.0.0.1:3000` or its tRPC endpoint `http://127.0.0.1:3000/trpc`. */
  url: string;
  /**
   * Sent as `Authorization: Bearer <token>` on queries and mutations, and as
   * `connectionParams: { token }` on subscriptions (an EventSource cannot send headers; tRPC puts
   * connectionParams in the subscription's URL, so serve the API over HTTPS).
   */
  token?: TokenSource;
  /**
   * How many times a query or mutation is sent again (after 0.25 s, 0.5 s, 1 s, ...) when the API
   * answered `retryable: true` or no answer came at all; a command keeps its commandId, so it is
   * applied once. 2 by default; 0 turns retries off. Subscriptions reconnect by themselves.
   */
  retries?: number;
  /** Extra headers on queries and mutations (`x-correlation-id`, ...). */
  headers?: Record<string, string>;
  /** The EventSource subscriptions use: the runtime's, else `eventsource`'s. */
  EventSource?: EventSourceClass;
  /** The fetch queries and mutations use: the runtime's by default. */
  fetch?: typeof fetch;
}

/** What `createLedgerflowClient<AppRouter>` returns: `client.cart.addItem.mutate(...)`, `client.cart.onChange.subscribe(...)`. */
export type LedgerflowClient<TRouter extends AnyTRPCRouter> = ReturnType<typeof createTRPCClient<TRouter>>;

/**
 * For an app that cannot import the API's `AppRouter` (a frontend in a repository of its own):
 * the same type, declared from what the client sees of each procedure. `DeclareRouter<{ book:
 * { add: Mutation<{ bookId: string; title: string }> } }>` types `client.book.add.mutate(...)`.
 */
export type DeclareRouter<TRecord extends TRPCRouterRecord> = TRPCBuiltRouter<
  { ctx: object; meta: object; errorShape: LedgerflowErrorShape; transformer: false },
  TRecord
>;
/** A command: its input (the aggregate id and payload fields; commandId, expectedVersion and wait are added) and result. */
export type Mutation<TInput, TOutput = CommandResult> = TRPCMutationProcedure<{ input: TInput & CommandOptions; output: TOutput; meta: object }>;
/** A query: `get` (input `{ <idField>, minVersion? }`) or a custom one. */
export type Query<TInput, TOutput> = TRPCQueryProcedure<{ input: TInput; output: TOutput; meta: object }>;
/** A subscription: `onChange` yields `{ id, data }` (the version as id, the read model as data). */
export type Subscription<TInput, TData> = TRPCSubscriptionProcedure<{ input: TInput; output: AsyncIterable<{ id: string; data: TData }, void, unknown>; meta: object }>;

/** The error a Ledgerflow API answers with: tRPC's, with the domain code, the commandId and whether a retry may succeed. */
export interface LedgerflowErrorShape {
  message: string;
  code: number;
  data: {
    code: string;
    httpStatus: number;
    path?: string;
    zodError: { formErrors: string[]; fieldErrors: Record<string, string[] | undefined> } | null;
    domainCode: string | null;
    details: unknown;
    commandId: string | null;
    retryable: boolean;
  };
}

/** The API's routers that take no commandId: operations, not commands. */
const notCommands = new Set(['system']);

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Gives every command that has none a commandId, once, before any retry: every attempt of one
 * call then carries the same id, and the aggregate applies it once. The id is a UUIDv7 (it
 * carries its time), so a retry later than the aggregate remembers is refused
 * `COMMAND_ID_EXPIRED`, never applied again.
 */
export function commandIdLink<TRouter extends AnyTRPCRouter>(newId: () => string = uuidv7): TRPCLink<TRouter> {
  return () =>
    ({ op, next }) => {
      const [router] = op.path.split('.');
      const isCommand = op.type === 'mutation' && router !== undefined && !notCommands.has(router);
      if (!isCommand || !isPlainObject(op.input) || op.input.commandId !== undefined) return next(op);
      return next({ ...op, input: { ...op.input, commandId: newId() } });
    };
}

/** Whether sending the same request again may succeed: the API said so, or no answer came. */
export function isRetryableError(error: unknown): boolean {
  if (!(error instanceof TRPCClientError)) return false;
  const data = error.data as { retryable?: unknown } | undefined | null;
  if (data && typeof data.retryable === 'boolean') return data.retryable;
  // No tRPC answer at all (connection refused, reset, a proxy's HTML error page).
  return !data && !error.shape;
}

/** `http://host:3000` → `http://host:3000/trpc`; a URL already ending in `/trpc` is kept. */
export function trpcUrl(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return /\/trpc$/.test(new URL(trimmed).pathname) ? trimmed : `${trimmed}/trpc`;
}

async function tokenOf(source: TokenSource | undefined): Promise<string | null> {
  const token = typeof source === 'function' ? await source() : source;
  return token ? token : null;
}

/**
 * A typed client for an app's API: `createLedgerflowClient<AppRouter>({ url: 'http://127.0.0.1:3000', token })`,
 * where `AppRouter` is the app's `RouterOf<typeof config>` (a type: nothing of the server is imported).
 */
export function createLedgerflowClient<TRouter extends AnyTRPCRouter>(options: LedgerflowClientOptions): LedgerflowClient<TRouter> {
  const url = trpcUrl(options.url);
  const retries = options.retries ?? 2;
  const EventSource = options.EventSource ?? (globalThis as { EventSource?: EventSourceClass }).EventSource ?? EventSourcePonyfill;
  // The links are the same for every app's router (plain JSON, no transformer): built once, untyped.
  const links: TRPCLink<AnyTRPCRouter>[] = [
      commandIdLink(),
      retryLink({
        retry: ({ op, error, attempts }) => op.type !== 'subscription' && attempts <= retries && isRetryableError(error),
        retryDelayMs: (attempt) => Math.min(250 * 2 ** (attempt - 1), 4000),
      }),
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({
          url,
          EventSource,
          connectionParams: async () => {
            const token = await tokenOf(options.token);
            return token ? { token } : null;
          },
        }),
        false: httpLink({
          url,
          ...(options.fetch ? { fetch: options.fetch } : {}),
          headers: async () => {
            const token = await tokenOf(options.token);
            return { ...options.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) };
          },
        }),
      }),
  ];
  return createTRPCClient<TRouter>({ links: links as unknown as TRPCLink<TRouter>[] });
}
