// The console's pages: overview, saga list, saga page, leftovers, dead letters. Each returns the tick its poller runs.
/// <reference lib="dom" />
import type { CleanupSummary as Cleanup, DeadLetter } from '@ingest/ops';
import { api, download } from './api.ts';
import { formatBytes, formatSeconds, h, progressBar, render } from './dom.ts';

interface Overview {
  stats: { active: number; completed: number; compensated: number; compensationFailed: number; failed: number; successRate: number; pendingCleanups: number };
  lastHour: { completed: number; bytes: number; docsPerSecond: number; bytesPerSecond: number };
  stuckSagas: number;
  openLeftovers: number;
  janitorLastPassAt: string | null;
  queues: { queue: string; waiting: number; active: number; delayed: number; failed: number }[];
}

interface Progress {
  percent?: number;
  bytesDone?: number;
  bytesTotal?: number;
  bytesPerSecond?: number;
  etaSeconds?: number | null;
}

interface SagaSummary {
  id: string;
  saga: string;
  status: string;
  state: string;
  currentStep: string | null;
  phase: string;
  attempts: number;
  progress: Progress | null;
  ageSeconds: number;
  lastError: string | null;
}

interface SagaStatus {
  sagaId: string;
  status: string;
  state: string;
  documentId: string | null;
  failure: { reason: string; message: string } | null;
  progress: Required<Omit<Progress, 'etaSeconds'>> & { etaSeconds: number | null };
  steps: { name: string; phase: string; status: string; attempts: number; startedAt: string | null; finishedAt: string | null; error: string | null }[];
  createdAt: string;
  finishedAt: string | null;
}

interface SagaEvent {
  id: number;
  type: string;
  step: string | null;
  phase: string | null;
  attempt: number | null;
  fromState: string | null;
  toState: string | null;
  data: unknown;
  at: string;
}


/** What a page gives the router: the tick to poll. */
export type Tick = () => Promise<void>;

const STATUSES = ['', 'running', 'compensating', 'completed', 'compensated', 'compensation_failed', 'failed'];
const STEPS = ['', 'validate_file', 'start_streaming', 'chunked_upload', 'verify_integrity', 'security_classification', 'vector_insert', 'graph_insert', 'relational_insert', 'finalize'];

const card = (label: string, value: string, id: string) => h('div', { class: 'card', 'data-card': id }, h('div', { class: 'value' }, value), h('div', { class: 'label' }, label));
const statusCell = (s: string) => h('span', { class: `status-${s}`, 'data-status': s }, s);
const time = (iso: string | null) => (iso === null ? '' : new Date(iso).toLocaleTimeString());

function progressCell(p: Progress | null, live: boolean): Node | string {
  if (!p || typeof p.percent !== 'number') return '';
  const speed = typeof p.bytesPerSecond === 'number' && p.bytesPerSecond > 0 ? `${formatBytes(p.bytesPerSecond)}/s` : '';
  const eta = live && typeof p.etaSeconds === 'number' ? `ETA ${formatSeconds(p.etaSeconds)}` : '';
  return h('span', {}, progressBar(p.percent), h('div', { class: 'muted' }, [speed, eta].filter(Boolean).join(' · ')));
}

