// The workflow bundle's entry: every workflow type the worker registers.
import { evolvers } from '../domain/evolvers';
import { aggregateWorkflowFor } from './aggregate';

export const aggregateWorkflow = aggregateWorkflowFor(evolvers);
export { checkoutProcess } from './checkout';
