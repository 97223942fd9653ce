import { z } from 'zod';

/** Commands and events are named zod object schemas; their payloads are JSON-safe. */
export type MessageSchemas = Record<string, z.ZodObject>;

/** A domain message: a literal type and its parsed payload. */
export type MessageOf<S extends MessageSchemas> = {
  [K in keyof S & string]: { readonly type: K; readonly payload: z.output<S[K]> };
}[keyof S & string];

/** What `decide` may know besides state and command: values fixed by the sender. */
export interface DecideContext {
  /** The command's `issuedAt`, ISO 8601. `decide` never reads a clock. */
  readonly now: string;
  readonly commandId: string;
}

export interface AggregateDefinition<
  Name extends string = string,
  IdField extends string = string,
  Commands extends MessageSchemas = MessageSchemas,
  Events extends MessageSchemas = MessageSchemas,
  State = unknown,
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
}

/** Pure functions from an old payload shape to the next; old payloads are untyped JSON. */
export type Upcasters<Events extends MessageSchemas> = {
  readonly [K in keyof Events]?: Readonly<Record<number, (payload: Record<string, unknown>) => Record<string, unknown>>>;
};

/** Any registered aggregate, with its type parameters erased for generic engine code. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyAggregate = AggregateDefinition<string, string, any, any, any>;

export type StateOf<A> = A extends AggregateDefinition<string, string, MessageSchemas, MessageSchemas, infer S> ? S : never;
export type CommandsOf<A> = A extends AggregateDefinition<string, string, infer C, MessageSchemas, unknown> ? C : never;

type DefinitionInput<N extends string, I extends string, C extends MessageSchemas, E extends MessageSchemas, S> = Omit<
  AggregateDefinition<N, I, C, E, S>,
  'isTerminal' | 'describe' | 'idSchema' | 'upcasters'
> & {
  readonly upcasters?: Upcasters<E>;
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
>(definition: DefinitionInput<N, I, C, E, S>): AggregateDefinition<N, I, C, E, S> {
  return {
    idSchema: defaultIdSchema,
    isTerminal: () => false,
    describe: (state) => '```json\n' + JSON.stringify(state, null, 2) + '\n```',
    upcasters: {},
    ...definition,
  };
}

/** Ends an exhaustive switch: the compiler proves every case is handled. */
export function assertNever(value: never): never {
  throw new Error(`unhandled message ${JSON.stringify(value)}`);
}
