import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import type { MessageSchemas, Upcasters } from '../../core/aggregate';
import type { EventEnvelope } from '../../core/envelopes';
import { defineProjection, handlerFor, readsFrom, type AnyProjection, type DocOf, type ProjectionSource } from '../../core/projection';
import { currentSchemaVersion } from '../../core/upcasting';
import { applyEntries, type ApplyOptions, type LogEntry } from '../../projectors/apply';
import { applyFanOut, type FanOutCommit } from '../../projectors/fan-out';
import { memoryView, type MemoryView } from './support/memory-view';

/** A source as an aggregate definition provides it: a name, event schemas, upcasters. */
const source = <const N extends string, E extends MessageSchemas>(name: N, events: E, upcasters: Upcasters<E> = {}): ProjectionSource<N, E> => ({
  name,
  events,
  upcasters,
});

const customer = source('customer', {
  CustomerRegistered: z.object({ name: z.string() }),
  CustomerRenamed: z.object({ name: z.string() }),
});
const order = source(
  'order',
  {
    // Schema 2 renamed `amount` to `total`.
    OrderCreated: z.object({ customerId: z.string(), total: z.number() }),
    OrderReassigned: z.object({ customerId: z.string() }),
    OrderDeleted: z.object({}),
    OrderNoted: z.object({ note: z.string() }),
  },
  { OrderCreated: { 1: ({ amount, ...rest }) => ({ ...rest, total: amount }) } },
);

interface CustomerDoc {
  kind: 'customer';
  name: string;
}
interface OrderSummary {
  kind: 'order';
  orderId: string;
  customerId: string;
  customerName: string | null;
  total: number;
}
type SummaryDoc = CustomerDoc | OrderSummary;

/** Handlers that fail on demand, so parking and retries can be shown. */
const failures = { renameThrows: 0 };

/** Order summaries with their customer's name, kept current from customer events (fan-out). */
const summaries = defineProjection<SummaryDoc, [typeof customer, typeof order]>({
  name: 'summaries',
  version: 1,
  sources: [customer, order],
  handlers: {
    'customer.CustomerRegistered': {
      documents: (event) => [`customer:${event.aggregateId}`],
      apply: (_doc, event) => ({ kind: 'customer', name: event.payload.name }),
    },
    'customer.CustomerRenamed': {
      // The customer's own document, and every order summary of theirs.
      documents: async (event, read) => [`customer:${event.aggregateId}`, ...(await read.ids('byCustomer', { key: event.aggregateId }))],
      apply(doc, event) {
        if (failures.renameThrows > 0) {
          failures.renameThrows -= 1;
          throw new Error('rename handler broken');
        }
        if (doc?.kind === 'order') return { ...doc, customerName: event.payload.name };
        return { kind: 'customer', name: event.payload.name };
      },
    },
    'order.OrderCreated': {
      async apply(_doc, event, read) {
        const owner = await read.get<CustomerDoc>(`customer:${event.payload.customerId}`);
        return { kind: 'order', orderId: event.aggregateId, customerId: event.payload.customerId, customerName: owner?.name ?? null, total: event.payload.total };
      },
    },
    'order.OrderReassigned': {
      async apply(doc, event, read) {
        if (doc?.kind !== 'order') return doc;
        const owner = await read.get<CustomerDoc>(`customer:${event.payload.customerId}`);
        return { ...doc, customerId: event.payload.customerId, customerName: owner?.name ?? null };
      },
    },
    'order.OrderDeleted': { apply: () => null },
    // OrderNoted has no handler: it changes nothing, but the order's version moves on.
  },
  indexes: {
    byCustomer: (doc) => (doc.kind === 'order' ? { key: doc.customerId, score: doc.total } : null),
    byTotal: (doc) => (doc.kind === 'order' ? doc.total : null),
  },
});

