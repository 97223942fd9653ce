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
import type { Config } from '../../core/config';
import { setupRabbit } from './rabbitmq';
import { checkRedis } from './redis';
import { message, type SetupOptions, type SetupReport } from './report';
import { setupTemporal } from './temporal';

export type { SetupOptions, SetupReport } from './report';
export { assertSearchAttributes, ClusterNotReadyError, describeGaps, searchAttributeGaps, type SearchAttributeGaps } from './temporal';

/**
 * Checks, and unless `dryRun` registers or declares, what Ledgerflow needs on the configured
 * Temporal, RabbitMQ and Redis. Never throws for a service that is away: its check fails and
 * the report is not ok.
 */
export async function setupCluster(config: Config, options: SetupOptions = {}): Promise<SetupReport> {
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

