/**
 * One command's trace, every hop: the tRPC call, Temporal's update-with-start, the workflow's
 * update handler, the publish activity, the message through RabbitMQ, and the projection batch
 * that applied it. The whole stack runs in this process with tracing into memory. And the
 * ledger's histories replay with and without the tracing interceptors, whichever way they were
 * recorded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { History } from '@temporalio/common/lib/proto-utils';
import { replayHistories } from '../../testing/replay';
import type { AsyncMessage } from 'rabbitmq-client';
import type { EventEnvelope } from '../../core/envelopes';
import { startTracing } from '../../infra/tracing-sdk';
import { loadLedger } from '../support/apps';
import { recordLedgerScenarios } from '../support/ledger-histories';
import { eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';
import { readStream } from '../support/stream';

const exporter = new InMemorySpanExporter();

const parentOf = (span: ReadableSpan) => span.parentSpanId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;
const traceOf = (span: ReadableSpan) => span.spanContext().traceId;

describe('tracing: one command from the tRPC call to the read model', { timeout: 180_000 }, () => {
  let stack: LedgerStack;
  /** Histories a worker without the tracing interceptors wrote (recorded before tracing is installed). */
  let untraced: Record<string, History>;
  before(async () => {
    const plain = await startLedgerStack({ api: false, projector: false });
    try {
      untraced = await recordLedgerScenarios(plain);
    } finally {
      await plain.stop();
    }
    assert.ok(startTracing('ledgerflow-test', { exporter }), 'tracing installed');
    stack = await startLedgerStack();
  });
  after(async () => {
    await stack?.stop();
  });

  /** The spans of one trace once `done` holds, by name. */
  async function traceWhere(traceId: string, done: (spans: ReadableSpan[]) => boolean) {
    return eventually(async () => {
      const spans = exporter.getFinishedSpans().filter((s) => traceOf(s) === traceId);
      return done(spans) ? spans : undefined;
    }, 30_000, `spans of trace ${traceId}`);
  }
  const one = (spans: ReadableSpan[], name: string) => {
    const found = spans.filter((s) => s.name === name);
    assert.equal(found.length, 1, `one span ${name} in ${spans.map((s) => s.name).join(', ')}`);
    return found[0]!;
  };

  it('follows a new aggregate’s first command through every hop', async () => {
    const accountId = uniqueId('trace');
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 2.5, wait: 'projected' });
    const published = await eventually(async () => spansFor(accountId)[0], 30_000, 'the publish span');
    const traceId = traceOf(published);
    const spans = await traceWhere(traceId, (all) => ['project accounts', 'StartActivity:publishEvents', 'RunActivity:publishEvents', 'trpc account.deposit'].every((name) => all.some((s) => s.name === name)));
    const api = one(spans, 'trpc account.deposit');

    assert.equal(api.kind, SpanKind.SERVER);
    const update = one(spans, 'UpdateWithStartWorkflow:submit');
    assert.equal(parentOf(update), idOf(api), 'Temporal update-with-start under the tRPC call');
    const handled = one(spans, 'HandleUpdate:submit');
    assert.equal(parentOf(handled), idOf(update), 'the workflow took the update in the same trace');
    const scheduled = spans.find((s) => s.name === 'StartActivity:publishEvents');
    assert.ok(scheduled, 'the workflow scheduled the publish activity in the trace that started it');
    const activity = one(spans, 'RunActivity:publishEvents');
    assert.equal(parentOf(activity), idOf(scheduled!), 'the publish activity under the workflow’s schedule');

    const publish = one(spans, 'publish account.Deposited');
    assert.equal(publish.kind, SpanKind.PRODUCER);
    assert.equal(parentOf(publish), idOf(api), 'the event is published in its command’s trace');
    assert.ok(publish.links.some((l) => l.context.spanId === idOf(activity)), 'linked to the activity that published it');
    assert.equal(publish.attributes['messaging.message.id'], `account:${accountId}:1`);

    const projected = one(spans, 'project accounts');
    assert.equal(parentOf(projected), idOf(publish), 'the projection continues from the message’s traceparent');
    const batch = exporter.getFinishedSpans().find((s) => s.name === 'project accounts batch' && projected.links.some((l) => l.context.spanId === idOf(s)));
    assert.ok(batch, 'the batch span that applied it');
    assert.ok(batch!.links.some((l) => l.context.spanId === idOf(publish)), 'the batch links every event it applied');

    // The message carried the producer span's context across RabbitMQ.
    const mine = (ms: AsyncMessage[]) => ms.filter((m) => (m.body as EventEnvelope).aggregateId === accountId);
    const [message] = mine(await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => mine(ms).length >= 1));
    assert.equal(message!.headers?.traceparent, `00-${traceId}-${idOf(publish)}-01`);
  });

  it('gives a later command of the same aggregate a trace of its own', async () => {
    const accountId = uniqueId('trace2');
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 2.5, wait: 'projected' });
    exporter.reset();
    await stack.trpc.account.withdraw.mutate({ accountId, entryId: 'b', amount: 1, wait: 'projected' });
    const api = await eventually(async () => exporter.getFinishedSpans().find((s) => s.name === 'trpc account.withdraw'), 30_000, 'the API span');
    const spans = await traceWhere(traceOf(api), (all) => all.some((s) => s.name === 'project accounts'));
    const update = one(spans, 'UpdateWithStartWorkflow:submit');
    assert.equal(parentOf(update), idOf(api));
    assert.equal(parentOf(one(spans, 'HandleUpdate:submit')), idOf(update));
    const publish = one(spans, 'publish account.Withdrawn');
    assert.equal(parentOf(publish), idOf(api));
    assert.equal(parentOf(one(spans, 'project accounts')), idOf(publish));
  });

  function spansFor(accountId: string) {
    return exporter.getFinishedSpans().filter((s) => s.attributes['messaging.message.id'] === `account:${accountId}:1`);
  }

  describe('replay with and without the tracing interceptors (the ledger’s histories, recorded here)', () => {
    // As an app checks a release (ledgerflow/testing/replay), one tracing mode at a time.
    const replay = async (histories: Record<string, History>, traced: boolean) =>
      (await replayHistories(await loadLedger(), histories, { tracing: traced ? 'on' : 'off' })).map((f) => `${f.history}: ${f.message}`);

    it('replays histories recorded untraced with the interceptors installed', async () => {
      assert.ok(Object.keys(untraced).length >= 5, `histories: ${Object.keys(untraced).join(', ')}`);
      assert.deepEqual(await replay(untraced, true), []);
    });

    it('replays histories recorded traced both with the interceptors and without them (tracing turned off)', async () => {
      const histories = await recordLedgerScenarios(stack);
      assert.deepEqual(await replay(histories, true), []);
      assert.deepEqual(await replay(histories, false), []);
    });
  });
});
