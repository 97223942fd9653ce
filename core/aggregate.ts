import { z } from 'zod';

/** Commands and events are named zod object schemas; their payloads are JSON-safe. */
export type MessageSchemas = Record<string, z.ZodObject>;

/** A domain message: a literal type and its parsed payload. */
export type MessageOf<S extends MessageSchemas> = {
  [K in keyof S & string]: { readonly type: K; readonly payload: z.output<S[K]> };
}[keyof S & string];

/** Another aggregate a command's decision depends on, read at the moment it is decided. */
export interface AggregateRef {
  aggregateType: string;
  aggregateId: string;
}

/** Another aggregate's current state and version, as `decide` sees it; null if it does not exist. */
export interface LookedUp<S = unknown> {
  state: S;
  version: number;
}

/** What `decide` may know besides state and command: values fixed by the sender, and lookups. */
export interface DecideContext {
  /** The command's `issuedAt`, ISO 8601. `decide` never reads a clock. */
  readonly now: string;
  readonly commandId: string;
  /** The id of the aggregate deciding. */
  readonly aggregateId: string;
  /**
   * The current state of the aggregates `lookups` named for this command, read just before it
   * was decided (the decision, not the read, is what the history records).
   */
  readonly lookups: Readonly<Record<string, LookedUp | null>>;
}

/** A process (a workflow of its own) an aggregate starts when it decides a given event. */
export interface ProcessStart {
  /** The process's workflow type, e.g. `checkoutProcess`. */
  workflowType: string;
  /** Deterministic, so the same event never starts it twice. */
  workflowId: string;
  input: unknown;
}

/** An event as the engine hands it to a process trigger: its type, version, aggregate and payload. */
export interface DecidedFact<P = Record<string, unknown>> {
  aggregateId: string;
  version: number;
  type: string;
  payload: P;
  correlationId: string;
}

export interface AggregateDefinition<
  Name extends string = string,
  IdField extends string = string,
  Commands extends MessageSchemas = MessageSchemas,
  Events extends MessageSchemas = MessageSchemas,
  State = unknown,
  Internal extends keyof Commands & string = never,
> {
  /** The aggregate type: the workflow id prefix, the routing key prefix, the router name. */
  readonly name: Name;
  /** The name of the id field in API inputs, e.g. `cartId`. */
  readonly idField: IdField;
  readonly idSchema: z.ZodString;
  readonly commands: Commands;
  readonly events: Events;
  /** The aggregate's own rejection codes, e.g. `CART_EMPTY`. */
  readonly errorCodes: readonly string[];
  readonly initialState: () => State;
  readonly decide: (state: State, command: MessageOf<Commands>, context: DecideContext) => readonly MessageOf<Events>[];
  readonly evolve: (state: State, event: MessageOf<Events>) => State;
  /** A terminal aggregate rejects every further command with AGGREGATE_CLOSED. */
  readonly isTerminal: (state: State) => boolean;
  /** A short Markdown summary of the state for the Temporal Web UI. */
  readonly describe: (state: State) => string;
  /**
   * Schema evolution: `upcasters.SomeEvent[n]` turns a schemaVersion-n payload into n+1. An
   * event type's current schemaVersion is one past its highest upcaster (1 without any).
   */
  readonly upcasters: Upcasters<Events>;
  /**
   * The other aggregates a command's decision reads, by a name `decide` finds them under in
   * `context.lookups` (e.g. an order's customer). Read when the command is decided. A name
   * whose reference is `undefined` is not looked up (so `cond ? { a: ref } : {}` type-checks).
   */
  readonly lookups: (command: MessageOf<Commands>) => Readonly<Record<string, AggregateRef | undefined>>;
  /** Processes this aggregate starts when it decides these events (e.g. a checkout). */
  readonly processes: { readonly [K in keyof Events]?: (event: DecidedFact<z.output<Events[K]>>) => ProcessStart };
  /** Commands only processes send: the API does not offer them. */
  readonly internalCommands: readonly Internal[];
  /**
   * For aggregates whose runs began before Ledgerflow recorded decisions (releases up to
   * 2026-11-22): the decider of that release, which such runs replay with until their next
   * hand-over. Leave it out otherwise.
   */
  readonly legacyDecider?: AnyAggregate;
}

/** Pure functions from an old payload shape to the next; old payloads are untyped JSON. */
export type Upcasters<Events extends MessageSchemas> = {
  readonly [K in keyof Events]?: Readonly<Record<number, (payload: Record<string, unknown>) => Record<string, unknown>>>;
};

/** Any registered aggregate, with its type parameters erased for generic engine code. */
export type AnyAggregate = AggregateDefinition<string, string, any, any, any, any>;

export type StateOf<A> = A extends AggregateDefinition<string, string, any, any, infer S, any> ? S : never;
export type CommandsOf<A> = A extends AggregateDefinition<string, string, infer C, any, any, any> ? C : never;
/** The commands a client may send: all but the internal ones. */
export type PublicCommandsOf<A extends AnyAggregate> = Exclude<keyof A['commands'] & string, A['internalCommands'][number]>;

type DefinitionInput<N extends string, I extends string, C extends MessageSchemas, E extends MessageSchemas, S, X extends keyof C & string> = Omit<
  AggregateDefinition<N, I, C, E, S, X>,
  'isTerminal' | 'describe' | 'idSchema' | 'upcasters' | 'lookups' | 'processes' | 'internalCommands' | 'legacyDecider'
> & {
  readonly upcasters?: Upcasters<E>;
  readonly lookups?: AggregateDefinition<N, I, C, E, S, X>['lookups'];
  readonly processes?: AggregateDefinition<N, I, C, E, S, X>['processes'];
  readonly internalCommands?: readonly X[];
  readonly legacyDecider?: AnyAggregate;
  readonly idSchema?: z.ZodString;
  readonly isTerminal?: (state: S) => boolean;
  readonly describe?: (state: S) => string;
};

const defaultIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/, {
    message: 'must be 1-128 characters: letters, digits, and . _ @ - (not first)',
  });

/** Declares an aggregate: the one thing a new domain file exports. */
export function defineAggregate<
  const N extends string,
  const I extends string,
  C extends MessageSchemas,
  E extends MessageSchemas,
  S,
  const X extends keyof C & string = never,
>(definition: DefinitionInput<N, I, C, E, S, X>): AggregateDefinition<N, I, C, E, S, X> {
  return {
    idSchema: defaultIdSchema,
    isTerminal: () => false,
    describe: (state) => '```json\n' + JSON.stringify(state, null, 2) + '\n```',
    upcasters: {},
    lookups: () => ({}),
    processes: {},
    internalCommands: [],
    ...definition,
  };
}

export { assertNever } from './evolver';
