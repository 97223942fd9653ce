import type { AsyncMessage, Connection } from 'rabbitmq-client';

/** Reads the event log from its first offset until `done(messages)` holds (or times out). */
export async function readStream(
  rabbit: Connection,
  stream: string,
  done: (messages: AsyncMessage[]) => boolean,
  timeoutMs = 10_000,
): Promise<AsyncMessage[]> {
  const channel = await rabbit.acquire();
  const messages: AsyncMessage[] = [];
  try {
    await channel.basicQos({ prefetchCount: 1000 });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`condition not met by ${messages.length} messages on ${stream} after ${timeoutMs} ms`)), timeoutMs);
      channel
        .basicConsume({ queue: stream, arguments: { 'x-stream-offset': 'first' } }, (message) => {
          messages.push(message);
          channel.basicAck({ deliveryTag: message.deliveryTag });
          if (done(messages)) {
            clearTimeout(timer);
            resolve();
          }
        })
        .catch(reject);
    });
  } finally {
    await channel.close();
  }
  return messages;
}
