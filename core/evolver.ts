/**
 * What an aggregate's workflow needs of it: its state and how events change it. Free of zod,
 * so the workflow bundle carries none: the commands, the schemas and `decide` run in the
 * decide activity, outside the sandbox (see core/aggregate.ts for the whole definition).
 */
import type { DecidedFact, ProcessStart } from './aggregate';

/** Any domain event as `evolve` sees it: a literal type and its payload. */
export interface AnyEvent {
  readonly type: string;
  readonly payload: unknown;
}

export interface AggregateEvolver<Name extends string = string, State = unknown, Event extends AnyEvent = AnyEvent> {
  /** The aggregate type: the workflow id prefix, the routing key prefix, the router name. */
  readonly name: Name;
  readonly initialState: () => State;
  readonly evolve: (state: State, event: Event) => State;
  /** A terminal aggregate rejects every further command, and its workflow ends once published. */
  readonly isTerminal: (state: State) => boolean;
  /** A short Markdown summary of the state for the Temporal Web UI. */
  readonly describe: (state: State) => string;
  /** Processes this aggregate starts when it decides these events (e.g. a checkout). */
  readonly processes: { readonly [K in Event['type']]?: (event: DecidedFact<Extract<Event, { type: K }>['payload']>) => ProcessStart };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyEvolver = AggregateEvolver<string, any, any>;

/** Declares an aggregate's state side; `defineAggregate({ ...evolver, commands, events, decide })` completes it. */
export function defineEvolver<const N extends string, S, E extends AnyEvent>(
  evolver: Omit<AggregateEvolver<N, S, E>, 'isTerminal' | 'describe' | 'processes'> & Partial<Pick<AggregateEvolver<N, S, E>, 'isTerminal' | 'describe' | 'processes'>>,
): AggregateEvolver<N, S, E> {
  return {
    isTerminal: () => false,
    describe: (state) => '```json\n' + JSON.stringify(state, null, 2) + '\n```',
    processes: {},
    ...evolver,
  };
}

/** An aggregate's state as the engine holds it: the domain state plus its version. */
export interface Snapshot<S = unknown> {
  state: S;
  /** The number of events applied; 0 means the aggregate has no events yet. */
  version: number;
}

/** Folds decided events into a snapshot: how the workflow's state follows its recorded decisions. */
export function applyEvents<S>(evolver: AnyEvolver, snapshot: Snapshot<S>, events: readonly { type: string; payload: unknown; version: number }[]): Snapshot<S> {
  let { state, version } = snapshot;
  for (const event of events) {
    state = evolver.evolve(state, { type: event.type, payload: event.payload });
    version = event.version;
  }
  return { state, version };
}

/** The code a terminal aggregate refuses every command with, e.g. `CART_CLOSED`. */
export const closedCode = (aggregateType: string) => `${aggregateType.toUpperCase()}_CLOSED`;

/** Ends an exhaustive switch: the compiler proves every case is handled. */
export function assertNever(value: never): never {
  throw new Error(`unhandled message ${JSON.stringify(value)}`);
}
