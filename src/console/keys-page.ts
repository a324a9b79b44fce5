// /console/keys: host keys (generate, import, promote, retire), client keys (generate, import), OpenPGP keys and
// X.509 certificates (keys-pgp-x509.ts), all through /api/keys; private halves never come back from the API.
import type { FastifyInstance } from 'fastify';
import { type Html, html } from '../web/html.js';
import type { ApiAnswer, ConsoleApi } from './api-client.js';
import { defined, formAction, optional, optionalInt } from './form-action.js';
import {
  certificateSection,
  day,
  listOrProblem,
  mayChangeServerKeys,
  pgpSection,
  pgpX509Actions,
} from './keys-pgp-x509.js';
import { type ConsoleWho, consolePage, csrfField } from './layout.js';
import { outcomeOf, queryOf, seg, whoIs } from './request.js';

interface HostKeyView {
  readonly id: number;
  readonly algorithm: string;
  readonly bits: number;
  readonly sha256: string;
  readonly publicKey: string;
  readonly created: string;
  readonly state: 'pending' | 'active' | 'retired';
}

interface ClientKeyView {
  readonly name: string;
  readonly algorithm: string;
  readonly bits: number;
  readonly sha256: string;
  readonly publicKey: string;
}

const CONFIG = { permission: 'public' } as const;
const HIDDEN = { hide: true };
const PAGE = '/console/keys';

const mayChangeClientKeys = (who: ConsoleWho) => who.role !== 'auditor';

const typeSelect = (id: string) => html`<label for="${id}">Type</label>
<select id="${id}" name="type"><option value="ed25519">ed25519</option><option value="ecdsa">ecdsa</option><option value="rsa">rsa</option></select>`;

function hostSection(who: ConsoleWho, answer: ApiAnswer): Html {
  const change = mayChangeServerKeys(who);
  const table = listOrProblem<HostKeyView>(
    answer,
    'No host keys.',
    (
      items,
    ) => html`<table class="list"><thead><tr><th>Id</th><th>Algorithm</th><th>Fingerprint</th><th>State</th><th>Created</th><th>Actions</th></tr></thead>
<tbody>${items.map(
      (k) => html`<tr><td>${k.id}</td><td>${k.algorithm} (${k.bits})</td><td class="mono">${k.sha256}</td>
<td><span class="badge ${k.state === 'active' ? 'on' : 'off'}">${k.state}</span></td><td>${day(k.created)}</td>
<td class="actions">${
        change && k.state === 'pending'
          ? html`<form method="post" action="/console/keys/host/${k.id}/promote">${csrfField(who)}<button type="submit">Promote</button></form>`
          : ''
      }${
        change && k.state !== 'retired'
          ? html`<form method="post" action="/console/keys/host/${k.id}/retire" class="confirm" data-confirm="Retire host key ${k.sha256}? Clients that pinned it will warn.">${csrfField(who)}<button type="submit" class="danger">Retire</button></form>`
          : ''
      }</td></tr>`,
    )}</tbody></table>`,
  );
  const forms = change
    ? html`<details class="create"><summary>Generate a host key</summary>
<form method="post" action="/console/keys/host">${csrfField(who)}${typeSelect('host-type')}
  <label for="host-bits">Bits <span class="hint">(rsa and ecdsa only; empty: the default)</span></label><input id="host-bits" name="bits" inputmode="numeric">
  <button type="submit">Generate</button></form></details>
<details class="create"><summary>Import a host key</summary>
<form method="post" action="/console/keys/host/import">${csrfField(who)}
  <label for="host-private">Private key file <span class="hint">(OpenSSH, PEM or PuTTY; it is sealed in the store and never shown again)</span></label>
  <textarea id="host-private" name="privateKey" rows="4" required></textarea>
  <label for="host-pass">Passphrase <span class="hint">(if the file is encrypted)</span></label><input id="host-pass" name="passphrase" type="password" autocomplete="off">
  <button type="submit">Import</button></form></details>`
    : '';
  return html`<section aria-labelledby="host-keys"><h2 id="host-keys">Host keys</h2>
<p>A new key is announced to clients (pending) until promoted; a retired key is no longer presented.</p>${forms}${table}</section>`;
}