let offset = 0;
const sources: readonly ProjectionSource[] = [customer, order];
/** A log entry as the stream delivers it, at the source's current schema unless told otherwise. */
function logged(aggregateType: string, aggregateId: string, version: number, type: string, payload: Record<string, unknown>, schemaVersion?: number): LogEntry {
  const of = sources.find((s) => s.name === aggregateType);
  const body: EventEnvelope = {
    eventId: `${aggregateType}:${aggregateId}:${version}`,
    aggregateType,
    aggregateId,
    version,
    type,
    schemaVersion: schemaVersion ?? (of ? currentSchemaVersion(of, type) : 1),
    payload,
    occurredAt: '2026-01-01T00:00:00.000Z',
    commandId: `c${offset}`,
    correlationId: 'corr',
    causationId: `c${offset}`,
  };
  return { offset: offset++, body };
}
const registered = (id: string, version: number, name: string) => logged('customer', id, version, 'CustomerRegistered', { name });
const renamed = (id: string, version: number, name: string) => logged('customer', id, version, 'CustomerRenamed', { name });
const created = (id: string, version: number, customerId: string, total: number) => logged('order', id, version, 'OrderCreated', { customerId, total });

const fast: ApplyOptions = { retryDelayMs: () => 0, now: () => '2026-01-01T00:00:00.000Z' };

/** Applies entries to the view and commits the batch to it, as the runtime does. */
async function applyAndCommit(projection: AnyProjection, view: MemoryView, entries: LogEntry[], options: ApplyOptions = {}) {
  const result = await applyEntries(projection, entries, view, { ...fast, ...options });
  view.commit(result.batch, options.unblocked ? { count: 0, unblock: [...options.unblocked] } : undefined);
  return result;
}

