// A workflows entry with the test-only bulky aggregate beside the reference domain.
import { aggregateWorkflowFor } from '../../../workflows/aggregate';
import { bulkyAggregates } from './bulky';

export const aggregateWorkflow = aggregateWorkflowFor(bulkyAggregates);
