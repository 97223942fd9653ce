/**
 * `ledgerflow setup`: makes an existing Temporal namespace, RabbitMQ vhost and Redis ready for
 * Ledgerflow, and says exactly what it changed. Safe to run again: a second run changes nothing.
 *
 *   Temporal   the search attributes the workflows set (a workflow task that sets an unknown one
 *              fails, so every aggregate's first command would wait forever)
 *   RabbitMQ   the topic exchange, the stream queue with its retention, the '#' binding
 *   Redis      nothing to create: checks that it answers and runs Lua (every projection commit is a script)
 *
 * It never deletes or retypes anything: what it cannot fix (an attribute registered with
 * another type, a queue of the stream's name that is not a stream, a missing namespace) makes
 * the report not ok, with what to do about it.
 */
import { Connection as TemporalConnection } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import type { Connection as RabbitConnection } from 'rabbitmq-client';
import type { Config } from '../../core/config';
import { searchAttributeKeys } from '../../workflows/definitions';
import type { Logger } from '../logger';
import { connectRabbit, declarations, topologyOf, type EventTopology } from '../rabbit';
import { closeRedis, createRedis } from '../redis';
import { cliSearchAttributeType } from '../temporal-dev-server';
import { sleep, within } from '../deadline';

export interface SetupReport {
  /** What was found in order, one line each. */
  checked: string[];
  /** What this run changed (with `dryRun`: what it would change). Empty when the cluster was ready. */
  changed: string[];
  /** The cluster is ready for Ledgerflow after this run (with `dryRun`: is ready now). */
  ok: boolean;
}

/** How long setup waits for a service to answer, and for a registered attribute to show. */
const answerMs = 10_000;
const visibleMs = 60_000;

/** temporal.api.enums.v1.IndexedValueType by the SDK's type names. */
const indexedValueType: Record<SearchAttributeType, number> = { TEXT: 1, KEYWORD: 2, INT: 3, DOUBLE: 4, BOOL: 5, DATETIME: 6, KEYWORD_LIST: 7 };
const typeName = (indexed: number) => Object.entries(indexedValueType).find(([, n]) => n === indexed)?.[0] ?? `type ${indexed}`;
type Key = (typeof searchAttributeKeys)[number];
const cliType = (key: Key) => cliSearchAttributeType[key.type];

class SetupProblem extends Error {
  override readonly name = 'SetupProblem';
}

/** A service's call that must answer within `ms`, or a SetupProblem naming it. */
const answerWithin = <T>(ms: number, what: string, work: Promise<T>): Promise<T> =>
  within(ms, work, () => new SetupProblem(`${what} did not answer within ${ms / 1000}s`));

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Missing or mistyped search attributes of a namespace, from the operator service. */
export interface SearchAttributeGaps {
  missing: Key[];
  /** Registered with another type: setup cannot change that (Temporal cannot retype an attribute). */
  mistyped: { key: Key; actual: string }[];
}

type OperatorService = TemporalConnection['operatorService'];

export async function searchAttributeGaps(operator: Pick<OperatorService, 'listSearchAttributes'>, namespace: string): Promise<SearchAttributeGaps> {
  const { customAttributes, systemAttributes } = await operator.listSearchAttributes({ namespace });
  const registered = { ...systemAttributes, ...customAttributes } as Record<string, number>;
  const gaps: SearchAttributeGaps = { missing: [], mistyped: [] };
  for (const key of searchAttributeKeys) {
    const actual = registered[key.name];
    if (actual === undefined) gaps.missing.push(key);
    else if (actual !== indexedValueType[key.type]) gaps.mistyped.push({ key, actual: typeName(actual) });
  }
  return gaps;
}