/** Counts by status, the last hour's throughput, leftovers, stuck sagas and queue depths. */
export function overviewPage(main: HTMLElement): Tick {
  return async () => {
    const o = await api<Overview>('/v1/overview');
    const s = o.stats;
    const busy = o.queues.filter((q) => q.waiting + q.active + q.delayed + q.failed > 0);
    render(
      main,
      h('h1', {}, 'Overview'),
      h('div', { class: 'cards' }, [
        card('running', String(s.active), 'active'),
        card('completed', String(s.completed), 'completed'),
        card('compensated', String(s.compensated), 'compensated'),
        card('compensation failed', String(s.compensationFailed), 'compensationFailed'),
        card('failed', String(s.failed), 'failed'),
        card('success rate', `${s.successRate}%`, 'successRate'),
        card('documents/s (last hour)', o.lastHour.docsPerSecond.toFixed(3), 'docsPerSecond'),
        card('bytes/s (last hour)', `${formatBytes(o.lastHour.bytesPerSecond)}/s`, 'bytesPerSecond'),
        card('pending cleanups', String(o.openLeftovers), 'pendingCleanups'),
        card('stuck sagas', String(o.stuckSagas), 'stuckSagas'),
      ]),
      h('p', { class: 'muted' }, `Last janitor pass: ${o.janitorLastPassAt === null ? 'never' : new Date(o.janitorLastPassAt).toLocaleString()}`),
      h('h2', {}, `Queues (${busy.length} of ${o.queues.length} not empty)`),
      h('table', {}, h('thead', {}, h('tr', {}, ['queue', 'waiting', 'active', 'delayed', 'failed'].map((c) => h('th', {}, c)))), h('tbody', {}, (busy.length > 0 ? busy : o.queues).map((q) => h('tr', {}, h('td', {}, q.queue), h('td', {}, q.waiting), h('td', {}, q.active), h('td', {}, q.delayed), h('td', {}, q.failed))))),
    );
  };
}

/** The saga list: filters in the URL, keyset pages, live progress bars. */
export function sagaListPage(main: HTMLElement, params: URLSearchParams): Tick {
  const select = (name: string, options: string[]) =>
    h('select', { name }, options.map((o) => h('option', { value: o, selected: params.get(name) === o || undefined }, o === '' ? 'any' : o)));
  const form = h(
    'form',
    {
      class: 'filters',
      onSubmit: (e: Event) => {
        e.preventDefault();
        const next = new URLSearchParams();
        for (const [k, v] of new FormData(form)) if (typeof v === 'string' && v !== '') next.set(k, k.startsWith('created') ? new Date(v).toISOString() : v);
        location.hash = `#/sagas?${next}`;
      },
    },
    h('label', {}, 'status', select('status', STATUSES)),
    h('label', {}, 'state', h('input', { name: 'state', value: params.get('state') ?? '', size: 12 })),
    h('label', {}, 'step', select('step', STEPS)),
    h('label', {}, 'created after', h('input', { name: 'createdAfter', type: 'datetime-local' })),
    h('label', {}, 'created before', h('input', { name: 'createdBefore', type: 'datetime-local' })),
    h('label', {}, h('span', {}, 'stuck only'), h('input', { name: 'stuck', type: 'checkbox', value: 'true', checked: params.get('stuck') === 'true' || undefined })),
    h('button', { type: 'submit' }, 'Filter'),
  );
  const table = h('div', {});
  const pager = h('div', {});
  render(main, h('h1', {}, 'Sagas'), form, table, pager);
  return async () => {
    const page = await api<{ sagas: SagaSummary[]; nextCursor: string | null }>(`/v1/sagas?${params}`);
    render(
      table,
      h(
        'table',
        { id: 'saga-table' },
        h('thead', {}, h('tr', {}, ['saga', 'status', 'state', 'step', 'attempts', 'progress', 'age', 'last error'].map((c) => h('th', {}, c)))),
        h(
          'tbody',
          {},
          page.sagas.map((s) =>
            h(
              'tr',
              { 'data-saga-id': s.id },
              h('td', {}, h('a', { href: `#/saga/${s.id}` }, s.id.slice(0, 8)), h('div', { class: 'muted' }, s.saga)),
              h('td', {}, statusCell(s.status)),
              h('td', {}, s.state),
              h('td', {}, s.currentStep ?? '', s.phase === 'compensation' ? ' (undo)' : ''),
              h('td', {}, s.attempts),
              h('td', {}, progressCell(s.progress, s.status === 'running')),
              h('td', {}, formatSeconds(s.ageSeconds)),
              h('td', { class: 'error' }, s.lastError ?? ''),
            ),
          ),
        ),
      ),
      page.sagas.length === 0 ? h('p', { class: 'muted', id: 'no-sagas' }, 'No saga matches.') : null,
    );
    render(
      pager,
      params.has('cursor') ? h('a', { href: `#/sagas?${withCursor(params, null)}` }, 'First page ') : null,
      page.nextCursor ? h('a', { href: `#/sagas?${withCursor(params, page.nextCursor)}` }, 'Next page') : null,
    );
  };
}

