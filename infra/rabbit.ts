import { Connection, type Publisher } from 'rabbitmq-client';
import type { Config } from '../core/config';

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

export function connectRabbit(url: string, name: string): Connection {
  return new Connection({ url, connectionName: name, retryLow: 250, retryHigh: 5000 });
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
