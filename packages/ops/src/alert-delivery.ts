// Delivers the engine's alert rows (saga_alerts) to a webhook through their outbox (alert_deliveries, filled by a
// trigger in the alert's own transaction): due rows are claimed with SKIP LOCKED, POSTed outside any transaction,
// then marked delivered or rescheduled with capped exponential backoff. A webhook that is down loses nothing.
import type { Logger } from 'pino';
import type { Sql } from 'postgres';

/** Body layout: the alert as JSON, or a Slack incoming-webhook message (`text`) with the same fields attached. */
export type AlertFormat = 'json' | 'slack';

/** Options of deliverAlerts. */
export interface AlertDeliveryOptions {
  sql: Sql;
  webhookUrl: string;
  /** Default 'json'. */
  format?: AlertFormat;
  logger: Logger;
  /** Rows claimed per call. Default 50. */
  limit?: number;
  /** First retry delay; doubles per attempt up to an hour. Default 5000 ms. */
  baseBackoffMs?: number;
  /** Bound of one POST. Default 10 000 ms. */
  timeoutMs?: number;
}

/** What one call did. */
export interface AlertDeliveryResult {
  attempted: number;
  delivered: number;
  failed: number;
}

/** The JSON body of an alert (format 'json'). `id` is stable across retries: receivers may dedupe on it. */
export interface AlertPayload {
  id: number;
  type: string;
  severity: string;
  sagaId: string | null;
  message: string;
  data: unknown;
  createdAt: string;
  attempt: number;
}

interface ClaimedAlert {
  id: number;
  type: string;
  severity: string;
  saga_id: string | null;
  message: string;
  data: unknown;
  // postgres.js returns a Date or, with custom type parsers, the text: both go through new Date().
  created_at: Date | string;
  attempts: number;
}

/** A claimed row stays invisible to other deliverers this long: longer than one POST can take. */
const CLAIM_SECONDS = 120;

/** Delivers due alerts once each; safe to run in several processes at once. */
export async function deliverAlerts(options: AlertDeliveryOptions): Promise<AlertDeliveryResult> {
  const { sql, logger } = options;
  const base = options.baseBackoffMs ?? 5000;
  // Claim: push next_attempt_at ahead and count the attempt, so a concurrent deliverer skips these rows.
  const claimed = await sql.begin(async (tx) => {
    const rows = await tx<ClaimedAlert[]>`
      select a.id::int as id, a.type, a.severity, a.saga_id, a.message, a.data, a.created_at, d.attempts
      from alert_deliveries d join saga_alerts a on a.id = d.alert_id
      where d.delivered_at is null and d.next_attempt_at <= now()
      order by d.next_attempt_at
      limit ${options.limit ?? 50}
      for update of d skip locked`;
    if (rows.length > 0) {
      await tx`update alert_deliveries set attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => ${CLAIM_SECONDS})
        where alert_id in ${tx(rows.map((r) => r.id))}`;
    }
    return rows;
  });
  const result: AlertDeliveryResult = { attempted: claimed.length, delivered: 0, failed: 0 };
  for (const row of claimed) {
    const payload: AlertPayload = {
      id: row.id,
      type: row.type,
      severity: row.severity,
      sagaId: row.saga_id,
      message: row.message,
      data: row.data,
      createdAt: new Date(row.created_at).toISOString(),
      attempt: row.attempts + 1,
    };
    try {
      await post(options.webhookUrl, body(payload, options.format ?? 'json'), `alert-${row.id}`, options.timeoutMs ?? 10_000);
      await sql`update alert_deliveries set delivered_at = now(), last_error = null where alert_id = ${row.id}`;
      result.delivered++;
    } catch (err) {
      const delayMs = Math.min(3_600_000, base * 2 ** Math.min(20, row.attempts));
      const message = err instanceof Error ? err.message : String(err);
      await sql`update alert_deliveries set last_error = ${message}, next_attempt_at = now() + make_interval(secs => ${delayMs / 1000})
        where alert_id = ${row.id}`;
      logger.warn({ alertId: row.id, attempt: row.attempts + 1, retryInMs: delayMs, error: message }, 'alert webhook delivery failed; will retry');
      result.failed++;
    }
  }
  return result;
}

function body(payload: AlertPayload, format: AlertFormat): unknown {
  if (format === 'json') return payload;
  const saga = payload.sagaId === null ? '' : ` (saga ${payload.sagaId})`;
  return { text: `:rotating_light: [${payload.severity}] ${payload.type}${saga}: ${payload.message}`, alert: payload };
}

async function post(url: string, payload: unknown, idempotencyKey: string, timeoutMs: number): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
    body: JSON.stringify(payload),
    signal: AbortSignal.timeout(timeoutMs),
  });
  // The body is not needed; reading it frees the connection.
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new Error(`webhook answered ${res.status}`);
}