function withCursor(params: URLSearchParams, cursor: string | null): URLSearchParams {
  const next = new URLSearchParams(params);
  if (cursor === null) next.delete('cursor');
  else next.set('cursor', cursor);
  return next;
}

/** One saga: step timeline, audit events, cancel, download of the committed document. */
export function sagaPage(main: HTMLElement, sagaId: string, onAction: (message: string) => void): Tick {
  return async () => {
    const [s, ev] = await Promise.all([api<SagaStatus>(`/v1/sagas/${sagaId}`), api<{ events: SagaEvent[] }>(`/v1/sagas/${sagaId}/events?limit=500`)]);
    const live = s.status === 'running' || s.status === 'compensating';
    const duration = (a: string | null, b: string | null) => (a && b ? formatSeconds((Date.parse(b) - Date.parse(a)) / 1000) : '');
    render(
      main,
      h('h1', {}, 'Saga ', h('code', {}, s.sagaId)),
      h('p', {}, 'Status ', statusCell(s.status), ` · state ${s.state} · created ${new Date(s.createdAt).toLocaleString()}`, s.finishedAt ? ` · finished ${new Date(s.finishedAt).toLocaleString()}` : ''),
      h('div', { id: 'saga-progress' }, progressCell(s.progress, s.status === 'running')),
      s.failure ? h('p', { class: 'error' }, `${s.failure.reason}: ${s.failure.message}`) : null,
      h(
        'p',
        {},
        s.status === 'running'
          ? h('button', {
              id: 'cancel',
              type: 'button',
              onClick: async () => {
                const r = await api<{ accepted: boolean; state: string }>(`/v1/sagas/${sagaId}/cancel`, { method: 'POST' });
                onAction(r.accepted ? 'Cancel accepted: the saga rolls back.' : `Cancel not accepted (state ${r.state}).`);
              },
            }, 'Cancel saga')
          : null,
        s.status === 'completed' && s.documentId
          ? h('button', { id: 'download', type: 'button', onClick: () => void download(`/v1/documents/${s.documentId}/content`, `${s.documentId}.bin`).catch((e: unknown) => onAction(String(e))) }, 'Download document')
          : null,
      ),
      h('h2', {}, 'Steps'),
      h(
        'table',
        { id: 'steps' },
        h('thead', {}, h('tr', {}, ['step', 'phase', 'status', 'attempts', 'started', 'finished', 'duration', 'error'].map((c) => h('th', {}, c)))),
        h('tbody', {}, s.steps.map((st) => h('tr', {}, h('td', {}, st.name), h('td', {}, st.phase), h('td', {}, st.status), h('td', {}, st.attempts), h('td', {}, time(st.startedAt)), h('td', {}, time(st.finishedAt)), h('td', {}, duration(st.startedAt, st.finishedAt)), h('td', { class: 'error' }, st.error ?? '')))),
      ),
      h('h2', {}, `Audit events (${ev.events.length})`),
      h(
        'table',
        { id: 'events' },
        h('thead', {}, h('tr', {}, ['at', 'event', 'step', 'attempt', 'state', 'data'].map((c) => h('th', {}, c)))),
        h('tbody', {}, ev.events.map((e) => h('tr', {}, h('td', {}, time(e.at)), h('td', {}, e.type), h('td', {}, e.step ?? '', e.phase === 'compensation' ? ' (undo)' : ''), h('td', {}, e.attempt ?? ''), h('td', {}, e.toState ? `${e.fromState ?? ''} → ${e.toState}` : ''), h('td', {}, h('pre', {}, e.data === null ? '' : JSON.stringify(e.data)))))),
      ),
      live ? h('p', { class: 'muted' }, 'Updating live.') : null,
    );
  };
}

