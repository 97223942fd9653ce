import type { TRPCMutationProcedure } from '@trpc/server';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { AnyAggregate, PublicCommandsOf } from '../core/aggregate';
import { isProcessCommandId } from '../core/ids';
import { commandAccessOf, type AnyModule } from '../core/module';
import type { AnyProjection } from '../core/projection';
import { ruleRefusal } from './access';
import { buildCommand } from '../commands/envelope';
import { commandIdMessage, commandIdPattern, type CommandEnvelope, type DecidedEvent } from '../core/envelopes';
import { engineCodes } from '../core/errors';
import { aggregateLimits, jsonBytes } from '../core/limits';
import { CommandInFlightError, toTRPCError } from './errors';
import { clientProcedure, enforce, router, type ApiContext } from './trpc';

/** How long `wait: 'projected'` waits for the read models before answering TIMEOUT. */
export const projectedTimeoutMs = 5000;

export const waitModes = ['none', 'processed', 'projected'] as const;
export type WaitMode = (typeof waitModes)[number];

/** Options every command mutation takes beside the aggregate id and the payload. */
export const commandOptions = {
  commandId: z.string().regex(commandIdPattern, commandIdMessage).optional(),
  expectedVersion: z.number().int().nonnegative().optional(),
  wait: z.enum(waitModes).optional(),
};

export interface CommandOptions {
  /** Idempotency key; generated when absent. */
  commandId?: string;
  /** Reject with CONFLICT unless the aggregate is at this version. */
  expectedVersion?: number;
  /** none: once in the mailbox; processed (default): once decided; projected: once in the read models. */
  wait?: WaitMode;
}

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

/** A command's payload as a client writes it (the shape only: strict objects add an index signature). */
type PayloadInput<S> = S extends z.ZodObject<infer Shape> ? ([keyof Shape] extends [never] ? {} : z.input<z.ZodObject<Shape>>) : never;

export type CommandInput<A extends AnyAggregate, K extends keyof A['commands']> = { [P in A['idField']]: string } & PayloadInput<
  A['commands'][K]
> &
  CommandOptions;

/** The generated router's shape: one typed mutation per public command of the aggregate. */
export type CommandProcedures<A extends AnyAggregate> = {
  [K in PublicCommandsOf<A>]: TRPCMutationProcedure<{ input: CommandInput<A, K>; output: CommandResult; meta: object }>;
};

/**
 * Builds `<aggregate>.<command>` mutations from the module: input schema, access rule, envelope,
 * dispatch. The rule is checked from the aggregate id before anything is sent.
 */
export function commandRouter<A extends AnyAggregate>(module: AnyModule, projections: readonly AnyProjection[]) {
  const aggregate: A = module.aggregate;
  const procedures = Object.fromEntries(
    Object.entries(aggregate.commands as Record<string, z.ZodObject>)
      // Commands only processes send (a cart's completeCheckout) are not offered to clients.
      .filter(([type]) => !(aggregate.internalCommands as readonly string[]).includes(type))
      .map(([type, schema]) => {
      const input = z.strictObject({ [aggregate.idField]: aggregate.idSchema, ...schema.shape, ...commandOptions });
      const mutation = clientProcedure.input(input).mutation(async ({ input, ctx }): Promise<CommandResult> => {
        const { [aggregate.idField]: aggregateId, commandId, expectedVersion, wait = 'processed', ...payload } = input as Record<string, unknown> &
          CommandOptions;
        const what = `${aggregate.name}.${type} on ${aggregate.name} ${String(aggregateId)}`;
        enforce(ruleRefusal(ctx.caller, commandAccessOf(module, type), () => module.access.owner!(aggregateId as string), what));
        if (commandId !== undefined) refuseProcessCommandId(commandId);
        const envelope = buildCommand({
          aggregateType: aggregate.name,
          aggregateId: aggregateId as string,
          type,
          payload,
          commandId,
          expectedVersion,
          correlationId: ctx.correlationId ?? undefined,
          userId: ctx.userId ?? undefined,
        });
        return runCommand(ctx, envelope, wait, projections);
      });
      return [type, mutation];
    }),
  );
  return router(procedures as unknown as CommandProcedures<A>);
}

/**
 * A commandId in the process namespace is refused, whoever sends it: under an id a process will
 * use for a step, a command of the caller's would be remembered and the step answered with its
 * outcome, never applied.
 */
function refuseProcessCommandId(commandId: string): void {
  if (!isProcessCommandId(commandId)) return;
  const message = `commandId ${commandId} holds a '/': ids with '/' are the ones processes send; send another (a UUID)`;
  throw toTRPCError({ kind: 'INVALID_COMMAND', code: engineCodes.PROCESS_COMMAND_ID, message });
}

/**
 * Submits a command and answers as the wait mode asks. Every error from here on names the
 * commandId: once submitted the command may have been applied, and a retry with the same id
 * never applies it twice.
 */
async function runCommand(ctx: ApiContext, envelope: CommandEnvelope, wait: WaitMode, projections: readonly AnyProjection[]): Promise<CommandResult> {
  const { commandId, aggregateId } = envelope;
  const size = jsonBytes(envelope);
  if (size > aggregateLimits.commandBytes) {
    throw toTRPCError(
      { kind: 'INVALID_COMMAND', code: engineCodes.COMMAND_TOO_LARGE, message: `command ${commandId} is ${size} bytes; at most ${aggregateLimits.commandBytes}` },
      commandId,
    );
  }
  const inFlight = (what: string, cause: unknown) =>
    new CommandInFlightError(commandId, `command ${commandId}: ${what}; it may have been applied: retry with the same commandId`, { cause });

  let submitted;
  try {
    submitted = await ctx.bus.submit(envelope, wait === 'none' ? 'accepted' : 'processed');
  } catch (error) {
    throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: `command ${commandId} could not be delivered`, cause: inFlight('delivery failed', error) });
  }
  if (submitted.status === 'queued') return { aggregateId, commandId, status: 'queued', version: null, events: [] };
  if (submitted.status === 'rejected') throw toTRPCError(submitted.rejection, commandId);

  if (wait === 'projected' && submitted.events.length > 0) {
    let visible: boolean;
    try {
      visible = await ctx.waiter.waitFor(projections, envelope.aggregateType, aggregateId, submitted.version, projectedTimeoutMs);
    } catch (error) {
      throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: `command ${commandId} was accepted; its read models could not be read`, cause: inFlight('accepted, read models unreadable', error) });
    }
    if (!visible) {
      throw new TRPCError({
        code: 'TIMEOUT',
        message: `command ${commandId} was accepted at version ${submitted.version} but is not yet visible in the read models after ${projectedTimeoutMs} ms`,
        cause: inFlight(`accepted at version ${submitted.version}, not yet projected`, null),
      });
    }
  }
  return {
    aggregateId,
    commandId,
    status: 'processed',
    version: submitted.version,
    events: submitted.events,
    ...(submitted.eventsOmitted ? { eventsOmitted: true as const } : {}),
  };
}
