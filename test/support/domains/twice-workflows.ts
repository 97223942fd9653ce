// A workflows entry for the release whose cart applies a `~twice` add twice.
import { aggregateWorkflowFor } from '../../../workflows/aggregate';
import { twiceAggregates } from './twice-cart';

export const aggregateWorkflow = aggregateWorkflowFor(twiceAggregates);
