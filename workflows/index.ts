// The workflow bundle's entry: every workflow type the worker registers.
import { aggregates } from '../domain';
import { aggregateWorkflowFor } from './aggregate';

export const aggregateWorkflow = aggregateWorkflowFor(aggregates);
export { checkoutProcess } from './checkout';
