/** The package's public surface for TypeScript apps: the router type and the shapes it returns. */
export type { AppRouter } from './router';
export type { CommandResult, CommandOptions, WaitMode } from './aggregate-router';
export type { HealthReport } from './health';
export type { CartReadModel, CustomerReadModel, InventoryReadModel, OrderSummary } from '../domain';
export type { DecidedEvent } from '../core/envelopes';
