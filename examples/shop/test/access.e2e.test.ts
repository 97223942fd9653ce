/**
 * Who may do what in the shop, on the real stack, with users signed in by JWTs whose keys the
 * API reads from a JWKS URL (a local server here). Every procedure of the router is called with
 * another user's token and refused (nothing changes in Temporal or Redis); the owner's token and
 * an admin's work; bad JWTs are refused UNAUTHORIZED; a commandId in the process namespace is
 * refused, so no caller can claim a checkout's step.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { processCommandId } from 'ledgerflow/workflow';
import { createRouter } from 'ledgerflow/server';
import { eventually, uniqueId } from 'ledgerflow/testing/stack';
import { createLedgerflowClient } from '@ledgerflow/client';
import config, { type AppRouter } from '../ledgerflow.config';
import { orderIdFor } from '../domain/cart/state';
import { address, startShopStack, type ShopStack } from './support/shop';

const issuer = 'https://auth.shop.test/';
const audience = 'shop-api';
const kid = 'shop-key-1';
const staticTokens = { admin: uniqueId('admin'), client: uniqueId('client') };

/** Who may call each procedure, written out here (not imported) so the test checks the module declarations. */
const rules: Record<string, 'public' | 'any' | 'owner' | 'admin' | 'internal'> = {
  'cart.addItem': 'owner',
  'cart.removeItem': 'owner',
  'cart.changeQuantity': 'owner',
  'cart.checkout': 'owner',
  'cart.cancelCheckout': 'owner',
  'cart.get': 'owner',
  'cart.onChange': 'owner',
  'cart.listOpen': 'admin',
  'customer.register': 'owner',
  'customer.rename': 'owner',
  'customer.deactivate': 'owner',
  'customer.reactivate': 'admin',
  'customer.get': 'owner',
  'customer.onChange': 'owner',
  'inventory.receiveStock': 'admin',
  'inventory.reserve': 'internal',
  'inventory.release': 'internal',
  'inventory.commit': 'internal',
  'inventory.get': 'any',
  'inventory.onChange': 'any',
  'order.create': 'internal',
  'order.ship': 'admin',
  'order.complete': 'admin',
  'order.cancel': 'owner',
  'order.get': 'owner',
  'order.onChange': 'owner',
  'order.activeForCustomer': 'owner',
  'order.byStatus': 'admin',
  'system.health': 'public',
  'system.commandOutcome': 'owner',
  'system.gaps': 'admin',
  'system.projections': 'admin',
  'system.parked': 'admin',
  'system.redrive': 'admin',
  'system.rebuild': 'admin',
};

type ProcedureType = 'query' | 'mutation' | 'subscription';
/** How long a subscription let through may take to send its first event (the document exists: at once). */
const subscriptionDeadlineMs = 30_000;
const procedures = Object.entries(createRouter(config)._def.procedures as unknown as Record<string, { _def: { type: ProcedureType } }>).map(([path, p]) => ({
  path,
  type: p._def.type,
}));

type Client = ReturnType<typeof createLedgerflowClient<AppRouter>>;
type Callable = Record<string, Record<string, { query(i: unknown): Promise<unknown>; mutate(i: unknown): Promise<unknown>; subscribe: Subscribe }>>;
type Subscribe = (input: unknown, handlers: { onData(): void; onError(error: TRPCClientError<AppRouter>): void }) => { unsubscribe(): void };

/** Calls a procedure by its path; answers `OK` or the error's tRPC code (a subscription: its first event). */
async function call(client: Client, path: string, type: ProcedureType, input: unknown): Promise<string> {
  const [namespace, name] = path.split('.') as [string, string];
  const procedure = (client as unknown as Callable)[namespace]![name]!;
  if (type === 'subscription') {
    return new Promise((resolve) => {
      const answer = (code: string) => (clearTimeout(deadline), subscription.unsubscribe(), resolve(code));
      // A stream let through on a document that does not exist sends nothing: answered as such, not waited on forever.
      const deadline = setTimeout(() => answer('NO_EVENT'), subscriptionDeadlineMs);
      const subscription = procedure.subscribe(input, {
        onData: () => answer('OK'),
        onError: (error) => answer(error.data?.code ?? error.message),
      });
    });
  }
  try {
    await (type === 'query' ? procedure.query(input) : procedure.mutate(input));
    return 'OK';
  } catch (error) {
    return error instanceof TRPCClientError ? ((error.data as { code?: string } | undefined)?.code ?? error.message) : String(error);
  }
}

