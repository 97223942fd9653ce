/**
 * The API's bounds under load, in a stack the drill owns: 10,000 idle subscriptions held open
 * (the caps raised for the drill) and one more refused, then Redis paused (SIGSTOP, not
 * stopped) while commands flow and the subscriptions stay open. The API must stay alive and
 * answer its health throughout, every refusal must be typed, live subscribers must end at
 * their account's latest version, and the accounting must find nothing lost or doubled.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import ledger from '../support/domains/ledger.config';
import { eventually, uniqueId } from '../support/stack';
import { startDrillStack, type DrillStack } from './support/drill-stack';
import { describeBetween, runFor, startLoad, tallyBetween } from './support/load';
import { assertAccounted, audit, describeReport, type DrillReport } from './support/verify';

const idleSubscriptions = 10_000;
/** Subscribers per account the load writes to, whose last event must be the account's last version. */
const liveSubscribersPerAccount = 2;
const pauseMs = 8_000;
const accountReadModel = ledger.modules.account.readModel;
const env = { total: idleSubscriptions + 100 };
const settings = {
  API_SUBSCRIPTIONS_TOTAL: String(env.total),
  API_SUBSCRIPTIONS_PER_CALLER: String(env.total),
  // Ten thousand subscriptions from one address within seconds: far over the default rate.
  API_RATE_LIMIT: '1000000',
};

/** A subscription over a bare socket (10,000 fetches would cost the test more than the API). */
interface RawSubscription {
  accountId: string;
  socket: Socket;
  connected: boolean;
  /** The HTTP status of the answer. */
  status: number;
  /** The last event id seen (a version), for the live subscribers only. */
  lastId: number;
  pings: number;
  /** The stream ended (its socket closed, or the server ended the answer, after an error event). */
  closed: boolean;
  /** The domain code of an error event the stream ended with (a Redis read past its deadline, say). */
  errorCode: string | null;
  /** The drill hung up (not the server). */
  hungUp: boolean;
  /** The first KB of the answer (a refusal's body). */
  text: string;
}

/**
 * Opens `n` subscriptions, a few hundred at a time, and holds them: one reset while connecting
 * (the listen queue of a busy API overflows) is opened again, as its client would.
 */
async function holdOpen(port: number, n: number, accountOf: (i: number) => string, track = false): Promise<{ open: RawSubscription[]; reopened: number }> {
  const open: RawSubscription[] = [];
  let reopened = 0;
  for (let i = 0; i < n; i += 250) {
    if (i % 2500 === 0) progress(`${i} of ${n} subscriptions open (${reopened} opened again)`);
    let batch = Array.from({ length: Math.min(250, n - i) }, (_, k) => openRaw(port, accountOf(i + k), track));
    for (;;) {
      await eventually(async () => (batch.every((sub) => sub.connected || sub.closed) ? true : undefined), 120_000, `subscriptions ${i}.. open`);
      open.push(...batch.filter((sub) => sub.connected && !sub.closed));
      const reset = batch.filter((sub) => !sub.connected || sub.closed);
      assert.deepEqual(reset.filter((sub) => sub.status !== 0 && sub.status !== 200).map((sub) => sub.status), [], 'refused while under the caps');
      if (reset.length === 0) break;
      reopened += reset.length;
      batch = reset.map((sub) => openRaw(port, sub.accountId, track));
    }
  }
  return { open, reopened };
}

function openRaw(port: number, accountId: string, track: boolean, lastEventId?: number): RawSubscription {
  const sub: RawSubscription = { accountId, socket: connect({ port, host: '127.0.0.1' }), connected: false, status: 0, lastId: 0, pings: 0, closed: false, errorCode: null, hungUp: false, text: '' };
  const path = `/trpc/account.onChange?input=${encodeURIComponent(JSON.stringify({ accountId }))}`;
  const resume = lastEventId ? `last-event-id: ${lastEventId}\r\n` : '';
  sub.lastId = lastEventId ?? 0;
  sub.socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n${resume}\r\n`);
  let head = '';
  let tail = '';
  sub.socket.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    if (sub.text.length < 1024) sub.text += text.slice(0, 1024);
    if (sub.status === 0) {
      head += text;
      const status = /^HTTP\/1\.1 (\d+)/.exec(head);
      if (status) sub.status = Number(status[1]);
    }
    if (!sub.connected && (head + text).includes('event: connected')) sub.connected = true;
    if (text.includes('event: ping')) sub.pings += 1;
    if (text.includes('event: serialized-error')) sub.errorCode = /"domainCode":"?(\w+)/.exec(text)?.[1] ?? 'untyped';
    // The end of a chunked answer: the server ended the stream, the connection stays open.
    if (/(^|\r\n)0\r\n\r\n$/.test(text)) sub.closed = true;
    if (track) {
      // Event ids are versions; a chunk may end in the middle of one.
      tail = (tail + text).slice(-4096);
      for (const match of tail.matchAll(/\nid: (\d+)\n/g)) sub.lastId = Math.max(sub.lastId, Number(match[1]));
    }
  });
  sub.socket.on('error', () => undefined);
  sub.socket.on('close', () => (sub.closed = true));
  return sub;
}

const startedAt = Date.now();
/** A line on the drill's progress (a slow drill shows where its time went). */
const progress = (what: string) => console.log(`# api-bounds drill +${Math.round((Date.now() - startedAt) / 1000)} s: ${what}`);

function hangUp(sub: RawSubscription) {
  sub.hungUp = true;
  sub.socket.destroy();
}

/** The API process's resident memory, in MB, from /proc. */
function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return Math.round(kb / 1024);
}

