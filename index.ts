/**
 * The `ledgerflow` package: what an app's domain is written with. Definitions only (no I/O,
 * nothing of Temporal, RabbitMQ or Redis): an app's `ledgerflow.config.ts` imports it, and so
 * does the workflow sandbox the config is bundled into. The processes that run a domain are in
 * `ledgerflow/server`, the helpers for process workflows in `ledgerflow/workflow`, the typed
 * client in `@ledgerflow/client`.
 */
export { defineConfig, ConfigError, type ActivityClients, type ActivityFunctions, type AnyAppConfig, type AppConfig, type ModulesOf, type ProcessWorkflow } from './core/app';
export type { CommandStatus, RouterOf } from './api/router';
export type { CommandOptions, CommandResult, WaitMode } from './api/aggregate-router';
export type { HealthReport } from './api/health';
export type { CommandOutcome, DecidedEvent, EventEnvelope } from './core/envelopes';

export {
  assertNever,
  defineAggregate,
  type AggregateDefinition,
  type AggregateRef,
  type DecideContext,
  type DecidedFact,
  type LookedUp,
  type MessageOf,
  type MessageSchemas,
  type ProcessStart,
  type StateOf,
  type Upcasters,
} from './core/aggregate';
export { defineProjection, type DocOf, type IndexEntry, type IndexFanOut, type ProjectionDefinition, type ProjectionReader, type SingleSourceProjection } from './core/projection';
export { defineModule, defineQuery, maxPageSize, pageInput, type AggregateModule, type Caller, type CommandAccess, type ModuleAccess, type Page, type QueryAccess, type QueryDefinition, type ReadAccess, type ReadModelReader } from './core/module';
export { DomainError, engineCodes, errorKinds, isDomainError, type ErrorKind, type Rejection } from './core/errors';
export { UpcastError } from './core/upcasting';
export { cents, decimalAmount, fromCents, toCents, type Cents } from './core/money';
export { boundedId } from './core/ids';
