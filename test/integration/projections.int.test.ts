import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EventEnvelope } from '../../core/envelopes';
import { defineProjection, type DocOf } from '../../core/projection';
import { createLogger } from '../../infra/logger';
import { topologyOf } from '../../infra/rabbit';
import { createProjectionAdmin } from '../../projectors/admin';
import { applyEntries } from '../../projectors/apply';
import { commitBatch } from '../../projectors/commit';
import { startProjector } from '../../projectors/runtime';
import { appliedChannel, projectionKeys } from '../../projectors/keys';
import { createReadModels, type AppliedNotice } from '../../projectors/store';
import { redisView } from '../../projectors/view';
import { ledgerConfigPath } from '../support/apps';
import { account, accountProjection, recentEntries, type AccountReadModel } from '../support/domains/ledger/account';
import { holder } from '../support/domains/ledger/holder';
import { envOf, eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';
import { publishAccountFiller } from '../support/stream';

/** A second projection beside the accounts': entries per account, with a handler that can be broken. */
let poisonFixed = false;
const entryCounts = defineProjection<{ accountId: string; entries: number; version: number }, typeof account.events>({
  name: 'entry-counts',
  version: 1,
  source: account,
  evolve(doc, event) {
    const current = doc ?? { accountId: event.aggregateId, entries: 0, version: 0 };
    if (event.type === 'Deposited' || event.type === 'Withdrawn') {
      if (event.payload.entryId === 'poison' && !poisonFixed) throw new Error('cannot count poison');
      return { ...current, entries: current.entries + 1, version: event.version };
    }
    return { ...current, version: event.version };
  },
});

describe('projection engine', { timeout: 240_000 }, () => {
  let stack: LedgerStack;
  before(async () => {
    stack = await startLedgerStack({ projections: [accountProjection, entryCounts] });
  });
  after(async () => {
    await stack?.stop();
  });

  const admin = () => createProjectionAdmin(stack.redis, stack.config.REDIS_PREFIX, [accountProjection, entryCounts]);
  const statusOf = async (name: string) => (await stack.trpc.system.projections.query()).find((s) => s.name === name)!;

  it('runs several projections side by side, each with its own checkpoint, and reports lag', async () => {
    const accountId = uniqueId('side');
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 1, wait: 'projected' });
    const counts = await eventually(() => createReadModels(stack.redis, stack.config.REDIS_PREFIX).get(entryCounts, accountId).then((d) => d ?? undefined));
    assert.equal(counts.entries, 1);

    const statuses = await eventually(async () => {
      const all = await stack.trpc.system.projections.query();
      return all.every((s) => s.state === 'live' && s.tail !== null && s.checkpoint !== null && s.checkpoint >= s.tail!) ? all : undefined;
    }, 10_000, 'both projections live and caught up');
    assert.deepEqual(statuses.map((s) => s.name).sort(), ['accounts', 'entry-counts']);
    for (const s of statuses) {
      assert.equal(s.lagEvents, 0);
      assert.equal(typeof s.lagSeconds, 'number');
      assert.equal(s.owner, stack.projector!.instanceId);
      assert.equal(s.generation, 1);
    }
    const checkpoints = await Promise.all(['accounts', 'entry-counts'].map((n) => stack.redis.get(projectionKeys(stack.config.REDIS_PREFIX, n).checkpoint(1))));
    assert.ok(checkpoints.every((c) => c !== null), 'a checkpoint per projection');

    const metrics = await (await fetch(`${stack.api!.url}/metrics`)).text();
    assert.match(metrics, /ledgerflow_projection_lag_events\{projection="accounts"\} 0/);
    assert.match(metrics, /ledgerflow_projection_up\{projection="entry-counts"\} 1/);
  });

  it('follows the stream tail with one long-lived consumer instead of a probe per tick', async () => {
    const stream = stack.config.EVENTS_STREAM;
    // Every tick (500 ms here) used to open a channel and a probe consumer per projection: the
    // console showed consumers coming and going. Count the channels opened while idle.
    const acquire = stack.rabbit.acquire.bind(stack.rabbit);
    let opened = 0;
    stack.rabbit.acquire = (...args) => {
      opened++;
      return acquire(...args);
    };
    try {
      await new Promise((resolve) => setTimeout(resolve, 3000));
    } finally {
      stack.rabbit.acquire = acquire;
    }
    assert.equal(opened, 0, 'no channel opened while idle');
    // The console lists the follower under its own name.
    const tag = `ledgerflow.tail.${stack.projector!.instanceId}`;
    await eventually(async () => {
      const consumers = (await (await fetch('http://127.0.0.1:15672/api/consumers', { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } })).json()) as { consumer_tag: string; queue: { name: string } }[];
      return consumers.some((c) => c.consumer_tag === tag && c.queue.name === stream) || undefined;
    }, 10_000, 'the tail follower in the management API');

    // The tail it reports moves with the stream.
    const accountId = uniqueId('tail');
    const before = (await statusOf('accounts')).tail ?? -1;
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 1, wait: 'projected' });
    await eventually(async () => ((await statusOf('accounts')).tail! > before ? true : undefined), 10_000, 'tail advanced');
  });

  it('parks a poison event, keeps the rest of the stream flowing, and re-drives it after a fix', async () => {
    const sick = uniqueId('sick');
    const healthy = uniqueId('healthy');
    await stack.trpc.account.deposit.mutate({ accountId: sick, entryId: 'ok-1', amount: 1 });
    await stack.trpc.account.deposit.mutate({ accountId: sick, entryId: 'poison', amount: 1 });
    await stack.trpc.account.deposit.mutate({ accountId: sick, entryId: 'ok-2', amount: 1 });
    const last = await stack.trpc.account.deposit.mutate({ accountId: healthy, entryId: 'x', amount: 1 });

    const readModels = createReadModels(stack.redis, stack.config.REDIS_PREFIX);
    // The stream moved on: the other account is counted, and the accounts projection has everything.
    await eventually(() => readModels.get(entryCounts, healthy).then((d) => (d?.version === last.version ? d : undefined)), 10_000, 'healthy counted');
    const fullAccount = await stack.trpc.account.get.query({ accountId: sick, minVersion: 3 });
    assert.deepEqual(fullAccount.entries.map((e) => e.entryId), ['ok-1', 'poison', 'ok-2']);

    const parked = await eventually(async () => {
      const list = await stack.trpc.system.parked.query({ projection: 'entry-counts' });
      return list.length === 2 ? list : undefined;
    }, 10_000, 'poison and the event behind it parked');
    assert.deepEqual(parked.map((p) => [p.aggregate, p.version]), [[`account:${sick}`, 2], [`account:${sick}`, 3]]);
    assert.match(parked[0]!.error, /cannot count poison/);
    assert.equal(parked[0]!.attempts, 3);
    assert.match(parked[1]!.error, /waiting behind an earlier parked event/);
    assert.equal((await readModels.get(entryCounts, sick))?.entries, 1, 'stopped before the poison event, in order');
    assert.equal((await eventually(async () => ((await statusOf('entry-counts')).parked === 2 ? statusOf('entry-counts') : undefined))).parked, 2);

    poisonFixed = true;
    const { parked: count } = await stack.trpc.system.redrive.mutate({ projection: 'entry-counts' });
    assert.equal(count, 2);
    const healed = await eventually(() => readModels.get(entryCounts, sick).then((d) => (d?.version === 3 ? d : undefined)), 10_000, 're-driven');
    assert.equal(healed.entries, 3);
    assert.deepEqual(await admin().parked('entry-counts'), []);
    // Later events of the account flow normally again.
    await stack.trpc.account.withdraw.mutate({ accountId: sick, entryId: 'ok-3', amount: 1 });
    await eventually(() => readModels.get(entryCounts, sick).then((d) => (d?.version === 4 && d.entries === 4 ? d : undefined)), 10_000, 'unblocked');

    const unknown = await stack.trpc.system.redrive.mutate({ projection: 'nope' }).then(() => null, (e: { data?: { code?: string } }) => e);
    assert.equal(unknown?.data?.code, 'NOT_FOUND');
  });

  it('parks an event it cannot read, with the events of its aggregate behind it', async () => {
    const accountId = uniqueId('unreadable');
    const envelope = (version: number, payload: Record<string, unknown>) => ({
      eventId: `account:${accountId}:${version}`, aggregateType: 'account', aggregateId: accountId, version, type: 'Deposited', schemaVersion: 1,
      payload, occurredAt: new Date().toISOString(), commandId: `k${version}`, correlationId: 'k', causationId: `k${version}`,
    });
    const publisher = stack.rabbit.createPublisher({ confirm: true });
    for (const event of [envelope(1, { entryId: 'a', amountCents: 'lots' }), envelope(2, { entryId: 'b', amountCents: 1 })]) {
      await publisher.send({ exchange: stack.config.EVENTS_EXCHANGE, routingKey: 'account.Deposited', messageId: event.eventId }, event);
    }
    await publisher.close();
    const parked = await eventually(async () => {
      const list = (await admin().parked('accounts')).filter((p) => p.aggregate === `account:${accountId}`);
      return list.length === 2 ? list : undefined;
    }, 10_000, 'both parked');
    assert.match(parked[0]!.error, /invalid Deposited payload/);
    assert.equal(parked[0]!.version, 1);
    assert.match(parked[1]!.error, /waiting behind/);
    assert.equal(await stack.readModels.get(accountProjection, accountId), null, 'nothing applied past the unreadable event');
  });

  it('rebuilds under load into a new generation while reads stay consistent, then drops the old one', async () => {
    const accounts = Array.from({ length: 20 }, () => uniqueId('rb'));
    for (const accountId of accounts) await stack.trpc.account.deposit.mutate({ accountId, entryId: 'first', amount: 1, wait: 'projected' });
    // A few thousand events of other accounts in the log, so the rebuild takes a while to replay.
    await publishAccountFiller(stack.rabbit, stack.config.EVENTS_EXCHANGE, 3000);
    const before = await statusOf('accounts');

    let writing = true;
    const writes = (async () => {
      let i = 0;
      while (writing) {
        await stack.trpc.account.deposit.mutate({ accountId: accounts[i % accounts.length]!, entryId: `more-${i}`, amount: 0.5 });
        i += 1;
      }
      return i;
    })();
    // Readers check every account over and over: never missing, never going back a version, and
    // each read tells (in the same step) whether a rebuild was under way while it was served.
    const seen = new Map<string, number>();
    const metaKey = `${stack.config.REDIS_PREFIX}:proj:accounts:meta`;
    let reads = 0;
    let readsDuringRebuild = 0;
    let reading = true;
    const readers = (async () => {
      while (reading) {
        for (const accountId of accounts) {
          const [rebuilding] = await stack.redis.multi().hGet(metaKey, 'rebuilding').exec();
          const doc = (await stack.readModels.get(accountProjection, accountId)) as AccountReadModel | null;
          assert.ok(doc, `${accountId} readable throughout`);
          assert.ok(doc.version >= (seen.get(accountId) ?? 0), `${accountId} never goes back a version`);
          assert.equal(doc.entries.length, Math.min(doc.version, recentEntries), 'a consistent document: an entry per version');
          seen.set(accountId, doc.version);
          reads += 1;
          if (rebuilding !== null) readsDuringRebuild += 1;
        }
      }
    })();

    try {
      await stack.trpc.system.rebuild.mutate({ projection: 'accounts' });
      await eventually(async () => {
        const s = await statusOf('accounts');
        return s.generation === before.generation! + 1 && s.state === 'live' ? s : undefined;
      }, 60_000, 'switched to the new generation');
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      writing = false;
      reading = false;
    }
    const written = await writes;
    await readers;
    assert.ok(written > 0 && reads > 0);
    assert.ok(readsDuringRebuild > 0, 'reads were served while the rebuild replayed the log');

    // Every account complete in the new generation; the old generation's keys are gone.
    for (const accountId of accounts) {
      const handle = stack.temporal.workflow.getHandle(`account:${accountId}`);
      const version = (await handle.query('version')) as number;
      const doc = await stack.trpc.account.get.query({ accountId, minVersion: version });
      assert.equal(doc.version, version);
      assert.equal(Math.round(doc.balance * 100), 100 + 50 * (version - 1), 'every deposit once, none applied twice');
    }
    await eventually(async () => {
      const keys: string[] = [];
      for await (const batch of stack.redis.scanIterator({ MATCH: `${stack.config.REDIS_PREFIX}:rm:accounts:g${before.generation}:*` })) keys.push(...batch);
      return keys.length === 0 ? true : undefined;
    }, 10_000, 'old generation dropped');
  });

  it('rebuilds at start when the projection definition version is raised', async () => {
    const before = await statusOf('accounts');
    await stack.projector!.stop();
    const accountsV2 = defineProjection({ ...accountProjection, version: accountProjection.version + 1 });
    stack.projector = startProjector(
      { redis: stack.redis, rabbit: stack.rabbit, topology: topologyOf(stack.config), prefix: stack.config.REDIS_PREFIX, log: createLogger('test', 'warn') },
      [accountsV2, entryCounts],
      { tickMs: 500, leaseMs: 3000 },
    );
    const after = await eventually(async () => {
      const s = await statusOf('accounts');
      return s.version === accountsV2.version && s.state === 'live' ? s : undefined;
    }, 60_000, 'rebuilt with version 2');
    assert.equal(after.generation, before.generation! + 1);
  });
});