/** What the worker says when the namespace is not ready: what is missing and the command that fixes it. */
export function describeGaps(gaps: SearchAttributeGaps, config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'>): string | null {
  if (gaps.missing.length === 0 && gaps.mistyped.length === 0) return null;
  const where = `Temporal namespace '${config.TEMPORAL_NAMESPACE}' at ${config.TEMPORAL_ADDRESS}`;
  const lines: string[] = [];
  if (gaps.missing.length > 0) {
    lines.push(
      `${where} lacks the search attributes Ledgerflow's workflows set: ${gaps.missing.map((k) => `${k.name} (${cliType(k)})`).join(', ')}.`,
      `Register them with:  ledgerflow setup   (npm run ledgerflow -- setup; it also checks RabbitMQ and Redis)`,
      `or with the Temporal CLI:  temporal operator search-attribute create --namespace ${config.TEMPORAL_NAMESPACE} ${gaps.missing.map((k) => `--name ${k.name} --type ${cliType(k)}`).join(' ')}`,
    );
  }
  for (const { key, actual } of gaps.mistyped) {
    lines.push(`${where} has the search attribute ${key.name} as ${actual}; Ledgerflow needs ${key.type}. Temporal cannot retype it: use another namespace.`);
  }
  return lines.join('\n');
}

/** The namespace lacks what the workflows need; the message names it and the command that fixes it. */
export class ClusterNotReadyError extends Error {
  override readonly name = 'ClusterNotReadyError';
}

/** gRPC PERMISSION_DENIED and UNIMPLEMENTED: a server (or Temporal Cloud key) that does not let us list them. */
const unlistable = new Set([7, 12]);

/**
 * What the worker runs before it starts: throws ClusterNotReadyError when a search attribute is
 * missing or mistyped. Where listing them is not allowed, it warns and lets the worker start.
 */
export async function assertSearchAttributes(
  operator: Pick<OperatorService, 'listSearchAttributes'>,
  config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'>,
  log?: Logger,
): Promise<void> {
  let gaps: SearchAttributeGaps;
  try {
    gaps = await searchAttributeGaps(operator, config.TEMPORAL_NAMESPACE);
  } catch (error) {
    if (!unlistable.has((error as { code?: number }).code ?? -1)) throw error;
    log?.warn({ err: error }, 'cannot list the namespace\'s search attributes: starting without checking them (`ledgerflow setup --dry-run` checks them with more rights)');
    return;
  }
  const problem = describeGaps(gaps, config);
  if (problem) throw new ClusterNotReadyError(problem);
}

/**
 * Checks, and unless `dryRun` registers or declares, what Ledgerflow needs on the configured
 * Temporal, RabbitMQ and Redis. Never throws for a service that is away: its check fails and
 * the report is not ok.
 */
export async function setupCluster(config: Config, options: { dryRun?: boolean; log?: Logger } = {}): Promise<SetupReport> {
  const report: SetupReport = { checked: [], changed: [], ok: true };
  const step = async (service: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      report.ok = false;
      report.checked.push(`${service}: ${message(error)}`);
      options.log?.error({ err: error }, `${service} setup failed`);
    }
  };
  await step('Temporal', () => setupTemporal(config, report, options));
  await step('RabbitMQ', () => setupRabbit(config, report, options));
  await step('Redis', () => checkRedis(config, report));
  if (options.dryRun && report.changed.length > 0) report.ok = false;
  for (const line of report.changed) options.log?.info(line);
  return report;
}

