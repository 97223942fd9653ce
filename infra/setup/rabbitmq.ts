/**
 * RabbitMQ: the topic exchange, the stream queue with its retention (a policy when the stream
 * exists already) and the '#' binding. What AMQP cannot read, the management API says.
 */
import type { Connection as RabbitConnection } from 'rabbitmq-client';
import type { Config } from '../../core/config';
import { sleep, within } from '../deadline';
import { connectRabbit, declarations, topologyOf, type EventTopology } from '../rabbit';
import { answerMs, noAnswer, message, SetupProblem, visibleMs, type SetupOptions, type SetupReport } from './report';

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

export async function setupRabbit(config: Config, report: SetupReport, { dryRun, log }: SetupOptions) {
  const topology = topologyOf(config);
  const where = new URL(config.RABBITMQ_URL).host;
  const api = managementApi(config);
  const rabbit = connectRabbit(config, 'setup', log);
  try {
    await within(answerMs, rabbit.onConnect(answerMs, true), noAnswer(`RabbitMQ at ${where}`));
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
