/** The apps the tests run: the shop (examples/shop) and test releases of it (test/support/domains). */
import { join } from 'node:path';
import { loadApp, type LoadedApp } from '../../infra/app-loader';

export const repoRoot = join(__dirname, '..', '..');
export const shopConfigPath = join(repoRoot, 'examples', 'shop', 'ledgerflow.config.ts');

export const loadShop = (): Promise<LoadedApp> => loadApp(shopConfigPath);

/** A test release of the shop: buggy (a decide that throws), stricter (new rules), twice (decides twice), bulky (an aggregate that grows). */
export const loadTestApp = (name: 'buggy' | 'stricter' | 'twice' | 'bulky'): Promise<LoadedApp> => loadApp(join(__dirname, 'domains', `${name}.config.ts`));

export { default as shop } from '../../examples/shop/ledgerflow.config';