describe('who may do what in the shop (JWTs from a JWKS URL, real services)', { timeout: 480_000 }, () => {
  let stack: ShopStack;
  let jwks: Server;
  let signingKey: KeyLike;
  let strangerKey: KeyLike;
  const ada = uniqueId('ada');
  const bob = uniqueId('bob');
  const book = uniqueId('book');
  const adaOrder = orderIdFor(ada, 1);

  /** A JWT as the shop's identity provider issues it; `change` makes it wrong in one way. */
  const tokenFor = (sub: string, roles: string[] = [], change: { key?: KeyLike; issuer?: string; audience?: string; expiresAt?: number } = {}) =>
    new SignJWT({ roles })
      .setProtectedHeader({ alg: 'ES256', kid })
      .setSubject(sub)
      .setIssuer(change.issuer ?? issuer)
      .setAudience(change.audience ?? audience)
      .setIssuedAt()
      .setExpirationTime(change.expiresAt ?? Math.floor(Date.now() / 1000) + 600)
      .sign(change.key ?? signingKey);
  const clientWith = (token: string) => createLedgerflowClient<AppRouter>({ url: stack.url, token, retries: 0 });
  let asAda: Client;
  let asBob: Client;
  let asAdmin: Client;

  before(async () => {
    const signing = await generateKeyPair('ES256');
    signingKey = signing.privateKey;
    ({ privateKey: strangerKey } = await generateKeyPair('ES256'));
    // The JWKS lists another key beside the signing one: the key id picks the right one.
    const other = { ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'shop-key-0', alg: 'ES256', use: 'sig' };
    const keys = { keys: [other, { ...(await exportJWK(signing.publicKey)), kid, alg: 'ES256', use: 'sig' }] };
    jwks = createServer((_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(keys)));
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    stack = await startShopStack({
      env: {
        API_TOKENS: `admin:${staticTokens.admin},client:${staticTokens.client}`,
        API_JWT_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
        API_JWT_ISSUER: issuer,
        API_JWT_AUDIENCE: audience,
      },
    });
    asAda = clientWith(await tokenFor(ada));
    asBob = clientWith(await tokenFor(bob));
    asAdmin = clientWith(await tokenFor(uniqueId('staff'), ['admin']));
  });
  after(async () => {
    await stack?.stop();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  it('declares a rule for every procedure of the router', () => {
    assert.deepEqual(procedures.map((p) => p.path).filter((path) => !(path in rules)), [], 'procedures without a rule in this test');
  });

  it("refuses a commandId in the process namespace, even an admin's: a checkout's reserve cannot be claimed", async () => {
    await asAdmin.inventory.receiveStock.mutate({ productId: book, quantity: 5, wait: 'projected' });
    const claimed = processCommandId(`checkout:${adaOrder}`, `inventory:${book}:reserve`);
    const error = await asAdmin.inventory.receiveStock.mutate({ productId: book, quantity: 1, commandId: claimed }).catch((e: unknown) => e);
    assert.ok(error instanceof TRPCClientError, String(error));
    assert.equal(error.data?.code, 'BAD_REQUEST');
    assert.equal((error.data as { domainCode?: string }).domainCode, 'PROCESS_COMMAND_ID');
    assert.equal((await asAdmin.inventory.get.query({ productId: book })).onHand, 5, 'nothing applied');
  });

  it("lets a user act on their own customer, cart and order: the checkout's reserve is really applied", async () => {
    const registered = await asAda.customer.register.mutate({ customerId: ada, name: 'Ada', email: 'ada@example.com', wait: 'projected' });
    assert.equal(registered.version, 1);
    // The JWT's sub is the command's metadata.userId, as the workflow recorded it.
    const history = await stack.temporal.workflow.getHandle(`customer:${ada}`).fetchHistory();
    const delivered = (history.events ?? [])
      .flatMap((event) => event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args?.payloads ?? [])
      .flatMap((payload) => JSON.parse(Buffer.from(payload.data!).toString('utf8')) as { commandId: string; metadata: { userId?: string } }[]);
    assert.equal(delivered.find((command) => command.commandId === registered.commandId)?.metadata.userId, ada);
    await asAda.cart.addItem.mutate({ cartId: ada, itemId: book, quantity: 3, price: 12.5 });
    await asAda.cart.changeQuantity.mutate({ cartId: ada, itemId: book, quantity: 2 });
    await asAda.cart.checkout.mutate({ cartId: ada, shippingAddress: address });
    const cart = await eventually(async () => {
      const now = await asAda.cart.get.query({ cartId: ada });
      return now.status === 'checked_out' ? now : undefined;
    }, 120_000, 'checkout done');
    assert.equal(cart.orderId, adaOrder);
    const order = await eventually(() => asAda.order.get.query({ orderId: adaOrder }).catch(() => undefined), 60_000, 'order projected');
    assert.equal(order.customerId, ada);
    assert.equal((await asAda.order.activeForCustomer.query({ customerId: ada })).items.length, 1);
    assert.equal((await asAda.customer.get.query({ customerId: ada })).email, 'ada@example.com');
    // The stock was reserved and committed by the checkout (the refused claim above left its reserve to be applied).
    const stock = await eventually(async () => {
      const now = await asAda.inventory.get.query({ productId: book });
      return now.onHand === 3 ? now : undefined;
    }, 60_000, 'stock committed');
    assert.equal(stock.reserved, 0);
  });

  it("refuses every procedure on another user's things (FORBIDDEN), and changes nothing in Temporal or Redis", async () => {
    const inputs = inputsFor(ada, bob, book, adaOrder);
    assert.deepEqual(
      procedures.filter(({ path }) => !(path in inputs)).map((p) => p.path),
      [],
      'an input for every procedure',
    );
    const workflows = [`customer:${ada}`, `cart:${ada}`, `order:${adaOrder}`, `inventory:${book}`];
    const fresh = [`order:${orderIdFor(ada, 2)}`, `customer:${bob}`];
    await stack.projector!.stop();
    try {
      const before = { histories: await historyLengths(stack, workflows), redis: await redisSnapshot(stack) };
      const staticClient = clientWith(staticTokens.client);
      const wrong: string[] = [];
      for (const { path, type } of procedures) {
        const rule = rules[path]!;
        const expected = rule === 'public' || rule === 'any' ? 'OK' : 'FORBIDDEN';
        // Another user; the user herself for admin and internal procedures; a static client token (no user) for owner ones.
        const callers: [string, Client, string][] = [[`bob`, asBob, expected]];
        if (rule === 'admin' || rule === 'internal') callers.push([`ada (her own)`, asAda, 'FORBIDDEN']);
        if (rule === 'owner') callers.push(['a static client token', staticClient, 'FORBIDDEN']);
        for (const [who, client, want] of callers) {
          const got = await call(client, path, type, inputs[path]);
          if (got !== want) wrong.push(`${path} (${rule}) as ${who}: expected ${want}, got ${got}`);
        }
      }
      assert.deepEqual(wrong, []);
      assert.deepEqual(await historyLengths(stack, workflows), before.histories, "the users' workflows took no command");
      assert.deepEqual(await historyLengths(stack, fresh), Object.fromEntries(fresh.map((id) => [id, null])), 'no workflow was started');
      assert.deepEqual(await redisSnapshot(stack), before.redis, 'Redis is as it was');
    } finally {
      stack.startProjector();
    }
  });

  it("gives an admin everyone's things", async () => {
    assert.equal((await asAdmin.customer.get.query({ customerId: ada })).name, 'Ada');
    assert.equal((await asAdmin.cart.get.query({ cartId: ada })).status, 'checked_out');
    assert.equal((await asAdmin.order.activeForCustomer.query({ customerId: ada })).items[0]?.orderId, adaOrder);
    assert.ok((await asAdmin.order.byStatus.query({ status: 'created', limit: 100 })).items.some((o) => o.orderId === adaOrder));
    const shipped = await clientWith(staticTokens.admin).order.ship.mutate({ orderId: adaOrder });
    assert.equal(shipped.events[0]?.type, 'OrderShipped');
    // And the owner still reads it, now shipped.
    await eventually(async () => ((await asAda.order.get.query({ orderId: adaOrder })).status === 'shipped' ? true : undefined), 60_000, 'shipped');
  });

  it('refuses a JWT with a wrong issuer, audience or signature, or expired, UNAUTHORIZED', async () => {
    const bad = {
      'wrong issuer': await tokenFor(ada, [], { issuer: 'https://evil.test/' }),
      'wrong audience': await tokenFor(ada, [], { audience: 'another-api' }),
      expired: await tokenFor(ada, [], { expiresAt: Math.floor(Date.now() / 1000) - 120 }),
      'signed by another key': await tokenFor(ada, [], { key: strangerKey }),
      'an admin claim signed by another key': await tokenFor(ada, ['admin'], { key: strangerKey }),
    };
    for (const [label, token] of Object.entries(bad)) {
      assert.equal(await call(clientWith(token), 'customer.get', 'query', { customerId: ada }), 'UNAUTHORIZED', label);
      assert.equal(await call(clientWith(token), 'customer.onChange', 'subscription', { customerId: ada }), 'UNAUTHORIZED', `${label} (subscription)`);
    }
    assert.equal(await call(asAda, 'customer.get', 'query', { customerId: ada }), 'OK', 'the good token still works');
  });
});

/** A valid input for every procedure, aimed at ada's things (bob's own ids where a command would create something of his). */
function inputsFor(ada: string, bob: string, book: string, adaOrder: string): Record<string, unknown> {
  const items = [{ itemId: book, quantity: 1, price: 12.5 }];
  return {
    'cart.addItem': { cartId: ada, itemId: book, quantity: 1, price: 12.5 },
    'cart.removeItem': { cartId: ada, itemId: book },
    'cart.changeQuantity': { cartId: ada, itemId: book, quantity: 1 },
    'cart.checkout': { cartId: ada, shippingAddress: address },
    'cart.cancelCheckout': { cartId: ada, orderId: adaOrder },
    'cart.get': { cartId: ada },
    'cart.onChange': { cartId: ada },
    'cart.listOpen': {},
    'customer.register': { customerId: ada, name: 'Mallory', email: 'mallory@example.com' },
    'customer.rename': { customerId: ada, name: 'Mallory' },
    'customer.deactivate': { customerId: ada },
    'customer.reactivate': { customerId: ada },
    'customer.get': { customerId: ada },
    'customer.onChange': { customerId: ada },
    'inventory.receiveStock': { productId: book, quantity: 50 },
    'inventory.reserve': { productId: book, orderId: orderIdFor(bob, 1), quantity: 1 },
    'inventory.release': { productId: book, orderId: adaOrder },
    'inventory.commit': { productId: book, orderId: adaOrder },
    'inventory.get': { productId: book },
    'inventory.onChange': { productId: book },
    // A checkout's next order: creating it first would block ada's next checkout.
    'order.create': { orderId: orderIdFor(ada, 2), customerId: ada, items, shippingAddress: address },
    'order.ship': { orderId: adaOrder },
    'order.complete': { orderId: adaOrder },
    'order.cancel': { orderId: adaOrder, reason: 'not mine, but cancelled' },
    'order.get': { orderId: adaOrder },
    'order.onChange': { orderId: adaOrder },
    'order.activeForCustomer': { customerId: ada },
    'order.byStatus': { status: 'created' },
    'system.health': undefined,
    'system.commandOutcome': { aggregateType: 'cart', aggregateId: ada, commandId: 'an-earlier-command' },
    'system.gaps': { projection: 'carts' },
    'system.projections': undefined,
    'system.parked': { projection: 'carts' },
    'system.redrive': { projection: 'carts' },
    'system.rebuild': { projection: 'carts' },
  };
}

/** Each workflow's history length (null: no such workflow). */
async function historyLengths(stack: ShopStack, workflowIds: string[]): Promise<Record<string, number | null>> {
  const lengths: Record<string, number | null> = {};
  for (const id of workflowIds) {
    lengths[id] = await stack.temporal.workflow
      .getHandle(id)
      .describe()
      .then((d) => d.historyLength)
      .catch(() => null);
  }
  return lengths;
}

/** Every key of the run that does not expire by itself, with its serialized value. */
async function redisSnapshot(stack: ShopStack): Promise<Record<string, string>> {
  const snapshot: Record<string, string> = {};
  for await (const keys of stack.redis.scanIterator({ MATCH: `${stack.settings.REDIS_PREFIX}:*`, COUNT: 500 })) {
    for (const key of keys) {
      if ((await stack.redis.pTTL(key)) !== -1) continue;
      snapshot[key] = String(await stack.redis.sendCommand(['DUMP', key]));
    }
  }
  return snapshot;
}
