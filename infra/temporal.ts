/** Clients of a Temporal cluster (the dev server the CLI starts is in temporal-dev-server.ts). */
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { Config } from '../core/config';
import { tracingClientInterceptors } from './temporal-tracing';

export async function connectTemporal(config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'>): Promise<Client> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, interceptors: { workflow: tracingClientInterceptors() } });
}

/**
 * A client whose connection opens on first use, so a process that needs Temporal only for some
 * calls starts without it. A call retries an unreachable server for about a second (the SDK's
 * default is ten attempts over several), so a caller hears at once that Temporal is away.
 */
export function connectTemporalLazily(config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'>): Client {
  const connection = Connection.lazy({
    address: config.TEMPORAL_ADDRESS,
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 4 }))],
  });
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, interceptors: { workflow: tracingClientInterceptors() } });
}
