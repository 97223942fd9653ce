import type { TRPCMutationProcedure } from '@trpc/server';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { AnyAggregate } from '../core/aggregate';
import type { AnyProjection } from '../core/projection';
import type { CommandEnvelope, DecidedEvent } from '../core/envelopes';
import { newCommandId } from './commands';
import { toTRPCError } from './errors';
import { procedure, router } from './trpc';

/** How long `wait: 'projected'` waits for the read models before answering TIMEOUT. */
export const projectedTimeoutMs = 5000;

export const waitModes = ['none', 'processed', 'projected'] as const;
export type WaitMode = (typeof waitModes)[number];

/** Options every command mutation takes beside the aggregate id and the payload. */
export const commandOptions = {
  commandId: z.string().min(1).max(128).optional(),
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
}

/** A command's payload as a client writes it (the shape only: strict objects add an index signature). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
type PayloadInput<S> = S extends z.ZodObject<infer Shape> ? ([keyof Shape] extends [never] ? {} : z.input<z.ZodObject<Shape>>) : never;

export type CommandInput<A extends AnyAggregate, K extends keyof A['commands']> = { [P in A['idField']]: string } & PayloadInput<
  A['commands'][K]
> &
  CommandOptions;

/** The generated router's shape: one typed mutation per command of the aggregate. */
export type CommandProcedures<A extends AnyAggregate> = {
  [K in keyof A['commands'] & string]: TRPCMutationProcedure<{ input: CommandInput<A, K>; output: CommandResult; meta: object }>;
};

/** Builds `<aggregate>.<command>` mutations from the definition: input schema, envelope, dispatch. */
export function commandRouter<A extends AnyAggregate>(aggregate: A, projections: readonly AnyProjection[]) {
  const procedures = Object.fromEntries(
    Object.entries(aggregate.commands as Record<string, z.ZodObject>).map(([type, schema]) => {
      const input = z.strictObject({ [aggregate.idField]: aggregate.idSchema, ...schema.shape, ...commandOptions });
      const mutation = procedure.input(input).mutation(async ({ input, ctx }): Promise<CommandResult> => {
        const { [aggregate.idField]: aggregateId, commandId = newCommandId(), expectedVersion, wait = 'processed', ...payload } = input as Record<
          string,
          unknown
        > &
          CommandOptions;
        const envelope: CommandEnvelope = {
          commandId,
          aggregateType: aggregate.name,
          aggregateId: aggregateId as string,
          type,
          payload,
          ...(expectedVersion === undefined ? {} : { expectedVersion }),
          metadata: {
            correlationId: ctx.correlationId ?? commandId,
            ...(ctx.userId ? { userId: ctx.userId } : {}),
            issuedAt: new Date().toISOString(),
          },
        };
        if (wait === 'none') {
          const refused = await ctx.bus.send(envelope);
          if (refused?.status === 'rejected') throw toTRPCError(refused.rejection);
          return { aggregateId: envelope.aggregateId, commandId, status: 'queued', version: null, events: [] };
        }
        const outcome = await ctx.bus.submit(envelope);
        if (outcome.status === 'rejected') throw toTRPCError(outcome.rejection);
        if (wait === 'projected' && outcome.events.length > 0) {
          const visible = await ctx.waiter.waitFor(projections, aggregate.name, outcome.aggregateId, outcome.version, projectedTimeoutMs);
          if (!visible) {
            throw new TRPCError({
              code: 'TIMEOUT',
              message: `command ${commandId} was accepted at version ${outcome.version} but is not yet visible in the read models after ${projectedTimeoutMs} ms`,
            });
          }
        }
        return { aggregateId: outcome.aggregateId, commandId, status: 'processed', version: outcome.version, events: outcome.events };
      });
      return [type, mutation];
    }),
  );
  return router(procedures as unknown as CommandProcedures<A>);
}
