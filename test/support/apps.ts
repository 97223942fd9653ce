/** The apps the tests run: the engine's test domain (the ledger) and test releases of it (test/support/domains). */
import { join } from 'node:path';
import { loadApp, type LoadedApp } from '../../infra/app-loader';

export const repoRoot = join(__dirname, '..', '..');

/** The engine's own test domain: accounts and their holders (test/support/domains/ledger). */
export const ledgerConfigPath = join(__dirname, 'domains', 'ledger.config.ts');
export const loadLedger = (): Promise<LoadedApp> => loadApp(ledgerConfigPath);

/**
 * A test release of the ledger: buggy (a decide that throws), stricter (new rules), bulky (an
 * aggregate that grows), audited (with account statements: every entry, what the drills account
 * against), twice (audited, with a deposit decided twice, for the drills' proof) and payouts (a
 * withdrawal starts a process, which confirms with a command only processes send).
 */
export type TestApp = 'buggy' | 'stricter' | 'bulky' | 'audited' | 'twice' | 'payouts';
export const testAppPath = (name: TestApp) => join(__dirname, 'domains', `${name}.config.ts`);
export const loadTestApp = (name: TestApp): Promise<LoadedApp> => loadApp(testAppPath(name));
