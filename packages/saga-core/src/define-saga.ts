// Validates a saga definition once, when it is defined, so that a broken saga never reaches a queue.
import { SagaDefinitionError } from './errors.ts';
import { DEFAULT_STAGES, ENGINE_STATES, canTransition, type StageMachine } from './state-machine.ts';
import { storeRegistryProblems } from './store-registry.ts';
import type { RetryPolicy, SagaDefinition, StepOutputs } from './types.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Checks a saga definition and returns it; throws SagaDefinitionError listing every problem. */
export function defineSaga<Input, Outputs extends StepOutputs = StepOutputs, Stores extends string = string>(
  definition: SagaDefinition<Input, Outputs, Stores>,
): SagaDefinition<Input, Outputs, Stores> {
  const problems: string[] = [];
  const name = typeof definition?.name === 'string' ? definition.name : '';
  if (!NAME.test(name)) problems.push(`name ${JSON.stringify(definition?.name)} must match ${NAME}`);
  const steps = Array.isArray(definition?.steps) ? definition.steps : [];
  if (steps.length === 0) problems.push('it has no steps');
  const seen = new Set<string>();
  const stages: StageMachine = definition?.stages ?? DEFAULT_STAGES;
  problems.push(...stageProblems(stages));
  let previous: string = ENGINE_STATES.initial;
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
    if (step?.concurrency !== undefined && !(Number.isInteger(step.concurrency) && step.concurrency > 0)) {
      problems.push(`${label}: concurrency must be a positive integer`);
    }
    const state = step?.state ?? ENGINE_STATES.running;
    if (state !== previous && !canTransition(previous, state, stages) && !stages.via?.(previous, state)) {
      problems.push(`${label}: state ${state} cannot follow ${previous}`);
    }
    previous = state;
  }
  if (steps.length > 0 && !canTransition(previous, ENGINE_STATES.completed, stages)) problems.push(`the last step's state ${previous} cannot be followed by completed`);
  problems.push(...storeRegistryProblems(definition?.stores));
  if (definition?.timeoutSeconds !== undefined && !(definition.timeoutSeconds > 0)) {
    problems.push('timeoutSeconds must be positive');
  }
  if (problems.length > 0) throw new SagaDefinitionError(name || '?', problems);
  return definition;
}

// The engine's own labels must be in the table, each able to reach its end, so that any saga can start, end and roll back.
function stageProblems(stages: StageMachine): string[] {
  const out: string[] = [];
  for (const label of Object.values(ENGINE_STATES)) if (!stages.allowed[label]) out.push(`stages must include the engine's state ${label}`);
  for (const [from, tos] of Object.entries(stages.allowed)) {
    for (const to of tos) if (!stages.allowed[to]) out.push(`stages: ${from} -> ${to} names an unknown state`);
  }
  if (!canTransition(ENGINE_STATES.rollingBack, ENGINE_STATES.rolledBack, stages) || !canTransition(ENGINE_STATES.rollingBack, ENGINE_STATES.rollbackFailed, stages)) {
    out.push('stages: rolling_back must lead to rolled_back and rollback_failed');
  }
  return out;
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
