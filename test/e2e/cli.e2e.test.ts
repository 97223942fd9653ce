import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { envOf, freePort, startTestStack, uniqueId, type TestStack } from '../support/stack';

const cli = join(__dirname, '..', '..', 'bin', 'ledgerflow.ts');

function run(env: NodeJS.ProcessEnv, ...args: string[]) {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) => resolve({ code, out, err }));
  });
}

describe('the admin CLI (ledgerflow)', { timeout: 180_000 }, () => {
  let stack: TestStack;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    stack = await startTestStack();
    env = { ...envOf(stack.config), LOG_LEVEL: 'silent' };
  });
  after(async () => {
    await stack?.stop();
  });

  it('shows status, parked events and asks for a re-drive, exiting 0', async () => {
    await stack.trpc.cart.addItem.mutate({ cartId: uniqueId('cli'), itemId: 'a', quantity: 1, price: 1, wait: 'projected' });
    const status = await run(env, 'status');
    assert.equal(status.code, 0, status.err);
    assert.match(status.out, /^carts {2}LIVE {2}generation \d+/m);
    assert.match(status.out, /checkpoint \d+ {2}tail \d+ {2}lag \d+ events/);
    const parked = await run(env, 'parked', 'carts');
    assert.deepEqual([parked.code, parked.out.trim()], [0, 'no parked events']);
    const redrive = await run(env, 'redrive', 'carts');
    assert.equal(redrive.code, 0);
    assert.match(redrive.out, /re-drive of 0 parked event\(s\) requested/);
  });

  it('rebuilds a projection, showing its progress, and exits 0 once the new generation serves', async () => {
    const before = (await stack.trpc.system.projections.query()).find((s) => s.name === 'carts')!;
    const rebuild = await run(env, 'rebuild', 'carts');
    assert.equal(rebuild.code, 0, rebuild.err);
    assert.match(rebuild.out, new RegExp(`rebuilt: carts now serves generation ${before.generation! + 1}`));
  });

  it('exits 1 naming the problem for an unknown or missing projection, and 2 for an unknown command', async () => {
    const unknown = await run(env, 'parked', 'nope');
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /no projection named 'nope' \(known: carts, customers, inventory, orderSummaries\)/);
    assert.equal((await run(env, 'rebuild')).code, 1);
    const bogus = await run(env, 'bogus');
    assert.equal(bogus.code, 2);
    assert.match(bogus.err, /usage: ledgerflow <command>/);
    const help = await run(env, 'help');
    assert.deepEqual([help.code, /usage/.test(help.out)], [0, true]);
  });

  it('sends a command like any client (same id, same answer), exiting 1 when it is refused and 2 for a bad payload', async () => {
    const customerId = uniqueId('cli-customer');
    const args = ['send', 'customer', customerId, 'register', JSON.stringify({ name: 'Ada', email: 'ada@example.com' }), '--command-id', `${customerId}-1`];
    const first = await run(env, ...args);
    assert.equal(first.code, 0, first.err);
    const outcome = JSON.parse(first.out) as { status: string; version: number; events: { type: string }[] };
    assert.deepEqual([outcome.status, outcome.version, outcome.events[0]?.type], ['accepted', 1, 'CustomerRegistered']);
    const again = await run(env, ...args);
    assert.deepEqual(JSON.parse(again.out), outcome, 'the same commandId answers the same outcome');
    const twice = await run(env, 'send', 'customer', customerId, 'register', JSON.stringify({ name: 'Ada', email: 'ada@example.com' }));
    assert.equal(twice.code, 1);
    assert.match(twice.out, /CUSTOMER_ALREADY_REGISTERED/);
    const bad = await run(env, 'send', 'customer', customerId, 'register', JSON.stringify({ name: 'Ada', email: 'nope' }));
    assert.equal(bad.code, 2);
    assert.match(bad.err, /invalid customer.register payload/);
    assert.equal((await run(env, 'send', 'basket', 'b1', 'add')).code, 2);
    const doc = await stack.trpc.customer.get.query({ customerId, minVersion: 1 });
    assert.equal(doc.name, 'Ada');
  });

  it('exits 1 with a message, rather than hanging, when Redis is not reachable', async () => {
    const nowhere = `redis://127.0.0.1:${await freePort()}`;
    const down = await run({ ...env, REDIS_URL: nowhere }, 'status');
    assert.equal(down.code, 1);
    assert.match(down.err, /Redis at 127\.0\.0\.1:\d+ did not answer within 5s/);
  });
});
