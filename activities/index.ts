/** Every activity the worker registers; workflows import this module as a type only. */
import { createDecideActivities, type DecideDeps } from './decide';
import { createProcessActivities, type ProcessDeps } from './process';
import { createPublishActivities, type PublishDeps } from './publish';

export type ActivityDeps = PublishDeps & DecideDeps & ProcessDeps;

export function createActivities(deps: ActivityDeps) {
  return { ...createPublishActivities(deps), ...createDecideActivities(deps), ...createProcessActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
export { createPublishActivities, createDecideActivities, createProcessActivities };
