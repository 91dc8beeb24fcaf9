// The console's entry: the login form (the token is asked once per browser session), the hash router, live polling.
/// <reference lib="dom" />
import { ApiError, api, token } from './api.ts';
import { h, render } from './dom.ts';
import { startPoller, type Poller } from './poller.ts';
import { cleanupsPage, deadLettersPage, overviewPage, sagaListPage, sagaPage, type Tick } from './views.ts';

const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const status = document.getElementById('status')!;
let poller: Poller | undefined;

function say(message: string): void {
  status.textContent = message;
}

function loginForm(): void {
  poller?.stop();
  nav.hidden = true;
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true });
  const error = h('p', { class: 'error' });
  render(
    main,
    h(
      'form',
      {
        class: 'login',
        id: 'login',
        onSubmit: async (e: Event) => {
          e.preventDefault();
          token.set(input.value);
          try {
            await api('/v1/stats');
            route();
          } catch (err) {
            token.clear();
            error.textContent = err instanceof ApiError && err.status === 401 ? 'That token is not accepted.' : String(err);
          }
        },
      },
      h('h1', {}, 'Log in'),
      h('label', { for: 'token' }, 'Internal token (kept for this browser session only)'),
      input,
      h('button', { type: 'submit' }, 'Log in'),
      error,
    ),
  );
  input.focus();
}

function route(): void {
  poller?.stop();
  if (token.get() === null) return loginForm();
  nav.hidden = false;
  const [path = '/', query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const act = (message: string) => {
    say(message);
    route();
  };
  let tick: Tick;
  if (path.startsWith('/saga/')) tick = sagaPage(main, decodeURIComponent(path.slice('/saga/'.length)), act);
  else if (path === '/sagas') tick = sagaListPage(main, params);
  else if (path === '/cleanups') tick = cleanupsPage(main, params, act);
  else if (path === '/dead-letters') tick = deadLettersPage(main, act);
  else tick = overviewPage(main);
  poller = startPoller(
    async () => {
      await tick();
      document.body.dataset.updatedAt = String(Date.now());
    },
    (err) => {
      if (err instanceof ApiError && err.status === 401) return loginForm();
      say(`Update failed (${err instanceof Error ? err.message : String(err)}); retrying with backoff.`);
    },
  );
}

document.getElementById('logout')!.addEventListener('click', () => {
  token.clear();
  loginForm();
});
window.addEventListener('hashchange', route);
route();
