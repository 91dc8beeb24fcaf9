// A tiny element builder: the console has no framework, so that it needs no build pipeline beyond one esbuild call.
/// <reference lib="dom" />

type Child = Node | string | number | null | undefined | false;

/** Creates an element with attributes (`on*` functions become listeners) and children; text is never parsed as HTML. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, unknown> = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v as EventListener);
    else if (k === 'style' && typeof v === 'string') el.style.cssText = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Replaces the content of `parent`. */
export function render(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren();
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) parent.append(c instanceof Node ? c : String(c));
}

/** Bytes as "12.3 MB". */
export function formatBytes(n: number): string {
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  do {
    v /= 1000;
    u++;
  } while (v >= 1000 && u < units.length - 1);
  return `${v.toFixed(1)} ${units[u]}`;
}

/** Seconds as "1h02m", "3m05s", "7s". */
export function formatSeconds(s: number): string {
  const t = Math.max(0, Math.round(s));
  if (t >= 3600) return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
  if (t >= 60) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${t}s`;
}

/** A progress bar with its percent as text (and data-percent for tests and assistive tools). */
export function progressBar(percent: number): HTMLElement {
  const p = Math.max(0, Math.min(100, percent));
  return h('span', { class: 'progress', 'data-percent': p.toFixed(2), role: 'progressbar', 'aria-valuenow': p.toFixed(0), 'aria-valuemin': 0, 'aria-valuemax': 100 }, h('span', { class: 'bar' }, barFill(p)), ` ${p.toFixed(1)}%`);
}

// Width through the CSSOM (allowed by a CSP without 'unsafe-inline', unlike a style attribute in markup).
function barFill(p: number): HTMLElement {
  const fill = document.createElement('span');
  fill.style.width = `${p}%`;
  return fill;
}
