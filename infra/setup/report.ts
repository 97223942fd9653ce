/** What every service's setup shares: the report it adds to, and how it says what it cannot fix. */
import type { Logger } from '../logger';

export interface SetupReport {
  /** What was found in order, one line each. */
  checked: string[];
  /** What this run changed (with `dryRun`: what it would change). Empty when the cluster was ready. */
  changed: string[];
  /** The cluster is ready for Ledgerflow after this run (with `dryRun`: is ready now). */
  ok: boolean;
}

/** What `ledgerflow setup` was asked to do. */
export interface SetupOptions {
  /** Check only: report what a run would change, change nothing. */
  dryRun?: boolean;
  log?: Logger;
}

/** How long setup waits for a service to answer, and for a registered attribute or policy to show. */
export const answerMs = 10_000;
export const visibleMs = 60_000;

/** What setup found and cannot fix, or a service that did not answer: the report says it, not ok. */
export class SetupProblem extends Error {
  override readonly name = 'SetupProblem';
}

/** What setup reports for a service's call that did not answer within `answerMs` (see `within`). */
export const noAnswer = (what: string) => new SetupProblem(`${what} did not answer within ${answerMs / 1000}s`);

export const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
