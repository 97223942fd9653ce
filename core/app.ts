/**
 * An app's whole domain in one value: `export default defineConfig({ modules, processes, activities })`
 * in its `ledgerflow.config.ts`. The worker, the projector, the API and the CLI are all built
 * from it; the engine never imports an app.
 */
import type { AnyAggregate } from './aggregate';
import type { AnyModule } from './module';
import type { AnyProjection } from './projection';

/** A process's workflow function: a Temporal workflow of its own (see `ledgerflow/workflow`). */
export type ProcessWorkflow = (...args: any[]) => Promise<unknown>;

/** What the engine hands an app's activity factory: clients made once per worker. */
export interface ActivityClients {
  /** The worker's logger (pino): `log.info({ ... }, 'message')`. */
  readonly log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /** The process's environment, for an app's own settings (a gateway's URL, a key). */
  readonly env: NodeJS.ProcessEnv;
}

/** Activities an app's processes call (a payment gateway, an email service): plain async functions. */
export type ActivityFunctions = Readonly<Record<string, (...args: any[]) => Promise<unknown>>>;

export interface AppConfig<M extends Readonly<Record<string, AnyModule>> = Readonly<Record<string, AnyModule>>> {
  /** Every aggregate the app runs, one module each, under its aggregate's name. */
  readonly modules: M;
  /** Process managers by workflow type: a process an aggregate starts names one of these. */
  readonly processes: Readonly<Record<string, ProcessWorkflow>>;
  /**
   * Builds the activities the processes call, from the clients the worker injects (the way
   * Temporal's samples build activities from a factory). Runs in the worker only: never in a workflow.
   */
  readonly activities: (clients: ActivityClients) => ActivityFunctions;
  /** Projections that belong to no module (cross-aggregate views an app reads with its own queries). */
  readonly projections: readonly AnyProjection[];
  /**
   * Modules the workflow bundle must not include: packages your activities import that do work
   * as they load (the config is bundled into Temporal's sandbox for your aggregates' `evolve`
   * and your processes; activities are never called there). Node's built-in modules are always left out.
   */
  readonly workflowBundle: { readonly ignoreModules: readonly string[] };
  /**
   * What `ledgerflow dev` runs beside the engine's processes, by name: commands run in the app's
   * folder (a stand-in for a third-party service, say). Plain strings: the config also loads in
   * the workflow sandbox, where `process` does not exist.
   */
  readonly dev: { readonly services: Readonly<Record<string, readonly [string, ...string[]]>> };
}

export interface AppConfigInput<M extends Readonly<Record<string, AnyModule>>> {
  modules: M;
  processes?: Readonly<Record<string, ProcessWorkflow>>;
  activities?: (clients: ActivityClients) => ActivityFunctions;
  projections?: readonly AnyProjection[];
  workflowBundle?: { ignoreModules?: readonly string[] };
  dev?: { services?: Readonly<Record<string, readonly [string, ...string[]]>> };
}

/** Thrown for a config that cannot run: the message names what to change. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Declares an app: the default export of its `ledgerflow.config.ts`. */
export function defineConfig<const M extends Readonly<Record<string, AnyModule>>>(input: AppConfigInput<M>): AppConfig<M> {
  for (const [name, module] of Object.entries(input.modules)) {
    if (module.aggregate.name !== name) throw new ConfigError(`module '${name}' holds aggregate '${module.aggregate.name}': register it under its own name`);
  }
  for (const [name, workflow] of Object.entries(input.processes ?? {})) {
    if (typeof workflow !== 'function') throw new ConfigError(`process '${name}' is not a workflow function`);
    if (name === 'aggregateWorkflow') throw new ConfigError(`process '${name}' takes the name of the engine's aggregate workflow: rename it`);
  }
  return {
    modules: input.modules,
    processes: input.processes ?? {},
    activities: input.activities ?? (() => ({})),
    projections: input.projections ?? [],
    workflowBundle: { ignoreModules: input.workflowBundle?.ignoreModules ?? [] },
    dev: { services: input.dev?.services ?? {} },
  };
}

export type AnyAppConfig = AppConfig<any>;

/** The modules of a config, by aggregate name. */
export type ModulesOf<C> = C extends AppConfig<infer M> ? M : never;

/** The app's aggregates by name: what the workflow folds and the decide activity runs. */
export function aggregatesOf<C extends AnyAppConfig>(config: C): { [K in keyof ModulesOf<C>]: ModulesOf<C>[K]['aggregate'] } {
  return Object.fromEntries(Object.entries(config.modules as Record<string, AnyModule>).map(([name, m]) => [name, m.aggregate])) as never;
}

/** Every projection the app runs, once each: its modules' and its own. */
export function projectionsOf(config: AnyAppConfig): readonly AnyProjection[] {
  const modules = Object.values(config.modules as Record<string, AnyModule>);
  return [...new Set([...modules.flatMap((m) => m.projections), ...config.projections])];
}

/** One aggregate of the app by name, or undefined. */
export function aggregateOf(config: AnyAppConfig, name: string): AnyAggregate | undefined {
  return Object.hasOwn(config.modules, name) ? (config.modules as Record<string, AnyModule>)[name]!.aggregate : undefined;
}
