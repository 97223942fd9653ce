/** The API's public types (re-exported by the package's root). */
export type { CommandStatus, RouterOf } from './router';
export type { CommandResult, CommandOptions, WaitMode } from './aggregate-router';
export type { HealthReport } from './health';
export type { DecidedEvent } from '../core/envelopes';