async function setupTemporal(config: Config, report: SetupReport, { dryRun, log }: { dryRun?: boolean; log?: Logger }) {
  const namespace = config.TEMPORAL_NAMESPACE;
  const connection = await answerWithin(answerMs, `Temporal at ${config.TEMPORAL_ADDRESS}`, TemporalConnection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: answerMs }));
  try {
    try {
      await answerWithin(answerMs, `Temporal at ${config.TEMPORAL_ADDRESS}`, connection.workflowService.describeNamespace({ namespace }));
    } catch (error) {
      throw new SetupProblem(`namespace '${namespace}' not found at ${config.TEMPORAL_ADDRESS} (${message(error)}); create it first: temporal operator namespace create --namespace ${namespace} --retention 30d`);
    }
    report.checked.push(`Temporal namespace '${namespace}' at ${config.TEMPORAL_ADDRESS}`);

    const gaps = await answerWithin(answerMs, 'listing search attributes', searchAttributeGaps(connection.operatorService, namespace));
    const missing = new Set(gaps.missing.map((k) => k.name));
    for (const key of searchAttributeKeys) {
      if (!missing.has(key.name) && !gaps.mistyped.some((m) => m.key.name === key.name)) report.checked.push(`Temporal search attribute ${key.name} (${cliType(key)}) is registered`);
    }
    for (const { key, actual } of gaps.mistyped) {
      report.ok = false;
      report.checked.push(`Temporal search attribute ${key.name} is registered as ${actual}, not ${key.type}: Temporal cannot retype it; use another namespace`);
    }
    if (gaps.missing.length === 0) return;
    const names = gaps.missing.map((k) => `${k.name} (${cliType(k)})`);
    if (dryRun) {
      report.changed.push(...names.map((n) => `would register Temporal search attribute ${n} in namespace '${namespace}'`));
      return;
    }
    log?.info({ searchAttributes: names, namespace }, 'registering search attributes');
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(gaps.missing.map((k) => [k.name, indexedValueType[k.type]])),
    });
    // Visible to the operator service before we say so (SQL visibility registers them in a background task).
    const deadline = Date.now() + visibleMs;
    for (;;) {
      const after = await searchAttributeGaps(connection.operatorService, namespace);
      if (after.missing.length === 0) break;
      if (Date.now() > deadline) throw new SetupProblem(`registered ${names.join(', ')} but ${after.missing.map((k) => k.name).join(', ')} still missing after ${visibleMs / 1000}s`);
      await sleep(250);
    }
    report.changed.push(...names.map((n) => `registered Temporal search attribute ${n} in namespace '${namespace}'`));
  } finally {
    await connection.close();
  }
}

/** True when the entity exists; a passive declare of a missing one is refused with 404 (NOT_FOUND). */
async function exists(declare: () => Promise<unknown>): Promise<boolean> {
  try {
    await declare();
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'NOT_FOUND') return false;
    throw error;
  }
}

async function setupRabbit(config: Config, report: SetupReport, { dryRun, log }: { dryRun?: boolean; log?: Logger }) {
  const topology = topologyOf(config);
  const where = new URL(config.RABBITMQ_URL).host;
  const api = managementApi(config);
  const rabbit = connectRabbit(config, 'setup', log);
  try {
    await answerWithin(answerMs, `RabbitMQ at ${where}`, rabbit.onConnect(answerMs, true));
    await setupExchange(rabbit, topology, report, dryRun);
    const stream = await setupStream(rabbit, api, topology, report, dryRun);
    if (stream !== 'created') await setupRetention(api, stream, topology, report, dryRun);
    await setupBinding(rabbit, api, topology, report, { dryRun, created: stream === 'created' });
  } finally {
    await rabbit.close();
  }
}

async function setupExchange(rabbit: RabbitConnection, topology: EventTopology, report: SetupReport, dryRun?: boolean) {
  const [exchange] = declarations(topology).exchanges;
  if (await exists(() => rabbit.exchangeDeclare({ exchange: exchange!.exchange, passive: true }))) {
    // Declaring it as we would checks its type and durability (PRECONDITION_FAILED otherwise).
    await rabbit.exchangeDeclare(exchange!).catch((error: unknown) => {
      throw new SetupProblem(`exchange ${topology.exchange} exists but is not a durable topic exchange (${message(error)}): delete it or configure another EVENTS_EXCHANGE`);
    });
    report.checked.push(`RabbitMQ exchange ${topology.exchange} (topic, durable) exists`);
  } else if (dryRun) {
    report.changed.push(`would declare RabbitMQ exchange ${topology.exchange} (topic, durable)`);
  } else {
    await rabbit.exchangeDeclare(exchange!);
    report.changed.push(`declared RabbitMQ exchange ${topology.exchange} (topic, durable)`);
  }
}

interface QueueInfo {
  type?: string;
  durable?: boolean;
  arguments?: Record<string, unknown>;
  effective_policy_definition?: Record<string, unknown>;
}

/**
 * 'created' when this run declared (or would declare) the stream; otherwise what the management
 * API says of the existing one, or null when it did not answer.
 */