describe('applying a batch (pure, over an in-memory view)', () => {
  it('applies events in log order and records each aggregate’s version', async () => {
    const view = memoryView();
    const { counters, batch } = await applyAndCommit(summaries, view, [
      registered('c1', 1, 'Ada'),
      created('o1', 1, 'c1', 10),
      renamed('c1', 2, 'Ada L.'),
    ]);
    assert.deepEqual(counters, { applied: 3, duplicatesSkipped: 0, gaps: 0, parked: 0 });
    assert.deepEqual(Object.fromEntries(batch.versions), { 'customer:c1': 2, 'order:o1': 1 });
    assert.deepEqual(view.document('o1'), { kind: 'order', orderId: 'o1', customerId: 'c1', customerName: 'Ada L.', total: 10 });
    assert.deepEqual(view.document('customer:c1'), { kind: 'customer', name: 'Ada L.' });
  });

  it('skips duplicates by version, stored or within the batch', async () => {
    const view = memoryView();
    await applyAndCommit(summaries, view, [registered('c1', 1, 'Ada'), renamed('c1', 2, 'Bea')]);
    const { counters, batch } = await applyAndCommit(summaries, view, [renamed('c1', 2, 'stale'), renamed('c1', 3, 'Cy'), renamed('c1', 3, 'Cy again')]);
    assert.deepEqual(counters, { applied: 1, duplicatesSkipped: 2, gaps: 0, parked: 0 });
    assert.deepEqual(Object.fromEntries(batch.versions), { 'customer:c1': 3 });
    assert.deepEqual(view.document('customer:c1'), { kind: 'customer', name: 'Cy' });
  });

  it('parks a gap instead of skipping it: the aggregate waits, the gap is recorded, a re-drive applies it once the missing versions came', async () => {
    const view = memoryView();
    await applyAndCommit(summaries, view, [registered('c1', 1, 'Ada')]);
    const gaps: unknown[] = [];
    const first = await applyAndCommit(summaries, view, [renamed('c1', 3, 'Too early'), registered('c2', 1, 'Bob'), renamed('c1', 4, 'Later')], {
      onGap: (...gap) => gaps.push(gap),
    });
    assert.deepEqual(first.counters, { applied: 1, duplicatesSkipped: 0, gaps: 1, parked: 2 });
    assert.deepEqual(gaps, [['customer:c1', 2, 3]]);
    assert.equal(first.filled, false);
    assert.deepEqual(first.batch.parked.map((p) => [p.aggregate, p.version, p.gap ?? null]), [
      ['customer:c1', 3, { expected: 2, got: 3, offset: first.batch.parked[0]!.offset }],
      ['customer:c1', 4, null],
    ]);
    assert.match(first.batch.parked[0]!.error, /gap: versions 2\.\.2 of customer:c1 are not in the log/);
    assert.equal(view.gapsMap.get('customer:c1')?.got, 3);
    assert.equal(view.versionsMap.get('customer:c1'), 1, 'nothing applied past the gap');
    assert.deepEqual(view.document('customer:c1'), { kind: 'customer', name: 'Ada' });

    // The missing version arrives (republished): parked behind the gap, and it asks for a re-drive.
    const fill = await applyAndCommit(summaries, view, [renamed('c1', 2, 'Bea')]);
    assert.equal(fill.filled, true);
    assert.equal(view.parked.length, 3);
    // The re-drive applies them in version order and lifts the block and the gap.
    const redrive = [...view.parked].sort((a, b) => a.version! - b.version!).map((p) => ({ offset: p.offset, body: p.event }));
    const result = await applyEntries(summaries, redrive, view, { ...fast, unblocked: new Set(['customer:c1']) });
    view.commit(result.batch, { count: redrive.length, unblock: ['customer:c1'] });
    assert.deepEqual(result.counters, { applied: 3, duplicatesSkipped: 0, gaps: 0, parked: 0 });
    assert.deepEqual(view.document('customer:c1'), { kind: 'customer', name: 'Later' });
    assert.equal(view.gapsMap.size, 0);
    assert.equal(view.blockedSet.size, 0);
  });

  it('parks the first event of an aggregate whose history starts after version 1 (a trimmed log)', async () => {
    const view = memoryView();
    const { counters, batch } = await applyAndCommit(summaries, view, [renamed('c9', 7, 'Late'), renamed('c9', 8, 'Later')]);
    assert.deepEqual(counters, { applied: 0, duplicatesSkipped: 0, gaps: 1, parked: 2 });
    assert.deepEqual(batch.parked[0]!.gap, { expected: 1, got: 7, offset: batch.parked[0]!.offset });
    assert.equal(view.document('customer:c9'), null);
  });

  it('retries a throwing handler, and applies the event if a retry succeeds', async () => {
    const view = memoryView();
    failures.renameThrows = 2;
    const { counters } = await applyAndCommit(summaries, view, [registered('c1', 1, 'Ada'), renamed('c1', 2, 'Bea')]);
    assert.equal(failures.renameThrows, 0);
    assert.deepEqual(counters, { applied: 2, duplicatesSkipped: 0, gaps: 0, parked: 0 });
    assert.deepEqual(view.document('customer:c1'), { kind: 'customer', name: 'Bea' });
  });

  it('parks a handler that keeps throwing, parks its aggregate’s later events behind it, and lets other aggregates flow', async () => {
    const view = memoryView();
    await applyAndCommit(summaries, view, [registered('c1', 1, 'Ada'), created('o1', 1, 'c1', 10)]);
    failures.renameThrows = 3;
    const { counters, batch } = await applyAndCommit(summaries, view, [
      renamed('c1', 2, 'Bea'),
      renamed('c1', 3, 'Cy'),
      registered('c2', 1, 'Bob'),
      created('o2', 1, 'c2', 5),
    ]);
    assert.deepEqual(counters, { applied: 2, duplicatesSkipped: 0, gaps: 0, parked: 2 });
    assert.deepEqual(
      batch.parked.map((p) => [p.aggregate, p.version, p.attempts]),
      [['customer:c1', 2, 3], ['customer:c1', 3, 0]],
    );
    assert.match(batch.parked[0]!.error, /rename handler broken/);
    assert.match(batch.parked[1]!.error, /waiting behind an earlier parked event of customer:c1/);
    assert.deepEqual(batch.blocked, ['customer:c1']);
    // Nothing of the failed event stayed behind: neither the customer nor its fanned-out order.
    assert.equal((view.document('customer:c1') as CustomerDoc).name, 'Ada');
    assert.equal((view.document('o1') as OrderSummary).customerName, 'Ada');
    assert.equal((view.document('o2') as OrderSummary).customerName, 'Bob');

    // A later batch still parks behind the block; a re-drive (the block lifted) applies both in order.
    const later = await applyAndCommit(summaries, view, [renamed('c1', 4, 'Di')]);
    assert.equal(later.counters.parked, 1);
    const redrive = view.parked.map((p) => ({ offset: p.offset, body: p.event }));
    const result = await applyEntries(summaries, redrive, view, { ...fast, unblocked: new Set(['customer:c1']) });
    view.commit(result.batch, { count: redrive.length, unblock: ['customer:c1'] });
    assert.deepEqual(result.counters, { applied: 3, duplicatesSkipped: 0, gaps: 0, parked: 0 });
    assert.equal((view.document('o1') as OrderSummary).customerName, 'Di');
    assert.deepEqual(view.parked, []);
    assert.equal(view.blockedSet.has('customer:c1'), false);
  });

  it('parks what it cannot read: a bad payload blocks its aggregate, a body that is not an event is parked alone', async () => {
    const view = memoryView();
    const { counters, batch } = await applyAndCommit(summaries, view, [
      logged('customer', 'c1', 1, 'CustomerRegistered', { name: 42 }),
      registered('c1', 2, 'Ada'),
      { offset: offset++, body: Buffer.from('not json') },
      logged('order', 'o1', 1, 'OrderShredded', {}),
      registered('c2', 1, 'Bob'),
    ]);
    assert.deepEqual(counters, { applied: 1, duplicatesSkipped: 0, gaps: 0, parked: 4 });
    // In log order, what is not an event at all too.
    assert.deepEqual(
      batch.parked.map((p) => [p.aggregate, p.version]),
      [['customer:c1', 1], ['customer:c1', 2], [null, null], ['order:o1', 1]],
    );
    assert.match(batch.parked[2]!.error, /not JSON/);
    assert.match(batch.parked[0]!.error, /invalid CustomerRegistered payload/);
    assert.match(batch.parked[1]!.error, /waiting behind/);
    assert.match(batch.parked[3]!.error, /unknown event type OrderShredded/);
    assert.deepEqual(batch.blocked.sort(), ['customer:c1', 'order:o1']);
    assert.equal(view.document('customer:c1'), null);
  });

  it('upcasts old events to the current schema, and parks one newer than the code', async () => {
    const view = memoryView();
    const { counters, batch } = await applyAndCommit(summaries, view, [
      logged('order', 'o1', 1, 'OrderCreated', { customerId: 'c1', amount: 7 }, 1),
      logged('order', 'o2', 1, 'OrderCreated', { customerId: 'c1', total: 8 }, 3),
    ]);
    assert.equal(counters.applied, 1);
    assert.equal((view.document('o1') as OrderSummary).total, 7);
    assert.match(batch.parked[0]!.error, /newer than this code/);
  });

  it('skips events of aggregate types it does not read, and advances the version of events it has no handler for', async () => {
    const view = memoryView();
    await applyAndCommit(summaries, view, [created('o1', 1, 'c1', 10)]);
    const { counters, batch } = await applyAndCommit(summaries, view, [
      logged('cart', 'k1', 1, 'ItemAddedToCart', { itemId: 'a' }),
      logged('order', 'o1', 2, 'OrderNoted', { note: 'fragile' }),
    ]);
    assert.deepEqual(counters, { applied: 1, duplicatesSkipped: 0, gaps: 0, parked: 0 });
    assert.deepEqual(Object.fromEntries(batch.versions), { 'order:o1': 2 });
    assert.equal(batch.documents.size, 0);
    assert.equal(readsFrom(summaries, 'order'), true);
    assert.equal(readsFrom(summaries, 'cart'), false);
  });

  it('fans one event out to every document it names, seeing committed index members and the batch’s own', async () => {
    const view = memoryView();
    await applyAndCommit(summaries, view, [registered('c1', 1, 'Ada'), created('o1', 1, 'c1', 10), created('o2', 1, 'c1', 20)]);
    const { batch } = await applyAndCommit(summaries, view, [
      // Created in this batch: in the index only in memory when the rename reads it.
      created('o3', 1, 'c1', 30),
      renamed('c1', 2, 'Ada L.'),
      // Created after the rename: reads the new name from the customer's document in the batch.
      created('o4', 1, 'c1', 40),
    ]);
    for (const id of ['o1', 'o2', 'o3', 'o4']) assert.equal((view.document(id) as OrderSummary).customerName, 'Ada L.', id);
    assert.deepEqual([...batch.documents.keys()].sort(), ['customer:c1', 'o1', 'o2', 'o3', 'o4']);
    assert.deepEqual(await view.ids('byCustomer', 'c1'), ['o1', 'o2', 'o3', 'o4']);
  });

  it('reads index members in the batch by score, with order and limit', async () => {
    const view = memoryView();
    await applyAndCommit(summaries, view, [created('o1', 1, 'c1', 10), created('o2', 1, 'c1', 20), created('o3', 1, 'c1', 30)]);
    const seen: string[][] = [];
    const reader = defineProjection<SummaryDoc, [typeof customer, typeof order]>({
      ...summaries,
      sources: [customer, order],
      handlers: {
        ...summaries.handlers,
        'customer.CustomerRegistered': {
          async documents(event, read) {
            seen.push(await read.ids('byCustomer', { key: event.aggregateId, order: 'desc', limit: 2 }));
            seen.push(await read.ids('byTotal', { limit: 2 }));
            return [];
          },
          apply: (doc) => doc,
        },
      },
    });
    // o3 moves to another customer and o1 is deleted in the batch, before the reads.
    await applyAndCommit(reader, view, [
      logged('order', 'o3', 2, 'OrderReassigned', { customerId: 'c2' }),
      logged('order', 'o1', 2, 'OrderDeleted', {}),
      created('o4', 1, 'c1', 15),
      registered('c1', 1, 'Ada'),
    ]);
    assert.deepEqual(seen, [['o2', 'o4'], ['o4', 'o2']]);
  });

  it('adds, moves and removes keyed index entries, removing the old member in the same batch', async () => {
    const view = memoryView();
    const first = await applyAndCommit(summaries, view, [created('o1', 1, 'c1', 10), created('o2', 1, 'c1', 20)]);
    assert.deepEqual(
      first.batch.indexes.filter((w) => w.index === 'byCustomer'),
      [
        { index: 'byCustomer', key: 'c1', id: 'o1', score: 10 },
        { index: 'byCustomer', key: 'c1', id: 'o2', score: 20 },
      ],
    );
    // o1 moves from c1 to c2 (twice in one batch: only where it started and where it ends count); o2 is deleted.
    const { batch } = await applyAndCommit(summaries, view, [
      logged('order', 'o1', 2, 'OrderReassigned', { customerId: 'c3' }),
      logged('order', 'o1', 3, 'OrderReassigned', { customerId: 'c2' }),
      logged('order', 'o2', 2, 'OrderDeleted', {}),
    ]);
    assert.deepEqual(batch.indexes.filter((w) => w.index === 'byCustomer'), [
      { index: 'byCustomer', key: 'c1', id: 'o1', score: null },
      { index: 'byCustomer', key: 'c2', id: 'o1', score: 10 },
      { index: 'byCustomer', key: 'c1', id: 'o2', score: null },
    ]);
    assert.deepEqual(await view.ids('byCustomer', 'c1'), []);
    assert.deepEqual(await view.ids('byCustomer', 'c2'), ['o1']);
    assert.deepEqual(await view.ids('byCustomer', 'c3'), []);
    assert.deepEqual(await view.ids('byTotal'), ['o1']);
    assert.equal(view.document('o2'), null);
    assert.equal(batch.documents.get('o2'), null);
  });

  it('applies an event to all its documents or none, and parks an event whose reads or entries are wrong', async () => {
    const view = memoryView();
    let calls = 0;
    const halfway = defineProjection<{ n: number }, [typeof customer]>({
      name: 'halfway',
      version: 1,
      sources: [customer],
      handlers: {
        'customer.CustomerRegistered': {
          documents: () => ['a', 'b'],
          apply(doc, _event, _read, id) {
            calls += 1;
            // The first attempt fails on its second document, after writing the first.
            if (id === 'b' && calls === 2) throw new Error('b failed once');
            return { n: (doc?.n ?? 0) + 1 };
          },
        },
        'customer.CustomerRenamed': {
          documents: async (_event, read) => read.ids('noSuchIndex'),
          apply: (doc) => doc,
        },
      },
      indexes: { bad: (doc) => (doc.n > 1 ? Number.NaN : doc.n) },
    });
    await applyAndCommit(halfway, view, [registered('c1', 1, 'Ada')]);
    assert.deepEqual([view.document('a'), view.document('b')], [{ n: 1 }, { n: 1 }], 'a written once, not twice');
    const { batch } = await applyAndCommit(halfway, view, [renamed('c1', 2, 'Bea'), registered('c2', 1, 'Bob')]);
    assert.match(batch.parked[0]!.error, /has no index noSuchIndex/);
    assert.match(batch.parked[1]!.error, /index bad gave NaN/);
  });

  it('keeps the single-source form: one document per event through evolve, by documentId', async () => {
    const view = memoryView();
    const names = defineProjection<{ names: string[] }, typeof customer.events>({
      name: 'names',
      version: 1,
      source: customer,
      documentId: () => 'all',
      evolve: (doc, event) => ({ names: [...(doc?.names ?? []), event.payload.name] }),
      indexes: { count: (doc) => doc.names.length },
    });
    await applyAndCommit(names, view, [registered('c1', 1, 'Ada'), registered('c2', 1, 'Bob'), renamed('c1', 2, 'Cy')]);
    assert.deepEqual(view.document('all'), { names: ['Ada', 'Bob', 'Cy'] });
    assert.deepEqual(await view.ids('count'), ['all']);
    assert.equal(names.documentId(registered('c9', 1, 'x').body as never), 'all');
    assert.deepEqual(names.sources, [customer]);
    // By the aggregate's id by default, also once re-spread (e.g. with a raised version): read ahead, not one by one.
    const byId = defineProjection<{ n: number }, typeof customer.events>({ name: 'by-id', version: 1, source: customer, evolve: (doc) => ({ n: (doc?.n ?? 0) + 1 }) });
    const raised = defineProjection({ ...byId, version: 2 });
    assert.equal(handlerFor(raised, 'customer', 'CustomerRenamed')?.documents, undefined);
    const fresh = memoryView();
    await applyAndCommit(raised, fresh, [registered('c1', 1, 'Ada'), renamed('c1', 2, 'Bea')]);
    assert.deepEqual(fresh.document('c1'), { n: 2 });
  });
});

