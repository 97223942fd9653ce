/**
 * How an aggregate's state follows its events, as the workflow and the decide step both fold
 * them. Free of zod and of I/O.
 */
/** An aggregate's state as the engine holds it: the domain state plus its version. */
export interface Snapshot<S = unknown> {
  state: S;
  /** The number of events applied; 0 means the aggregate has no events yet. */
  version: number;
}

/** Folds decided events into a snapshot: how the workflow's state follows its recorded decisions. */
export function applyEvents<S>(evolver: { readonly evolve: (state: S, event: { type: string; payload: unknown }) => S }, snapshot: Snapshot<S>, events: readonly { type: string; payload: unknown; version: number }[]): Snapshot<S> {
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
