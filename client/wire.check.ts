/**
 * Compile-time only (not part of the package): the wire types client/index.ts writes out are the
 * engine's. `npm run typecheck` fails here when one side changes without the other.
 */
import type { CommandOptions, CommandResult, WaitMode } from '../api/aggregate-router';
import type { CommandStatus } from '../api/router';
import type { DecidedEvent } from '../core/envelopes';
import type * as client from './index';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

export const wireTypesMatch: [
  Equal<client.CommandResult, CommandResult>,
  Equal<client.CommandOptions, CommandOptions>,
  Equal<client.WaitMode, WaitMode>,
  Equal<client.DecidedEvent, DecidedEvent>,
  Equal<client.CommandStatus, CommandStatus>,
] = [true, true, true, true, true];