async function setupStream(rabbit: RabbitConnection, api: ManagementApi, topology: EventTopology, report: SetupReport, dryRun?: boolean): Promise<'created' | QueueInfo | null> {
  const [queue] = declarations(topology).queues;
  if (await exists(() => rabbit.queueDeclare({ queue: queue!.queue, passive: true }))) {
    const info = await api.call<QueueInfo>('GET', `queues/{vhost}/${encodeURIComponent(topology.stream)}`).catch(() => null);
    if (info) {
      if (info.type !== 'stream' || info.durable === false) throw new SetupProblem(`queue ${topology.stream} exists but is a ${info.durable === false ? 'transient ' : ''}${info.type} queue, not a durable stream: configure another EVENTS_STREAM`);
    } else {
      // Without the management API: declaring it as we would fails if it is not a stream (or has another retention).
      await rabbit.queueDeclare(queue!).catch((error: unknown) => {
        throw new SetupProblem(`queue ${topology.stream} exists with other arguments than a stream ${topology.retention ? `with retention ${topology.retention}` : 'keeping every event'} (${message(error)}); the management API at ${api.base} would say which`);
      });
    }
    report.checked.push(`RabbitMQ stream ${topology.stream} exists`);
    return info;
  }
  const retention = topology.retention ? `retention ${topology.retention}` : 'every event kept';
  if (dryRun) report.changed.push(`would declare RabbitMQ stream ${topology.stream} (${retention})`);
  else {
    await rabbit.queueDeclare(queue!);
    report.changed.push(`declared RabbitMQ stream ${topology.stream} (${retention})`);
  }
  return 'created';
}

