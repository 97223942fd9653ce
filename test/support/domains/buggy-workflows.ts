// A workflows entry for the release with the buggy cart.
import { aggregateWorkflowFor } from '../../../workflows/aggregate';
import { buggyAggregates } from './buggy-cart';

export const aggregateWorkflow = aggregateWorkflowFor(buggyAggregates);
