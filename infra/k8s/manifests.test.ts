// infra/k8s/fleet.yaml, checked offline (there is no cluster here): every object against the Kubernetes and KEDA JSON
// schemas (kubernetes-models), then the properties the fleet relies on: probes on the endpoints the apps serve, a
// drain shorter than the grace period, one janitor at a time, the producer as the only entrance, and an autoscaler
// trigger for every step queue.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { queueName } from '@ingest/saga-core';
import { DELETE_SAGA, DELETE_STEPS, INGEST_SAGA, INGEST_STEPS } from '@ingest/ingest';

const here = path.dirname(fileURLToPath(import.meta.url));

interface Model {
  validate(): void;
}
type Doc = { apiVersion?: string; kind?: string; metadata?: { name?: string } } & Record<string, unknown>;

const MODELS: Record<string, new (data: never) => Model> = {
  'v1/ConfigMap': ConfigMap as never,
  'v1/Secret': Secret as never,
  'v1/Service': Service as never,
  'apps/v1/Deployment': Deployment as never,
  'batch/v1/CronJob': CronJob as never,
  'batch/v1/Job': Job as never,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as never,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy as never,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject as never,
};

function load(file: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const d of docs) if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
  return docs.map((d) => d.toJS() as Doc).filter((d) => d !== null);
}

