// prom-client's default process and Node.js metrics, made to pass `promtool check metrics`: three of them are gauges
// named `_total` (nodejs_active_{handles,requests,resources}_total), which Prometheus naming forbids.
import { collectDefaultMetrics, type Registry } from 'prom-client';

// Each is the sum over the `type` label of the same family without the suffix (nodejs_active_handles{type} ...),
// which prom-client exports too: removing them loses nothing.
const MISNAMED = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Registers the default metrics in `registry`, without the gauges misnamed `_total`. */
export function collectNodeMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED) registry.removeSingleMetric(name);
}
