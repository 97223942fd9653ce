/**
 * The ceiling's workflow: it only counts the updates it is sent. Whatever Temporal allows this
 * workflow is what an aggregate workflow could reach at best on the same server and machine.
 * (Workflow code: @temporalio/workflow only.)
 */
import { allHandlersFinished, condition, continueAsNew, defineUpdate, setHandler, workflowInfo } from '@temporalio/workflow';

/** Takes a command-sized argument (so payload handling costs the same) and answers the count. */
export const countUpdate = defineUpdate<number, [unknown]>('count');

export async function counterWorkflow(counted = 0): Promise<void> {
  let count = counted;
  setHandler(countUpdate, () => ++count);
  // Bounded history, as any long-lived entity needs: the server suggests it by history size
  // and by the number of updates a run has taken.
  await condition(() => workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  await continueAsNew<typeof counterWorkflow>(count);
}