function clientSection(who: ConsoleWho, answer: ApiAnswer): Html {
  const forms = mayChangeClientKeys(who)
    ? html`<details class="create"><summary>Generate a client key</summary>
<form method="post" action="/console/keys/client">${csrfField(who)}
  <label for="client-name">Name</label><input id="client-name" name="name" required maxlength="64">${typeSelect('client-type')}
  <button type="submit">Generate</button></form></details>
<details class="create"><summary>Import a client key</summary>
<form method="post" action="/console/keys/client/import">${csrfField(who)}
  <label for="client-import-name">Name</label><input id="client-import-name" name="name" required maxlength="64">
  <label for="client-private">Private key file</label><textarea id="client-private" name="privateKey" rows="4" required></textarea>
  <label for="client-pass">Passphrase <span class="hint">(if the file is encrypted)</span></label><input id="client-pass" name="passphrase" type="password" autocomplete="off">
  <button type="submit">Import</button></form></details>`
    : '';
  const table = listOrProblem<ClientKeyView>(
    answer,
    'No client keys.',
    (
      items,
    ) => html`<table class="list"><thead><tr><th>Name</th><th>Algorithm</th><th>Fingerprint</th><th>Public key (give it to the partner)</th></tr></thead>
<tbody>${items.map(
      (k) =>
        html`<tr><td class="name">${k.name}</td><td>${k.algorithm} (${k.bits})</td><td class="mono">${k.sha256}</td><td><code class="wrap">${k.publicKey}</code></td></tr>`,
    )}</tbody></table>`,
  );
  return html`<section aria-labelledby="client-keys"><h2 id="client-keys">Client keys</h2>
<p>Keys Ferry logs in to partners with.</p>${forms}${table}</section>`;
}

export function keysPage(app: FastifyInstance, api: ConsoleApi): void {
  app.get(PAGE, { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const [host, client, pgp, x509] = await Promise.all([
      api.get(request, '/api/keys/host'),
      api.get(request, '/api/keys/client'),
      api.get(request, '/api/keys/pgp'),
      api.get(request, '/api/keys/x509'),
    ]);
    const body = html`<h1>Keys</h1>
${hostSection(who, host)}${clientSection(who, client)}${pgpSection(who, pgp)}${certificateSection(who, x509)}`;
    return reply
      .type('text/html; charset=utf-8')
      .send(consolePage({ title: 'Keys', section: 'keys', who, ...outcomeOf(who, queryOf(request)) }, body));
  });

  formAction(
    app,
    api,
    '/console/keys/host',
    PAGE,
    (f) => ({
      method: 'POST',
      path: '/api/keys/host',
      body: defined({ type: f.type ?? '', bits: optionalInt(f.bits) }),
    }),
    (_f, _p, a) => `Generated host key ${(a.body as HostKeyView).sha256} (pending).`,
  );
  formAction(
    app,
    api,
    '/console/keys/host/import',
    PAGE,
    (f) => ({
      method: 'POST',
      path: '/api/keys/host/import',
      body: defined({ privateKey: f.privateKey ?? '', passphrase: optional(f.passphrase) }),
    }),
    (_f, _p, a) => `Imported host key ${(a.body as HostKeyView).sha256} (pending).`,
  );
  formAction(
    app,
    api,
    '/console/keys/host/:id/promote',
    PAGE,
    (_f, p) => ({ method: 'POST', path: `/api/keys/host/${seg(p.id ?? '')}/promote` }),
    (_f, p) => `Host key ${p.id} is active.`,
  );
  formAction(
    app,
    api,
    '/console/keys/host/:id/retire',
    PAGE,
    (_f, p) => ({ method: 'POST', path: `/api/keys/host/${seg(p.id ?? '')}/retire` }),
    (_f, p) => `Retired host key ${p.id}.`,
  );
  formAction(
    app,
    api,
    '/console/keys/client',
    PAGE,
    (f) => ({ method: 'POST', path: '/api/keys/client', body: { name: f.name ?? '', type: f.type ?? '' } }),
    (_f, _p, a) => `Generated client key ${(a.body as ClientKeyView).name}.`,
  );
  formAction(
    app,
    api,
    '/console/keys/client/import',
    PAGE,
    (f) => ({
      method: 'POST',
      path: '/api/keys/client/import',
      body: defined({
        name: f.name ?? '',
        privateKey: f.privateKey ?? '',
        passphrase: optional(f.passphrase),
      }),
    }),
    (_f, _p, a) => `Imported client key ${(a.body as ClientKeyView).name}.`,
  );
  pgpX509Actions(app, api, PAGE);
}