describe('API bounds under load (a stack the drill owns)', { timeout: 600_000 }, () => {
  let stack: DrillStack;
  const subs: RawSubscription[] = [];
  const reports: DrillReport[] = [];
  const figures: string[] = [];
  before(async () => {
    stack = await startDrillStack({ env: settings });
    progress('stack started');
  });
  after(async () => {
    for (const sub of subs) sub.socket.destroy();
    for (const report of reports) console.log(describeReport(report));
    for (const line of figures) console.log(line);
    await stack?.stop();
  });

  it('holds 10,000 idle subscriptions and refuses the next one typed, then rides out a paused Redis under load: alive, typed, nothing lost', async () => {
    const port = Number(new URL(stack.apiUrl).port);
    const apiPid = stack.roles.api.child!.pid!;
    const running = startLoad({ apiUrl: stack.apiUrl, prefix: uniqueId('bounds'), hotSenders: 10, manySenders: 10, accountsPerSender: 3 });
    try {
      await runFor(2000);
      const rssBefore = rssMb(apiPid);

      // Live subscribers on the accounts the load writes to, and 10,000 on accounts nobody writes to.
      const openedAt = Date.now();
      const live = await holdOpen(port, running.accounts.length * liveSubscribersPerAccount, (i) => running.accounts[Math.floor(i / liveSubscribersPerAccount)]!, true);
      subs.push(...live.open);
      const idle = await holdOpen(port, idleSubscriptions, (i) => `idle-${i % 1000}`);
      subs.push(...idle.open);
      const openMs = Date.now() - openedAt;
      const health = await fetch(`${stack.apiUrl}/health`);
      assert.equal(health.status, 200, 'healthy with 10,000 subscriptions open');
      const rssOpen = rssMb(apiPid);

      // Up to the cap (the live ones count too), and one more: refused, typed.
      const held = () => subs.filter((sub) => sub.connected && !sub.closed).length;
      const extra = { open: [] as RawSubscription[], reopened: 0 };
      for (let room = env.total - held(); room > 0; room = env.total - held()) {
        const more = await holdOpen(port, room, () => 'idle-extra');
        subs.push(...more.open);
        extra.open.push(...more.open);
        extra.reopened += more.reopened;
      }
      const over = openRaw(port, 'idle-extra', false);
      subs.push(over);
      await eventually(async () => (over.status !== 0 ? true : undefined), 60_000, 'the subscription over the cap answered');
      assert.equal(over.status, 429, 'one over API_SUBSCRIPTIONS_TOTAL');
      assert.match(over.text, /"domainCode":"SUBSCRIPTION_LIMIT"/);
      assert.match(over.text, /"retryable":true/);
      // Those above 10,000 close again: room for the live subscribers to reconnect.
      for (const sub of [...extra.open, over]) hangUp(sub);

      // Redis paused under the load and the open subscriptions.
      progress('one over the cap refused; pausing Redis');
      const pausedAt = Date.now();
      stack.redisServer.pause();
      const healthChecks: { status: number; ms: number }[] = [];
      const reads: { status: number; domainCode: string | null; ms: number }[] = [];
      try {
        while (Date.now() - pausedAt < pauseMs) {
          const started = Date.now();
          const answer = await fetch(`${stack.apiUrl}/health`, { signal: AbortSignal.timeout(30_000) });
          healthChecks.push({ status: answer.status, ms: Date.now() - started });
          const readStarted = Date.now();
          const read = await fetch(`${stack.apiUrl}/trpc/account.get?input=${encodeURIComponent(JSON.stringify({ accountId: running.hotAccount }))}`, { signal: AbortSignal.timeout(30_000) });
          const body = (await read.json()) as { error?: { data?: { domainCode?: string | null } } };
          reads.push({ status: read.status, domainCode: body.error?.data?.domainCode ?? null, ms: Date.now() - readStarted });
          await runFor(500);
        }
      } finally {
        stack.redisServer.resume();
      }
      const resumedAt = Date.now();
      const during = tallyBetween(running.tally, pausedAt, resumedAt);
      assert.ok(healthChecks.length > 0 && healthChecks.every((check) => check.ms < 20_000), `health answered each time: ${JSON.stringify(healthChecks)}`);
      assert.ok(healthChecks.some((check) => check.status === 503), 'health said Redis was away');
      const timedOut = reads.filter((read) => read.status === 503 && read.domainCode === 'REDIS_TIMEOUT');
      assert.ok(timedOut.length > 0, `reads refused 503 REDIS_TIMEOUT: ${JSON.stringify(reads)}`);
      assert.ok(reads.every((read) => read.status === 200 || (read.status === 503 && read.domainCode !== null)), `every refused read typed: ${JSON.stringify(reads)}`);
      assert.ok(during.acknowledged > 0, `commands were acknowledged while Redis was paused: ${describeBetween(during)}`);

      progress('Redis resumed');
      await runFor(3000);
      await running.stop();
      progress('load stopped');

      // Live subscribers end at their account's latest version.
      // Each account's version in its read model, read again on each look (a `wait: 'none'` command may still be decided).
      const versions = new Map<string, number>();
      const readVersions = async () => {
        for (const accountId of running.accounts) versions.set(accountId, (await stack.readModels.get(accountReadModel, accountId))?.version ?? 0);
      };
      // One whose stream ended (a read past its deadline while Redis was paused) reconnects from its last id, as tRPC's client does.
      const liveNow = [...live.open];
      let resumed = 0;
      const behind = () => liveNow.filter((sub) => sub.lastId !== versions.get(sub.accountId));
      await eventually(
        async () => {
          for (const [i, sub] of liveNow.entries()) {
            if (!sub.closed && sub.status < 400) continue;
            hangUp(sub);
            liveNow[i] = openRaw(port, sub.accountId, true, sub.lastId);
            subs.push(liveNow[i]!);
            resumed += 1;
          }
          await readVersions();
          return behind().length === 0 ? true : undefined;
        },
        60_000,
        'every live subscriber saw its account’s latest version',
      ).catch((error: Error) => {
        const lagging = behind().map((sub) => `${sub.accountId} at ${sub.lastId} of ${versions.get(sub.accountId)} (status ${sub.status}, connected ${sub.connected}, error ${sub.errorCode})`);
        throw new Error(`${error.message}: ${lagging.length} behind, e.g. ${lagging.slice(0, 5).join('; ')}`);
      });
      const ended = subs.filter((sub) => sub.closed && sub.connected && !sub.hungUp);
      const errorCodes = [...new Set(ended.map((sub) => sub.errorCode))];
      assert.ok(errorCodes.every((code) => code === 'REDIS_TIMEOUT' || code === 'REDIS_UNAVAILABLE'), `streams ended only with a typed, retryable error: ${errorCodes.join(', ')}`);
      const rssEnd = rssMb(apiPid);
      const pings = idle.open.reduce((sum, sub) => sum + sub.pings, 0);
      figures.push(
        `api-bounds: ${idleSubscriptions} idle subscriptions opened in ${openMs} ms (${live.reopened + idle.reopened + extra.reopened} reset while connecting, opened again); API RSS ${rssBefore} MB before, ${rssOpen} MB open (${Math.round(((rssOpen - rssBefore) * 1024) / idleSubscriptions)} KB each), ${rssEnd} MB at the end; ` +
          `${pings} heartbeats received; ${resumed} live subscribers resumed from their last id; ${ended.length} streams ended by an error event (${errorCodes.join(', ') || 'none'}: the client reconnects); 1 over the cap refused 429 SUBSCRIPTION_LIMIT; Redis paused ${resumedAt - pausedAt} ms: health answered ${healthChecks.length}× (slowest ${Math.max(...healthChecks.map((c) => c.ms))} ms), ` +
          `reads ${timedOut.length}× 503 REDIS_TIMEOUT (slowest ${Math.max(...reads.map((r) => r.ms))} ms), ${describeBetween(during)}`,
      );
    } finally {
      await running.stop();
    }
    progress('auditing');
    const report = { ...(await audit(stack, 'redis-paused', running)), fault: figures.at(-1) };
    reports.push(report);
    assertAccounted(report);
    assert.equal(stack.roles.api.crashes, 0, stack.roles.api.tail.join('\n'));
    assert.equal(stack.roles.api.child?.exitCode, null, 'the API still runs');
  });
});
