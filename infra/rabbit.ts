import { Connection, type Publisher } from 'rabbitmq-client';
import type { Config } from '../core/config';
import type { Logger } from './logger';

export interface EventTopology {
  exchange: string;
  stream: string;
  /** RabbitMQ's x-max-age, e.g. 7D; undefined keeps every event. */
  retention?: string;
}

export const topologyOf = (config: Config): EventTopology => ({
  exchange: config.EVENTS_EXCHANGE,
  stream: config.EVENTS_STREAM,
  retention: config.EVENTS_RETENTION,
});

/**
 * Named `ledgerflow-<role> (<exchange>)`, so the RabbitMQ console tells stacks and roles apart.
 * The client reconnects by itself; its errors are logged, never left to crash the process.
 */
export function connectRabbit(config: Pick<Config, 'RABBITMQ_URL' | 'EVENTS_EXCHANGE'>, role: string, log?: Logger): Connection {
  const rabbit = new Connection({ url: config.RABBITMQ_URL, connectionName: `ledgerflow-${role} (${config.EVENTS_EXCHANGE})`, retryLow: 250, retryHigh: 5000 });
  rabbit.on('error', (err) => log?.warn({ err }, 'rabbitmq connection error; reconnecting'));
  return rabbit;
}

/** Topic exchange bound with '#' to an append-only stream queue: the replayable event log. */
export function declarations(topology: EventTopology) {
  return {
    exchanges: [{ exchange: topology.exchange, type: 'topic' as const, durable: true }],
    queues: [
      {
        queue: topology.stream,
        durable: true,
        arguments: { 'x-queue-type': 'stream' as const, ...(topology.retention ? { 'x-max-age': topology.retention } : {}) },
      },
    ],
    queueBindings: [{ exchange: topology.exchange, queue: topology.stream, routingKey: '#' }],
  };
}

export async function declareTopology(rabbit: Connection, topology: EventTopology): Promise<void> {
  const { exchanges, queues, queueBindings } = declarations(topology);
  for (const exchange of exchanges) await rabbit.exchangeDeclare(exchange);
  for (const queue of queues) await rabbit.queueDeclare(queue);
  for (const binding of queueBindings) await rabbit.queueBind(binding);
}

/** A confirming publisher that (re)declares the topology whenever its channel is reset. */
export function createEventPublisher(rabbit: Connection, topology: EventTopology): Publisher {
  return rabbit.createPublisher({ confirm: true, maxAttempts: 1, ...declarations(topology) });
}
