/**
 * The `ledgerflow` package: what an app imports. The API's types and a typed client (also at
 * `ledgerflow/client`, which carries no zod), and the definitions to write a domain with.
 * Nothing here loads Temporal, RabbitMQ or Redis code.
 */
export type { AppRouter, CartReadModel, CommandOptions, CommandResult, CustomerReadModel, DecidedEvent, HealthReport, InventoryReadModel, OrderSummary, WaitMode } from './api';
export { createLedgerflowClient, type EventSourceClass, type LedgerflowClient, type LedgerflowClientOptions, type TokenSource } from './client';

export {
  assertNever,
  defineAggregate,
  type AggregateDefinition,
  type AggregateRef,
  type DecideContext,
  type LookedUp,
  type MessageOf,
  type MessageSchemas,
  type ProcessStart,
  type StateOf,
  type Upcasters,
} from './core/aggregate';
export { defineEvolver, type AggregateEvolver } from './core/evolver';
export { defineProjection, type DocOf, type IndexEntry, type ProjectionDefinition, type ProjectionReader, type SingleSourceProjection } from './core/projection';
export { defineModule, defineQuery, defineRegistry, type AggregateModule, type QueryDefinition, type ReadModelReader } from './core/module';
export { DomainError, engineCodes, errorKinds, isDomainError, type ErrorKind, type Rejection } from './core/errors';
export { UpcastError } from './core/upcasting';
export { cents, decimalAmount, fromCents, toCents, type Cents } from './core/money';