describe('several projector instances', { timeout: 120_000 }, () => {
  let stack: LedgerStack;
  let child: ChildProcess | undefined;
  before(async () => {
    stack = await startLedgerStack({ projectorOptions: { tickMs: 500, leaseMs: 3000 } });
  });
  after(async () => {
    child?.kill('SIGKILL');
    await stack?.stop();
  });

  it('lets one instance own a projection; a standby takes over within seconds when the owner dies, without double-applying', async () => {
    // The in-process projector is the first owner; stop it and start an owner we can kill.
    await stack.projector!.stop();
    const env = envOf(stack.config, { LEDGERFLOW_CONFIG: ledgerConfigPath });
    child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'bin', 'projector.ts')], { env, stdio: 'ignore' });
    const status = async () => (await stack.trpc.system.projections.query()).find((s) => s.name === 'accounts')!;
    const childOwner = await eventually(async () => {
      const s = await status();
      return s.owner && s.state === 'live' ? s.owner : undefined;
    }, 30_000, 'the child owns the projection');
    const standby = stack.startProjector();
    assert.notEqual(childOwner, standby.instanceId);

    const accountId = uniqueId('lease');
    for (let i = 0; i < 5; i++) await stack.trpc.account.deposit.mutate({ accountId, entryId: `a${i}`, amount: 1, wait: 'projected' });
    assert.equal(standby.status()[0]!.state, 'standby');

    child.kill('SIGKILL');
    for (let i = 5; i < 10; i++) await stack.trpc.account.deposit.mutate({ accountId, entryId: `a${i}`, amount: 1 });
    const s = await eventually(async () => {
      const current = await status();
      return current.owner === standby.instanceId && current.state === 'live' ? current : undefined;
    }, 20_000, 'the standby took over');
    const doc = await stack.trpc.account.get.query({ accountId, minVersion: 10 });
    assert.deepEqual(doc.entries.map((e) => e.entryId), Array.from({ length: 10 }, (_, i) => `a${i}`), 'each once, in order');
    assert.equal(doc.balance, 10, 'nothing applied twice');
    assert.equal(s.gaps, 0);
  });
});

