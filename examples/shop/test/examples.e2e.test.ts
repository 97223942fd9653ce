import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { uniqueId, type TestStack } from 'ledgerflow/testing/stack';
import type { AppRouter } from '../ledgerflow.config';
import { startShopStack } from './support/shop';

/** Runs an example from examples/ against the test stack, as the README tells a user to. */
function example(stack: TestStack<AppRouter>, file: string, ...args: string[]) {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'scripts', file), ...args], {
      env: { ...process.env, LEDGERFLOW_URL: `${stack.url}/trpc` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) => resolve({ code, out, err }));
  });
}

describe('the README’s examples, run against a stack', { timeout: 300_000 }, () => {
  let stack: TestStack<AppRouter>;
  before(async () => {
    stack = await startShopStack();
  });
  after(async () => {
    await stack?.stop();
  });

  it('examples/shop/scripts/seed-flow.ts: adds an item and reads it back', async () => {
    const { code, out, err } = await example(stack, 'seed-flow.ts', uniqueId('seed'));
    assert.equal(code, 0, err);
    assert.match(out, /added: version 1/);
    assert.match(out, /1 item\(s\), total 19\.99/);
    assert.match(out, /rejected: UNPROCESSABLE_CONTENT ITEM_NOT_IN_CART/);
  });

  it('examples/shop/scripts/walkthrough.ts: the whole story, with every failure compensated', async () => {
    const run = uniqueId('shop');
    const { code, out, err } = await example(stack, 'walkthrough.ts', run);
    assert.equal(code, 0, `${out}\n${err}`);
    const lines = [
      `checkout: checked_out, order ada-${run}.1`,
      `active order ada-${run}.1: 3 item(s), 55, for Ada Lovelace`,
      `book-${run}: on hand 8, reserved 0, available 8`,
      ': Ada King',
      'active orders after completion: 0',
      'out of stock: OUT_OF_STOCK',
      'payment declined: PAYMENT_DECLINED; order cancelled',
      'inactive customer: UNPROCESSABLE_CONTENT CUSTOMER_INACTIVE: Customer is inactive',
      'checkout by an inactive customer: CUSTOMER_INACTIVE',
      `book-${run}: reserved 0 after every failed checkout`,
    ];
    for (const line of lines) assert.ok(out.includes(line), `expected "${line}" in:\n${out}`);
  });
});