/** The management API (port 15672 on the broker's host, same credentials), for what AMQP cannot read. */
function managementApi(config: Config) {
  const amqp = new URL(config.RABBITMQ_URL);
  const base = (config.RABBITMQ_MANAGEMENT_URL ?? `http://${amqp.hostname}:15672`).replace(/\/$/, '');
  const vhost = encodeURIComponent(decodeURIComponent(amqp.pathname.slice(1)) || '/');
  const authorization = `Basic ${Buffer.from(`${decodeURIComponent(amqp.username || 'guest')}:${decodeURIComponent(amqp.password || 'guest')}`).toString('base64')}`;
  /** null for 404; throws when the API does not answer or refuses. */
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T | null> => {
    const response = await fetch(`${base}/api/${path.replace('{vhost}', vhost)}`, {
      method,
      headers: { authorization, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(answerMs),
    });
    if (response.status === 404) return null;
    if (!response.ok) throw new SetupProblem(`RabbitMQ management API ${method} ${path}: ${response.status} ${await response.text()}`);
    return response.status === 204 || response.status === 201 ? ({} as T) : ((await response.json()) as T);
  };
  return { base, call };
}
type ManagementApi = ReturnType<typeof managementApi>;

const retentionPolicy = (topology: EventTopology) => `ledgerflow-retention.${topology.stream}`;
const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A stream's arguments are fixed when it is declared; a retention configured later is applied
 * with a policy (`max-age`), which RabbitMQ applies to a running stream.
 */
async function setupRetention(api: ManagementApi, queue: QueueInfo | null, topology: EventTopology, report: SetupReport, dryRun?: boolean) {
  if (!queue) {
    report.checked.push(`RabbitMQ stream ${topology.stream}: retention not verified, the management API at ${api.base} did not answer`);
    return;
  }
  const wanted = topology.retention;
  const policyPath = `policies/{vhost}/${encodeURIComponent(retentionPolicy(topology))}`;
  // Ours first: the queue's effective policy shows in the management API only with its next stats (seconds).
  const ours = await api.call<{ definition?: Record<string, unknown> }>('GET', policyPath);
  if (wanted && ours?.definition?.['max-age'] === wanted) {
    report.checked.push(`RabbitMQ stream ${topology.stream} retention: ${wanted} (policy ${retentionPolicy(topology)})`);
    return;
  }
  const effective = (info: QueueInfo | null) => {
    const policy = info?.effective_policy_definition?.['max-age'];
    return (typeof policy === 'string' ? policy : undefined) ?? (info?.arguments?.['x-max-age'] as string | undefined);
  };
  const current = effective(queue);
  if ((current ?? null) === (wanted ?? null)) {
    report.checked.push(`RabbitMQ stream ${topology.stream} retention: ${wanted ?? 'every event kept'}`);
    return;
  }
  if (!wanted) {
    // Shortening or lifting retention is the operator's call: we do not remove a policy we did not write.
    report.checked.push(`RabbitMQ stream ${topology.stream} retention is ${current} although EVENTS_RETENTION is unset: left as it is`);
    return;
  }
  const change = `RabbitMQ stream ${topology.stream} retention ${current ?? 'unlimited'} → ${wanted} (policy ${retentionPolicy(topology)})`;
  if (dryRun) return void report.changed.push(`would set ${change}`);
  await api.call('PUT', policyPath, { pattern: `^${escapeRegex(topology.stream)}$`, definition: { 'max-age': wanted }, 'apply-to': 'queues', priority: 10 });
  report.changed.push(`set ${change}`);
  // Applied when the stream reports it (a policy of higher priority would win over ours).
  const deadline = Date.now() + visibleMs;
  for (;;) {
    const now = effective(await api.call<QueueInfo>('GET', `queues/{vhost}/${encodeURIComponent(topology.stream)}`));
    if (now === wanted) return;
    if (Date.now() > deadline) throw new SetupProblem(`set policy ${retentionPolicy(topology)} but stream ${topology.stream} reports retention ${now ?? 'unlimited'} after ${visibleMs / 1000}s: does a policy of higher priority match it?`);
    await sleep(500);
  }
}

async function setupBinding(rabbit: RabbitConnection, api: ManagementApi, topology: EventTopology, report: SetupReport, { dryRun, created }: { dryRun?: boolean; created: boolean }) {
  const [binding] = declarations(topology).queueBindings;
  const what = `RabbitMQ binding ${topology.exchange} → ${topology.stream} ('#')`;
  // Whether it is there: certainly not beside a new stream; otherwise the management API says (null: it did not answer).
  const bound = created
    ? false
    : await api
        .call<{ routing_key: string }[]>('GET', `bindings/{vhost}/e/${encodeURIComponent(topology.exchange)}/q/${encodeURIComponent(topology.stream)}`)
        .then((list) => (list ?? []).some((b) => b.routing_key === '#'), () => null);
  if (bound) return void report.checked.push(`${what} exists`);
  if (dryRun) return void report.changed.push(bound === null ? `would ensure ${what} (not readable without the management API)` : `would bind ${what}`);
  await rabbit.queueBind(binding!);
  if (bound === null) report.checked.push(`${what} ensured (the management API did not answer, so whether it existed is unknown)`);
  else report.changed.push(`bound ${what}`);
}

async function checkRedis(config: Config, report: SetupReport) {
  const where = new URL(config.REDIS_URL).host;
  const redis = createRedis(config.REDIS_URL, 'ledgerflow-setup', undefined, { failFast: true });
  try {
    await answerWithin(answerMs, `Redis at ${where}`, redis.connect());
    const lua = await answerWithin(answerMs, `Redis at ${where}`, redis.eval('return 1'));
    if (Number(lua) !== 1) throw new SetupProblem(`Redis at ${where} does not run Lua scripts; every projection commit is one`);
    report.checked.push(`Redis at ${where} answers and runs Lua (nothing to create: projections create their keys under '${config.REDIS_PREFIX}:')`);
    // Managed Redis may refuse CONFIG: then there is nothing more to say.
    const policy = await redis.configGet('maxmemory-policy').catch(() => null);
    const evicts = policy?.['maxmemory-policy'];
    if (evicts && evicts !== 'noeviction') {
      report.checked.push(`Redis maxmemory-policy is ${evicts}: evicted read models are rebuilt from the log, but an evicted lease or checkpoint costs a rebuild (noeviction recommended)`);
    }
  } finally {
    await closeRedis(redis, 1000);
  }
}
