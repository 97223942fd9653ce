import type { AnyAggregate } from '../../core/aggregate';
import { decideStep, type DecideStepInput, type StepDecision } from '../../core/decider';
import { cart2026_11_22 } from './cart-2026-11-22';

/** The deciders runs from before recorded decisions replay with, by aggregate type. */
const legacyDeciders: Readonly<Record<string, AnyAggregate>> = { cart: cart2026_11_22 };

export function decideAsReleased(aggregateType: string, input: DecideStepInput): StepDecision[] {
  const aggregate = legacyDeciders[aggregateType];
  if (!aggregate) throw new Error(`no decider of an earlier release for '${aggregateType}'`);
  return decideStep(aggregate, input);
}
