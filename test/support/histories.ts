/**
 * The shop's history recorder, now the shop's own (examples/shop/scripts/record-histories.ts):
 * kept here for the engine tests that still replay the shop's histories (tracing.int) until they
 * import it from there.
 */
export { historiesDir, recordScenarios } from '../../examples/shop/scripts/record-histories';
