/**
 * Publishing: the aggregate workflow's publish activity (`publishEvents`, as the worker builds it)
 * against rabbitmq-client's confirming publisher sending the same messages, at the same
 * concurrency, into an exchange and stream of the run's own. Rounds alternate (raw, activity,
 * activity, raw) so a drift in the machine's load falls on both.
 */
import { createPublishActivities } from '../activities';
import { messageOf } from '../activities/publish';
import type { EventEnvelope } from '../core/envelopes';
import { currentSchemaVersion } from '../core/upcasting';
import { cart } from '../examples/shop/domain';
import { connectRabbit, createEventPublisher, declareTopology, type EventTopology } from '../infra/rabbit';
import type { Cleanup } from './support/cleanup';
import { classifyTemporal } from './support/errors';
import { closedLoop, type LoadResult } from './support/load';
import { figuresOf, report, type ScenarioFigures } from './figures';
import type { Settings } from './settings';

export interface PublishFigures {
  activity: ScenarioFigures;
  raw: ScenarioFigures;
  batchSize: number;
  /** Events per second through the activity / through the raw publisher. */
  publishRatio: number | null;
}

const eventOf = (run: string, i: number): EventEnvelope => {
  const aggregateId = `${run}-${Math.floor(i / 10)}`;
  const version = (i % 10) + 1;
  return {
    eventId: `cart:${aggregateId}:${version}`,
    aggregateType: 'cart',
    aggregateId,
    version,
    type: 'ItemAddedToCart',
    schemaVersion: currentSchemaVersion(cart, 'ItemAddedToCart'),
    payload: { itemId: `i${version}`, quantity: 1, unitPriceCents: 50 },
    occurredAt: new Date().toISOString(),
    commandId: `${aggregateId}-${version}`,
    correlationId: `${aggregateId}-${version}`,
    causationId: `${aggregateId}-${version}`,
  } as EventEnvelope;
};

const merge = (a: LoadResult, b: LoadResult): LoadResult => ({
  ops: a.ops + b.ops,
  seconds: Math.round((a.seconds + b.seconds) * 100) / 100,
  perSecond: Math.round(((a.ops + b.ops) / (a.seconds + b.seconds)) * 10) / 10,
  latenciesMs: [...a.latenciesMs, ...b.latenciesMs],
  retries: a.retries + b.retries,
  errors: Object.fromEntries(Object.keys({ ...a.errors, ...b.errors }).map((code) => [code, (a.errors[code] ?? 0) + (b.errors[code] ?? 0)])),
  ...((a.firstError ?? b.firstError) ? { firstError: a.firstError ?? b.firstError } : {}),
});

export async function measurePublish(settings: Settings, run: string, rabbitUrl: string, cleanup: Cleanup): Promise<PublishFigures> {
  const topology: EventTopology = { exchange: `ledgerflow.bench.${run}.publish`, stream: `ledgerflow.bench.${run}.publish.log` };
  const rabbit = connectRabbit({ RABBITMQ_URL: rabbitUrl, EVENTS_EXCHANGE: topology.exchange }, 'bench-publish');
  cleanup.defer('publish exchange, stream and connection', async () => {
    await rabbit.queueDelete({ queue: topology.stream }).catch(() => {});
    await rabbit.exchangeDelete({ exchange: topology.exchange }).catch(() => {});
    await rabbit.close();
  });
  await declareTopology(rabbit, topology);
  const eventPublisher = createEventPublisher(rabbit, topology);
  const raw = rabbit.createPublisher({ confirm: true });
  cleanup.defer('publishers', () => Promise.allSettled([eventPublisher.close(), raw.close()]));
  const { publishEvents } = createPublishActivities({ publisher: eventPublisher, exchange: topology.exchange });

  const batchSize = settings.BENCH_PUBLISH_BATCH;
  let sequence = 0;
  const batch = () => Array.from({ length: batchSize }, () => eventOf(run, sequence++));
  // The same message the activity sends: same routing key, id, properties and body.
  const sendRaw = (events: EventEnvelope[]) => Promise.all(events.map((event) => raw.send(messageOf(event, topology.exchange), event)));
  const round = (send: (events: EventEnvelope[]) => Promise<unknown>, seconds: number) =>
    closedLoop({
      seconds,
      concurrency: settings.BENCH_CONCURRENCY,
      op: async () => void (await send(batch())),
      classify: classifyTemporal,
    });

  // Warm-up of both paths (JIT, channels, the exchange's first routes), then ABBA ABBA rounds.
  await round(sendRaw, settings.BENCH_SECONDS / 4);
  await round(publishEvents, settings.BENCH_SECONDS / 4);
  const rounds: Record<'raw' | 'activity', LoadResult[]> = { raw: [], activity: [] };
  for (const which of ['raw', 'activity', 'activity', 'raw', 'raw', 'activity', 'activity', 'raw'] as const) {
    rounds[which].push(await round(which === 'raw' ? sendRaw : publishEvents, settings.BENCH_SECONDS / 4));
  }
  const perEvent = (f: ScenarioFigures): ScenarioFigures => ({ ...f, perSecond: Math.round(f.perSecond * batchSize * 10) / 10 });
  const concurrency = settings.BENCH_CONCURRENCY;
  const rawFigures = report('publish raw', perEvent(figuresOf(`rabbitmq-client publisher with confirms, ${batchSize} event(s) per call`, concurrency, rounds.raw.reduce(merge))));
  const activityFigures = report(
    'publish activity',
    perEvent(figuresOf(`publishEvents activity, ${batchSize} event(s) per call`, concurrency, rounds.activity.reduce(merge))),
  );
  return {
    activity: activityFigures,
    raw: rawFigures,
    batchSize,
    publishRatio: rawFigures.perSecond > 0 ? Math.round((activityFigures.perSecond / rawFigures.perSecond) * 100) / 100 : null,
  };
}