/** Recorded leftovers, open or resolved, with a retry-now button. */
export function cleanupsPage(main: HTMLElement, params: URLSearchParams, onAction: (message: string) => void): Tick {
  const state = params.get('state') === 'resolved' ? 'resolved' : 'open';
  return async () => {
    const { cleanups } = await api<{ cleanups: Cleanup[] }>(`/v1/cleanups?state=${state}`);
    render(
      main,
      h('h1', {}, 'Leftovers'),
      h('p', {}, h('a', { href: '#/cleanups?state=open' }, 'open'), ' · ', h('a', { href: '#/cleanups?state=resolved' }, 'resolved')),
      h(
        'table',
        { id: 'cleanups' },
        h('thead', {}, h('tr', {}, ['id', 'saga', 'step', 'store', 'key', 'attempts', 'error', state === 'open' ? 'next attempt' : 'resolved', ''].map((c) => h('th', {}, c)))),
        h(
          'tbody',
          {},
          cleanups.map((c) =>
            h(
              'tr',
              { 'data-cleanup-id': c.id },
              h('td', {}, c.id),
              h('td', {}, h('a', { href: `#/saga/${c.sagaId}` }, c.sagaId.slice(0, 8))),
              h('td', {}, c.step),
              h('td', {}, c.store),
              h('td', {}, h('code', {}, c.key)),
              h('td', {}, c.attempts),
              h('td', { class: 'error' }, c.lastError ?? c.error),
              h('td', {}, state === 'open' ? time(c.nextAttemptAt) : time(c.resolvedAt)),
              h(
                'td',
                {},
                state === 'open'
                  ? h('button', {
                      type: 'button',
                      class: 'retry',
                      onClick: async () => {
                        const r = await api<{ resolved: boolean; cleanup: Cleanup }>(`/v1/cleanups/${c.id}/retry`, { method: 'POST' });
                        onAction(r.resolved ? `Leftover ${c.id} removed.` : `Leftover ${c.id} still there: ${r.cleanup.lastError ?? ''}`);
                      },
                    }, 'Retry now')
                  : '',
              ),
            ),
          ),
        ),
      ),
      cleanups.length === 0 ? h('p', { class: 'muted' }, `No ${state} leftover.`) : null,
    );
  };
}

/** Jobs set aside as unprocessable, with requeue and discard. */
export function deadLettersPage(main: HTMLElement, onAction: (message: string) => void): Tick {
  return async () => {
    const { deadLetters } = await api<{ deadLetters: DeadLetter[] }>('/v1/dead-letters');
    const act = (id: number, verb: 'requeue' | 'discard') => async () => {
      await api(`/v1/dead-letters/${id}/${verb}`, { method: 'POST' });
      onAction(`Dead letter ${id}: ${verb === 'requeue' ? 'requeued' : 'discarded'}.`);
    };
    render(
      main,
      h('h1', {}, 'Dead letters'),
      h(
        'table',
        { id: 'dead-letters' },
        h('thead', {}, h('tr', {}, ['id', 'queue', 'job', 'reason', 'data', 'at', ''].map((c) => h('th', {}, c)))),
        h('tbody', {}, deadLetters.map((d) => h('tr', { 'data-dead-letter-id': d.id }, h('td', {}, d.id), h('td', {}, d.queue), h('td', {}, d.jobId ?? ''), h('td', { class: 'error' }, d.reason), h('td', {}, h('pre', {}, JSON.stringify(d.data))), h('td', {}, time(d.createdAt)), h('td', {}, h('button', { type: 'button', class: 'requeue', onClick: act(d.id, 'requeue') }, 'Requeue'), ' ', h('button', { type: 'button', class: 'discard', onClick: act(d.id, 'discard') }, 'Discard'))))),
      ),
      deadLetters.length === 0 ? h('p', { class: 'muted' }, 'No dead letter.') : null,
    );
  };
}