/** Validates one object against its schema; returns the problem, or undefined when valid. */
function schemaProblem(doc: Doc): string | undefined {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) return `no schema known for ${doc.apiVersion} ${doc.kind}`;
  try {
    new Model(doc as never).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const docs = load(path.join(here, 'fleet.yaml'));
const find = <T>(kind: string, name: string): T => {
  const doc = docs.find((d) => d.kind === kind && d.metadata?.name === name);
  if (!doc) throw new Error(`fleet.yaml has no ${kind} ${name}`);
  return doc as unknown as T;
};

interface Container {
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { tcpSocket?: { port: string | number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  containers: Container[];
}
interface DeploymentDoc {
  spec: { replicas?: number; selector: { matchLabels: Record<string, string> }; template: { spec: PodSpec } };
}

describe('infra/k8s/fleet.yaml', () => {
  it('every object is valid against the Kubernetes and KEDA schemas', () => {
    expect(docs.length).toBeGreaterThanOrEqual(10);
    const problems = docs.map((d) => [`${d.kind} ${d.metadata?.name}`, schemaProblem(d)]).filter(([, p]) => p !== undefined);
    expect(problems).toEqual([]);
  });

  it('the validator refuses a malformed object (so the check above can fail)', () => {
    const worker = structuredClone(find<DeploymentDoc & Doc>('Deployment', 'ingest-worker'));
    worker.spec.template.spec.containers[0]!.ports = [{ containerPort: 'metrics' as unknown as number }];
    expect(schemaProblem(worker)).toMatch(/containerPort must be integer/);
    expect(schemaProblem({ apiVersion: 'v1', kind: 'Pod' })).toMatch(/no schema known/);
  });

  it('the apps run their bundles, with probes on the endpoints they serve', () => {
    const producer = find<DeploymentDoc>('Deployment', 'ingest-producer').spec.template.spec.containers[0]!;
    const worker = find<DeploymentDoc>('Deployment', 'ingest-worker').spec.template.spec.containers[0]!;
    expect(producer.args).toEqual(['apps/producer/dist/main.js']);
    expect(worker.args).toEqual(['apps/worker/dist/main.js']);
    // The apps serve the path the probes call.
    expect(readFileSync(path.join(here, '../../apps/worker/src/metrics-server.ts'), 'utf8')).toContain("app.get('/readyz'");
    expect(readFileSync(path.join(here, '../../apps/producer/src/routes/operations.ts'), 'utf8')).toContain("app.get('/readyz'");
    for (const c of [producer, worker]) {
      // The readiness gate's state (apps/*/src/main.ts), which also pauses a worker's consumers.
      expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
      expect(c.readinessProbe?.httpGet?.port).toBe(c.ports?.[0]?.name);
      // Liveness must not follow a dependency's outage (that would restart every pod at once).
      expect(c.livenessProbe?.tcpSocket).toBeDefined();
      expect(c.resources?.requests?.memory).toBeDefined();
      expect(c.resources?.limits?.memory).toBeDefined();
    }
  });

  it('a worker gets longer than its drain before SIGKILL, and a node drain evicts one at a time', () => {
    const main = readFileSync(path.join(here, '../../apps/worker/src/main.ts'), 'utf8');
    const drainMs = Number(/const DRAIN_TIMEOUT_MS = ([\d_]+);/.exec(main)?.[1]?.replaceAll('_', ''));
    expect(drainMs).toBeGreaterThan(0);
    expect(find<DeploymentDoc>('Deployment', 'ingest-worker').spec.template.spec.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(drainMs);
    const pdb = find<{ spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget', 'ingest-worker');
    expect(pdb.spec.selector.matchLabels).toEqual(find<DeploymentDoc>('Deployment', 'ingest-worker').spec.selector.matchLabels);
    expect(pdb.spec.maxUnavailable).toBe(1);
  });

  it('the janitor never runs twice at once and has a deadline', () => {
    const cron = find<{ spec: { concurrencyPolicy: string; jobTemplate: { spec: { activeDeadlineSeconds?: number } } } }>('CronJob', 'ingest-janitor');
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    expect(cron.spec.jobTemplate.spec.activeDeadlineSeconds).toBeGreaterThan(0);
  });

  it('the schema is migrated by a Job running the compiled migrate entry that the build produces and the image ships', () => {
    const job = find<{ spec: { backoffLimit?: number; activeDeadlineSeconds?: number; template: { spec: PodSpec & { restartPolicy: string } } } }>('Job', 'ingest-migrate');
    const args = job.spec.template.spec.containers[0]!.args ?? [];
    expect(args).toEqual(['apps/storage-admin/dist/migrate-main.js']);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    expect(job.spec.activeDeadlineSeconds).toBeGreaterThan(0);
    expect(readFileSync(path.join(here, '../../scripts/build.mjs'), 'utf8')).toMatch(/'storage-admin': \[[^\]]*'migrate-main'/);
    expect(readFileSync(path.join(here, '../Dockerfile'), 'utf8')).toContain('COPY --from=build /app/apps/storage-admin/dist apps/storage-admin/dist');
  });

  it('only the producer accepts traffic from outside', () => {
    const policies = docs.filter((d) => d.kind === 'NetworkPolicy') as unknown as { spec: { podSelector: { matchLabels?: Record<string, string> }; ingress?: { from?: unknown[] }[] } }[];
    const denyAll = policies.find((p) => p.spec.podSelector.matchLabels?.['app.kubernetes.io/part-of'] === 'ingest-fleet' && p.spec.ingress === undefined);
    expect(denyAll).toBeDefined();
    const open = policies.filter((p) => p.spec.ingress?.some((rule) => rule.from === undefined));
    expect(open.map((p) => p.spec.podSelector.matchLabels)).toEqual([{ app: 'ingest-producer' }]);
  });

  it('the autoscaler watches the wait list of every step queue, and of nothing else', () => {
    const scaled = find<{ spec: { scaleTargetRef: { name: string }; triggers: { type: string; metadata: { listName: string } }[] } }>('ScaledObject', 'ingest-worker');
    expect(scaled.spec.scaleTargetRef.name).toBe('ingest-worker');
    const prefix = find<{ data: Record<string, string> }>('ConfigMap', 'ingest-config').data.QUEUE_PREFIX;
    const lists = scaled.spec.triggers.map((t) => t.metadata.listName);
    const sagas = [
      [INGEST_SAGA, INGEST_STEPS],
      [DELETE_SAGA, DELETE_STEPS],
    ] as const;
    const known = sagas.flatMap(([saga, steps]) => steps.flatMap((s) => (['action', 'compensation'] as const).map((p) => `${prefix}:${queueName(saga, s, p)}:wait`)));
    for (const [saga, steps] of sagas) for (const step of steps) expect(lists).toContain(`${prefix}:${queueName(saga, step, 'action')}:wait`);
    expect(lists.filter((l) => !known.includes(l))).toEqual([]);
  });
});
