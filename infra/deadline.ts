/** Bounded waits: one place for them (a sleep is Node's own `timers/promises` setTimeout). */
export { setTimeout as sleep } from 'node:timers/promises';

/** Rejects with `error` unless `work` settles within `ms`; the timer never outlives the race. */
export function within<T>(ms: number, work: Promise<T>, error: Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
