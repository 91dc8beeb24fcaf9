// Whether a step runs under a lease (claimed, heartbeats) for one saga: declared per step, or decided from the input.
import type { JsonValue, StepDefinition } from './types.ts';

/** True when `step` must be claimed under a lease for a saga with this stored input. */
export function isLongRunning(step: Pick<StepDefinition, 'longRunning'>, input: JsonValue): boolean {
  const declared = step.longRunning;
  // The stored input is what parseInput returned at start, so it is the definition's Input.
  return typeof declared === 'function' ? declared(input) : declared === true;
}