interface NamedAccount {
  kind: 'account';
  accountId: string;
  entries: number;
  holderId: string | null;
  holderName: string | null;
}
interface HolderName {
  kind: 'holder';
  holderId: string;
  name: string;
}
const holderDoc = (holderId: string) => `holder:${holderId}`;
const unassigned = (accountId: string): NamedAccount => ({ kind: 'account', accountId, entries: 0, holderId: null, holderName: null });
let poisonNameFixed = false;

/**
 * Accounts with their holder's current name: fed by accounts and holders, a holder's rename
 * fanned out to every account assigned to it.
 */
const namedAccounts = defineProjection<NamedAccount | HolderName, [typeof account, typeof holder]>({
  name: 'named-accounts',
  version: 1,
  sources: [account, holder],
  handlers: {
    'account.Deposited': {
      apply: (doc, event) => {
        const current = doc?.kind === 'account' ? doc : unassigned(event.aggregateId);
        return { ...current, entries: current.entries + 1 };
      },
    },
    'account.HolderAssigned': {
      apply: async (doc, event, read) => {
        const named = await read.get<HolderName>(holderDoc(event.payload.holderId));
        return { ...(doc?.kind === 'account' ? doc : unassigned(event.aggregateId)), holderId: event.payload.holderId, holderName: named?.name ?? null };
      },
    },
    'holder.HolderRegistered': {
      documents: (event) => [holderDoc(event.aggregateId)],
      apply: (_doc, event) => ({ kind: 'holder', holderId: event.aggregateId, name: event.payload.name }),
    },
    'holder.HolderRenamed': {
      documents: async (event, read) => [holderDoc(event.aggregateId), ...(await read.ids('byHolder', { key: event.aggregateId }))],
      apply: (doc, event) => {
        if (event.payload.name === 'poison' && !poisonNameFixed) throw new Error('cannot print poison');
        return doc?.kind === 'account' ? { ...doc, holderName: event.payload.name } : { kind: 'holder', holderId: event.aggregateId, name: event.payload.name };
      },
    },
  },
  indexes: {
    byHolder: (doc) => (doc.kind === 'account' && doc.holderId !== null ? { key: doc.holderId, score: doc.entries } : null),
  },
});
type NamedDoc = DocOf<typeof namedAccounts>;

