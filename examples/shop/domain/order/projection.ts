/**
 * Order summaries: one document per order, fed by two aggregates — the order's own events, and
 * the customer's, so a summary shows the customer's current name. A rename fans out to every
 * summary of that customer (the byCustomer index, in bounded chunks); an order created before its
 * customer's registration reached the log gets the name when it arrives. Indexes answer
 * "active orders of a customer, newest first" and "orders by status" without joins.
 */
import { fromCents, defineProjection } from 'ledgerflow';
import { customer } from '../customer/customer';
import { order } from './order';

/** An order as clients read it. */
export interface OrderSummary {
  kind: 'order';
  orderId: string;
  customerId: string;
  /** Kept current from the customer's events (null until the customer's registration is seen). */
  customerName: string | null;
  itemCount: number;
  total: number;
  status: 'created' | 'shipped' | 'completed' | 'cancelled';
  createdAt: string;
  shippedAt: string | null;
  cancelReason: string | null;
  version: number;
  updatedAt: string;
}

/** The projection's own record of a customer's name, under `customer:<customerId>`. */
export interface CustomerName {
  kind: 'customer';
  customerId: string;
  name: string;
}

export type OrderSummaryDocument = OrderSummary | CustomerName;

export const isOrderSummary = (doc: OrderSummaryDocument | null): doc is OrderSummary => doc?.kind === 'order';

const customerDoc = (customerId: string) => `customer:${customerId}`;
const active = (status: OrderSummary['status']) => status === 'created' || status === 'shipped';

/**
 * A customer event changes the customer's name document and fans out to every summary of the
 * customer's orders through the byCustomer index: the runtime pages through it in bounded chunks
 * (a customer with 100,000 orders is no single big Redis call). The name changes no index entry.
 */
const customerDocAndOrders = {
  documents: (event: { aggregateId: string }) => [customerDoc(event.aggregateId)],
  fanOut: (event: { aggregateId: string }) => ({ index: 'byCustomer', key: event.aggregateId }),
};

/** A customer event's name, written into its own document and each of the customer's summaries. */
const withName = (doc: OrderSummaryDocument | null, customerId: string, name: string, id: string): OrderSummaryDocument | null =>
  id === customerDoc(customerId) ? { kind: 'customer', customerId, name } : isOrderSummary(doc) ? { ...doc, customerName: name } : doc;

/** An order event's change to its summary (none before the summary exists). */
const step = (doc: OrderSummaryDocument | null, version: number, at: string, change: Partial<OrderSummary>): OrderSummaryDocument | null =>
  isOrderSummary(doc) ? { ...doc, ...change, version, updatedAt: at } : doc;

export const orderSummaries = defineProjection<OrderSummaryDocument, readonly [typeof order, typeof customer]>({
  name: 'orderSummaries',
  version: 1,
  sources: [order, customer],
  handlers: {
    'order.OrderCreated': {
      async apply(_doc, event, read) {
        const { customerId, items, totalCents } = event.payload;
        const known = await read.get<CustomerName>(customerDoc(customerId));
        return {
          kind: 'order',
          orderId: event.aggregateId,
          customerId,
          customerName: known?.name ?? null,
          itemCount: items.reduce((sum, line) => sum + line.quantity, 0),
          total: fromCents(totalCents),
          status: 'created',
          createdAt: event.occurredAt,
          shippedAt: null,
          cancelReason: null,
          version: event.version,
          updatedAt: event.occurredAt,
        };
      },
    },
    'order.OrderShipped': { apply: (doc, event) => step(doc, event.version, event.occurredAt, { status: 'shipped', shippedAt: event.occurredAt }) },
    'order.OrderCompleted': { apply: (doc, event) => step(doc, event.version, event.occurredAt, { status: 'completed' }) },
    'order.OrderCancelled': { apply: (doc, event) => step(doc, event.version, event.occurredAt, { status: 'cancelled', cancelReason: event.payload.reason }) },
    'customer.CustomerRegistered': {
      ...customerDocAndOrders,
      apply: (doc, event, _read, id) => withName(doc, event.aggregateId, event.payload.name, id),
    },
    'customer.CustomerRenamed': {
      ...customerDocAndOrders,
      apply: (doc, event, _read, id) => withName(doc, event.aggregateId, event.payload.name, id),
    },
  },
  indexes: {
    /** Every order of a customer by creation: what a rename fans out to. */
    byCustomer: (doc) => (isOrderSummary(doc) ? { key: doc.customerId, score: Date.parse(doc.createdAt) } : null),
    /** The customer's orders neither completed nor cancelled. */
    activeByCustomer: (doc) => (isOrderSummary(doc) && active(doc.status) ? { key: doc.customerId, score: Date.parse(doc.createdAt) } : null),
    /** Orders by status, oldest first (e.g. created orders waiting to be shipped). */
    byStatus: (doc) => (isOrderSummary(doc) ? { key: doc.status, score: Date.parse(doc.createdAt) } : null),
  },
});
