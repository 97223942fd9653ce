import type { ProjectionContext } from './context';

/** Extends the lease only for its holder: an expired lease another instance took is left alone. */
const renewScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Gives the lease up (and the status it reported) only if this instance still holds it. */
const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1], KEYS[2]) end
return 0`;

/**
 * One owner per projection: a Redis key holding the owner's id with a TTL. The owner renews it
 * every tick; when the owner dies it expires and a standby takes it. The commit script checks it
 * too, so a deposed owner cannot write.
 */
export function projectionLease({ redis, keys, owner, leaseMs }: ProjectionContext) {
  return {
    async acquire(): Promise<boolean> {
      return (await redis.set(keys.lease, owner, { condition: 'NX', expiration: { type: 'PX', value: leaseMs } })) === 'OK';
    },
    /** False when another instance owns it now, or Redis lost it (and maybe everything else). */
    async renew(): Promise<boolean> {
      return Number(await redis.eval(renewScript, { keys: [keys.lease], arguments: [owner, String(leaseMs)] })) === 1;
    },
    async release(): Promise<void> {
      await redis.eval(releaseScript, { keys: [keys.lease, keys.status], arguments: [owner] }).catch(() => {});
    },
  };
}