describe('projection definitions (types)', () => {
  it('types handlers by their sources, rejects unknown keys, and infers the document type', () => {
    const doc: DocOf<typeof summaries> | null = null;
    assert.equal(doc, null);
    assert.throws(
      () =>
        defineProjection<SummaryDoc, [typeof customer, typeof order]>({
          name: 'wrong',
          version: 1,
          sources: [customer, order],
          // @ts-expect-error: no source emits order.OrderShredded
          handlers: { 'order.OrderShredded': { apply: () => null } },
        }),
      /none of its sources \(customer, order\) emits/,
    );
    defineProjection<SummaryDoc, [typeof customer, typeof order]>({
      name: 'typed',
      version: 1,
      sources: [customer, order],
      handlers: {
        'order.OrderCreated': {
          apply: (_doc, event) => {
            const total: number = event.payload.total;
            // @ts-expect-error: OrderCreated has no name
            void event.payload.name;
            return { kind: 'customer', name: String(total) };
          },
        },
      },
    });
    // Without type arguments the document type comes from an annotated `doc`.
    const inferred = defineProjection({
      name: 'inferred',
      version: 1,
      sources: [customer],
      handlers: { 'customer.CustomerRegistered': { apply: (_doc: { name: string } | null, event) => ({ name: event.payload.name }) } },
    });
    const name: DocOf<typeof inferred>['name'] = 'x';
    assert.equal(name, 'x');
  });
});

