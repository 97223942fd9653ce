/**
 * `ledgerflow/server`: the processes that run an app's domain, as functions an app composes
 * (the `ledgerflow` CLI runs the same): the aggregate worker, the projector, and the API as a
 * server, as a Fastify plugin for an app's own server, or as a tRPC router to merge into an app's own.
 */
export { createRouter, procedurePathsOf, type RouterOf } from './api/router';
export { startApiServer, type ApiServer, type ApiServerOptions } from './api/server';
export { ledgerflowFastify, type LedgerflowFastifyOptions } from './api/fastify';
export { createLedgerflowContext, type LedgerflowContext, type RequestIdentity } from './api/context';
export type { ApiContext } from './api/trpc';
export { createAggregateWorker, bundleOptionsOf, type AggregateWorker, type AggregateWorkerOptions } from './bin/worker';
export { startProjector, type Projector, type ProjectorOptions } from './projectors/runtime';
export { createReadModels, type ReadModels } from './projectors/store';
export { loadApp, defaultConfigFile, type LoadedApp } from './infra/app-loader';
/** Every projection an app runs, once each (its modules' and its own): what `startProjector` takes. */
export { projectionsOf } from './core/app';
export { loadConfig as loadSettings, type Config as Settings } from './core/config';
export { createLogger, type Logger } from './infra/logger';
export { connectRabbit, declareTopology, topologyOf } from './infra/rabbit';
export { createRedis, closeRedis, type Redis } from './infra/redis';