/**
 * Envelopes with gapless versions per aggregate, as the aggregate's workflow would write them:
 * the tests below publish them straight to the exchange (no workflow runs these aggregates).
 */
function envelopes() {
  const versions = new Map<string, number>();
  return (aggregateType: 'account' | 'holder', aggregateId: string, type: string, payload: Record<string, unknown>): EventEnvelope => {
    const version = (versions.get(`${aggregateType}:${aggregateId}`) ?? 0) + 1;
    versions.set(`${aggregateType}:${aggregateId}`, version);
    return {
      eventId: `${aggregateType}:${aggregateId}:${version}`, aggregateType, aggregateId, version, type, schemaVersion: 1, payload,
      occurredAt: new Date().toISOString(), commandId: `${aggregateId}-${version}`, correlationId: aggregateId, causationId: `${aggregateId}-${version}`,
    };
  };
}

describe('a projection fed by two aggregates', { timeout: 240_000 }, () => {
  let stack: LedgerStack;
  before(async () => {
    stack = await startLedgerStack({ projections: [accountProjection, namedAccounts] });
  });
  after(async () => {
    await stack?.stop();
  });

  const event = envelopes();
  async function publish(...events: EventEnvelope[]) {
    const publisher = stack.rabbit.createPublisher({ confirm: true });
    for (const e of events) {
      await publisher.send({ exchange: stack.config.EVENTS_EXCHANGE, routingKey: `${e.aggregateType}.${e.type}`, messageId: e.eventId }, e);
    }
    await publisher.close();
  }
  const read = (id: string) => stack.readModels.get(namedAccounts, id);
  const accountsOf = async (holderId: string) => (await stack.readModels.list(namedAccounts, 'byHolder', { key: holderId })).map((d) => (d as NamedAccount).accountId).sort();
  const names = async (accountIds: string[]) => Promise.all(accountIds.map(async (id) => ((await read(id)) as NamedAccount | null)?.holderName ?? null));
  const statusOf = async () => (await stack.trpc.system.projections.query()).find((s) => s.name === namedAccounts.name)!;
  const assign = (accountId: string, holderId: string) => event('account', accountId, 'HolderAssigned', { holderId, holderVersion: 1 });

  it('fans an event out to every document, reads documents while applying, moves keyed index members, and rebuilds to the same documents', async () => {
    const [k1, k2, k3] = [uniqueId('k1'), uniqueId('k2'), uniqueId('k3')];
    const [h1, h2] = [uniqueId('h1'), uniqueId('h2')];
    await publish(
      ...[k1, k2, k3].map((accountId) => event('account', accountId, 'Deposited', { entryId: 'a', amountCents: 100 })),
      event('holder', h1, 'HolderRegistered', { name: 'Ada' }),
      assign(k1, h1),
      assign(k2, h1),
      event('holder', h2, 'HolderRegistered', { name: 'Grace' }),
      assign(k3, h2),
      event('holder', h1, 'HolderRenamed', { name: 'Ada Lovelace' }),
    );
    // The rename reached both of h1's accounts through its keyed index; applying read the holder's name.
    await eventually(async () => ((await names([k1, k2, k3])).join() === 'Ada Lovelace,Ada Lovelace,Grace' ? true : undefined), 15_000, 'renamed on every account of h1');
    assert.deepEqual(await accountsOf(h1), [k1, k2].sort());
    assert.deepEqual(await accountsOf(h2), [k3]);
    for (const id of [k1, k2, k3]) assert.equal(((await read(id)) as NamedAccount).entries, 1, 'account events and holder events in one document');

    // k2 moves from h1 to h2: the old member goes in the same commit as the new one comes.
    await publish(assign(k2, h2), event('holder', h2, 'HolderRenamed', { name: 'Grace Hopper' }));
    await eventually(async () => ((await names([k1, k2, k3])).join() === 'Ada Lovelace,Grace Hopper,Grace Hopper' ? true : undefined), 15_000, 'k2 moved and renamed with h2');
    assert.deepEqual(await accountsOf(h1), [k1]);
    assert.deepEqual(await accountsOf(h2), [k2, k3].sort());

    // Everything committed with the checkpoint: versions per aggregate, the keyed sets under the generation.
    // The status is published every tick: wait for one that agrees with what is committed and has nothing pending.
    const keys = projectionKeys(stack.config.REDIS_PREFIX, namedAccounts.name);
    const status = await eventually(async () => {
      const s = await statusOf();
      if (s.state !== 'live' || s.lagEvents !== 0 || s.generation === null) return undefined;
      return Number(await stack.redis.get(keys.checkpoint(s.generation))) === s.checkpoint ? s : undefined;
    }, 15_000, 'caught up, the status agreeing with the committed checkpoint');
    const generation = status.generation!;
    assert.deepEqual(await stack.redis.hmGet(keys.versions(generation), [`holder:${h1}`, `holder:${h2}`, `account:${k1}`, `account:${k2}`]), ['2', '2', '2', '3']);
    assert.deepEqual(await stack.redis.zRange(keys.index(generation, 'byHolder', h2), 0, -1), [k2, k3].sort());

    // Rebuilt from the log into a new generation: the same documents and index members.
    const ids = [k1, k2, k3, holderDoc(h1), holderDoc(h2)];
    const before = await Promise.all(ids.map(read));
    await stack.trpc.system.rebuild.mutate({ projection: namedAccounts.name });
    await eventually(async () => {
      const s = await statusOf();
      return s.generation === generation + 1 && s.state === 'live' ? s : undefined;
    }, 60_000, 'switched to the rebuilt generation');
    assert.deepEqual(await Promise.all(ids.map(read)), before);
    assert.deepEqual(await accountsOf(h1), [k1]);
    assert.deepEqual(await accountsOf(h2), [k2, k3].sort());
    await eventually(async () => {
      const left: string[] = [];
      for await (const batch of stack.redis.scanIterator({ MATCH: `${stack.config.REDIS_PREFIX}:rm:${namedAccounts.name}:g${generation}:*` })) left.push(...batch);
      return left.length === 0 ? true : undefined;
    }, 10_000, 'old generation dropped, keyed index sets included');
  });

  it('parks a failing event of one aggregate behind which its later events wait, lets the other aggregate flow, and re-drives them', async () => {
    const [k1, k2] = [uniqueId('pk1'), uniqueId('pk2')];
    const [h1, h2] = [uniqueId('ph1'), uniqueId('ph2')];
    await publish(
      event('holder', h1, 'HolderRegistered', { name: 'Ada' }),
      assign(k1, h1),
      event('holder', h2, 'HolderRegistered', { name: 'Grace' }),
      assign(k2, h2),
      event('holder', h1, 'HolderRenamed', { name: 'poison' }),
      event('holder', h1, 'HolderRenamed', { name: 'Ada Lovelace' }),
      event('holder', h2, 'HolderRenamed', { name: 'Grace Hopper' }),
    );
    await eventually(async () => ((await names([k2])).join() === 'Grace Hopper' ? true : undefined), 15_000, 'h2 flows on');
    const parked = await eventually(async () => {
      const list = await stack.trpc.system.parked.query({ projection: namedAccounts.name });
      return list.length === 2 ? list : undefined;
    }, 15_000, 'the poison rename and the one behind it parked');
    assert.deepEqual(parked.map((p) => [p.aggregate, p.version]), [[`holder:${h1}`, 2], [`holder:${h1}`, 3]]);
    assert.deepEqual(await names([k1]), ['Ada'], 'nothing of the failed fan-out applied');

    poisonNameFixed = true;
    await stack.trpc.system.redrive.mutate({ projection: namedAccounts.name });
    await eventually(async () => ((await names([k1])).join() === 'Ada Lovelace' ? true : undefined), 15_000, 're-driven in order');
    assert.deepEqual(await stack.trpc.system.parked.query({ projection: namedAccounts.name }), []);
  });

  it('writes a batch in one step guarded by the lease: documents, keyed index moves, versions, checkpoint and notice, or nothing', async () => {
    // A projection nobody runs, written by hand the way the runtime writes it.
    const scratch = defineProjection<NamedAccount | HolderName, [typeof account, typeof holder]>({ ...namedAccounts, name: uniqueId('scratch'), sources: [account, holder] });
    const keys = projectionKeys(stack.config.REDIS_PREFIX, scratch.name);
    await stack.redis.hSet(keys.meta, 'generation', '1');
    await stack.redis.set(keys.lease, 'owner');
    const target = { keys, projection: scratch.name, channel: appliedChannel(stack.config.REDIS_PREFIX), generation: 1, guard: 'generation' as const };
    const view = redisView(stack.redis, keys, 1);
    const [k1, h1, h2] = [uniqueId('sk'), uniqueId('sh1'), uniqueId('sh2')];
    const own = envelopes();
    const entries = (events: EventEnvelope[], from: number) => events.map((body, i) => ({ offset: from + i, body }));

    // One batch whose later events read what its earlier ones wrote.
    const first = await applyEntries(scratch, entries([
      own('holder', h1, 'HolderRegistered', { name: 'Ada' }),
      own('account', k1, 'Deposited', { entryId: 'a', amountCents: 100 }),
      own('account', k1, 'HolderAssigned', { holderId: h1, holderVersion: 1 }),
      own('holder', h1, 'HolderRenamed', { name: 'Ada Lovelace' }),
    ], 100), view);
    assert.equal(await commitBatch(stack.redis, { ...target, owner: 'intruder' }, first.batch, { checkpoint: 103 }), 'LEASE_LOST');
    const written = async () => {
      const found: string[] = [];
      for await (const batch of stack.redis.scanIterator({ MATCH: `${stack.config.REDIS_PREFIX}:*${scratch.name}:g1*` })) found.push(...batch);
      return found.sort();
    };
    assert.deepEqual(await written(), [], 'a refused commit writes nothing');

    const subscriber = stack.redis.duplicate();
    await subscriber.connect();
    const notices: AppliedNotice[] = [];
    await subscriber.subscribe(target.channel, (message) => {
      const notice = JSON.parse(message) as AppliedNotice;
      if (notice.projection === scratch.name) notices.push(notice);
    });
    try {
      assert.equal(await commitBatch(stack.redis, { ...target, owner: 'owner' }, first.batch, { checkpoint: 103 }), 'OK');
      assert.deepEqual(await stack.readModels.get(scratch, k1), { kind: 'account', accountId: k1, entries: 1, holderId: h1, holderName: 'Ada Lovelace' } satisfies NamedDoc);
      assert.equal(await stack.redis.get(keys.checkpoint(1)), '103');
      assert.deepEqual(await stack.redis.hGetAll(keys.versions(1)), { [`holder:${h1}`]: '2', [`account:${k1}`]: '2' });
      assert.deepEqual(await stack.redis.zRange(keys.index(1, 'byHolder', h1), 0, -1), [k1]);

      // The next batch moves the account to another holder: the old member is removed in the same commit.
      const second = await applyEntries(scratch, entries([own('holder', h2, 'HolderRegistered', { name: 'Grace' }), own('account', k1, 'HolderAssigned', { holderId: h2, holderVersion: 1 })], 104), view);
      assert.equal(await commitBatch(stack.redis, { ...target, owner: 'owner' }, second.batch, { checkpoint: 105 }), 'OK');
      assert.deepEqual(await stack.redis.zRange(keys.index(1, 'byHolder', h1), 0, -1), []);
      assert.deepEqual(await stack.readModels.list(scratch, 'byHolder', { key: h2 }), [{ kind: 'account', accountId: k1, entries: 1, holderId: h2, holderName: 'Grace' }]);
      await eventually(async () => (notices.length === 2 ? true : undefined), 5_000, 'a notice per commit');
      assert.deepEqual(notices, [
        { projection: scratch.name, generation: 1, versions: { [`holder:${h1}`]: 2, [`account:${k1}`]: 2 } },
        { projection: scratch.name, generation: 1, versions: { [`holder:${h2}`]: 1, [`account:${k1}`]: 3 } },
      ]);
    } finally {
      await subscriber.quit();
    }
  });
});
