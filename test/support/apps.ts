/** The apps the tests run: the engine's test domain (the ledger), the shop (examples/shop) and test releases of it (test/support/domains). */
import { join } from 'node:path';
import { loadApp, type LoadedApp } from '../../infra/app-loader';

export const repoRoot = join(__dirname, '..', '..');
export const shopConfigPath = join(repoRoot, 'examples', 'shop', 'ledgerflow.config.ts');

export const loadShop = (): Promise<LoadedApp> => loadApp(shopConfigPath);

/** The engine's own test domain: accounts and their holders (test/support/domains/ledger). */
export const ledgerConfigPath = join(__dirname, 'domains', 'ledger.config.ts');
export const loadLedger = (): Promise<LoadedApp> => loadApp(ledgerConfigPath);

/**
 * A test release: of the ledger, buggy (a decide that throws), stricter (new rules) and bulky
 * (an aggregate that grows); of the shop's cart (for the drills), twice (decides twice).
 */
export const loadTestApp = (name: 'buggy' | 'stricter' | 'twice' | 'bulky'): Promise<LoadedApp> => loadApp(join(__dirname, 'domains', `${name}.config.ts`));

export { default as shop } from '../../examples/shop/ledgerflow.config';
