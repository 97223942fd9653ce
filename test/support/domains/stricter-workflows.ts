// A workflows entry for the stricter release: what its worker bundles.
import { aggregateWorkflowFor } from '../../../workflows/aggregate';
import { stricterAggregates } from './stricter-cart';

export const aggregateWorkflow = aggregateWorkflowFor(stricterAggregates);