describe('a fan-out in chunks (pure, over an in-memory view)', () => {
  type Doc = { kind: 'order'; customerId: string; at: number; renames: number } | { kind: 'customer'; name: string };
  /** Counts renames per order, so a document applied twice shows. */
  const counting = (moves = false) =>
    defineProjection<Doc, [typeof customer, typeof order]>({
      name: 'counting',
      version: 1,
      sources: [customer, order],
      handlers: {
        'order.OrderCreated': { apply: (_doc, event) => ({ kind: 'order', customerId: event.payload.customerId, at: event.payload.total, renames: 0 }) },
        'customer.CustomerRenamed': {
          documents: (event) => [`customer:${event.aggregateId}`],
          fanOut: (event) => ({ index: 'byCustomer', key: event.aggregateId }),
          apply: (doc, event, _read, id) =>
            id.startsWith('customer:') ? { kind: 'customer', name: event.payload.name } : doc?.kind === 'order' ? { ...doc, renames: doc.renames + 1, at: moves ? doc.at + 1000 : doc.at } : doc,
        },
      },
      indexes: { byCustomer: (doc) => (doc.kind === 'order' ? { key: doc.customerId, score: doc.at } : null) },
    });

  async function seeded(projection: AnyProjection, orders: number) {
    const view = memoryView();
    await applyAndCommit(projection, view, Array.from({ length: orders }, (_, i) => created(`o${i}`, 1, 'c1', i % 7)));
    return view;
  }

  it('stops the batch before the fan-out, and resumes after a crash between chunks without applying a document twice', async () => {
    const projection = counting();
    const view = await seeded(projection, 25);
    const entries = [registered('c2', 1, 'Bob'), renamed('c1', 1, 'Ada'), registered('c3', 1, 'Cy')];
    const first = await applyEntries(projection, entries, view, fast);
    assert.equal(first.consumed, 1, 'the batch covers what came before the fan-out');
    assert.equal(first.fanOut?.event.type, 'CustomerRenamed');
    view.commit(first.batch);

    // Chunks of 10; the commit of the second chunk is lost (the process died).
    const commits: FanOutCommit[] = [];
    const crashing = await applyFanOut(projection, view, first.fanOut!, { chunk: 10, attempts: 1, progress: null }, async (step) => {
      if (commits.length === 1) return 'LEASE_LOST';
      commits.push(step);
      view.commit(step.batch);
      return 'OK';
    });
    assert.equal(crashing.result, 'LEASE_LOST');
    assert.deepEqual(commits.map((c) => [c.final, c.progress]), [[false, { version: 1, done: 10 }]]);
    assert.equal(commits[0]!.batch.documents.size, 10, 'one chunk is at most 10 documents');
    assert.equal(commits[0]!.batch.versions.size, 0, 'the aggregate’s version moves only at the end');

    // Resumed from the recorded progress: the other 15, then the customer's own document and version.
    const resumed = await applyFanOut(projection, view, first.fanOut!, { chunk: 10, attempts: 1, progress: commits[0]!.progress }, async (step) => {
      commits.push(step);
      view.commit(step.batch);
      return 'OK';
    });
    assert.equal(resumed.result, 'OK');
    assert.deepEqual(commits.slice(1).map((c) => [c.final, c.progress, c.batch.documents.size]), [[false, { version: 1, done: 20 }, 10], [false, { version: 1, done: 25 }, 5], [true, null, 1]]);
    assert.equal(view.versionsMap.get('customer:c1'), 1);
    const renames = Array.from({ length: 25 }, (_, i) => (view.document(`o${i}`) as { renames: number }).renames);
    assert.deepEqual(renames, Array(25).fill(1), 'every order renamed exactly once');
    assert.deepEqual(view.document('customer:c1'), { kind: 'customer', name: 'Ada' });
  });

  it('parks a fan-out that moves documents within the index it pages through', async () => {
    const projection = counting(true);
    const view = await seeded(projection, 5);
    const { fanOut } = await applyEntries(projection, [renamed('c1', 1, 'Ada')], view, fast);
    const steps: FanOutCommit[] = [];
    const result = await applyFanOut(projection, view, fanOut!, { chunk: 10, attempts: 1, progress: null }, async (step) => (steps.push(step), 'OK'));
    assert.equal(result.parked.length, 1);
    assert.match(result.parked[0]!.error, /must not change that index/);
    assert.deepEqual(steps.map((s) => [s.final, s.batch.blocked]), [[true, ['customer:c1']]]);
  });
});
