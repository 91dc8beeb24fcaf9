// Validates a saga definition once, when it is defined, so that a broken saga never reaches a queue.
import { SagaDefinitionError } from './errors.ts';
import { canTransition, type StepState } from './state-machine.ts';
import type { RetryPolicy, SagaDefinition } from './types.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Checks a saga definition and returns it; throws SagaDefinitionError listing every problem. */
export function defineSaga<Input>(definition: SagaDefinition<Input>): SagaDefinition<Input> {
  const problems: string[] = [];
  const name = typeof definition?.name === 'string' ? definition.name : '';
  if (!NAME.test(name)) problems.push(`name ${JSON.stringify(definition?.name)} must match ${NAME}`);
  const steps = Array.isArray(definition?.steps) ? definition.steps : [];
  if (steps.length === 0) problems.push('it has no steps');
  const seen = new Set<string>();
  let previous = 'initialized' as StepState;
  for (const [i, step] of steps.entries()) {
    const label = `step ${i} (${JSON.stringify(step?.name)})`;
    if (typeof step?.name !== 'string' || !NAME.test(step.name)) problems.push(`${label}: name must match ${NAME}`);
    else if (seen.has(step.name)) problems.push(`${label}: duplicate step name`);
    else seen.add(step.name);
    if (typeof step?.action !== 'function') problems.push(`${label}: action handler is missing`);
    if (step?.compensation !== undefined && typeof step.compensation !== 'function') {
      problems.push(`${label}: compensation must be a function`);
    }
    problems.push(...retryProblems(`${label} retry`, step?.retry), ...retryProblems(`${label} compensationRetry`, step?.compensationRetry));
    if (step?.timeoutMs !== undefined && !(Number.isInteger(step.timeoutMs) && step.timeoutMs > 0)) {
      problems.push(`${label}: timeoutMs must be a positive integer`);
    }
    const state: StepState = step?.state ?? 'processing';
    if (state !== previous && !canTransition(previous, state)) {
      problems.push(`${label}: state ${state} cannot follow ${previous}`);
    }
    previous = state;
  }
  if (steps.length > 0 && previous !== 'processing') problems.push('the last step must run in state processing');
  if (definition?.timeoutSeconds !== undefined && !(definition.timeoutSeconds > 0)) {
    problems.push('timeoutSeconds must be positive');
  }
  if (problems.length > 0) throw new SagaDefinitionError(name || '?', problems);
  return definition;
}

function retryProblems(label: string, policy: RetryPolicy | undefined): string[] {
  if (policy === undefined) return [];
  const out: string[] = [];
  if (!(Number.isInteger(policy.attempts) && policy.attempts >= 1)) out.push(`${label}.attempts must be an integer >= 1`);
  if (!(Number.isFinite(policy.backoffMs) && policy.backoffMs >= 0)) out.push(`${label}.backoffMs must be >= 0`);
  if (policy.backoff !== undefined && policy.backoff !== 'fixed' && policy.backoff !== 'exponential') {
    out.push(`${label}.backoff must be fixed or exponential`);
  }
  return out;
}
