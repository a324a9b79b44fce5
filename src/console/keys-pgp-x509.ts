// The keys page's OpenPGP and X.509 parts: lists, generate, import, delete, and downloads of the public halves
// (an armored key, a PEM chain) as files; over /api/keys/pgp and /api/keys/x509.
import type { FastifyInstance } from 'fastify';
import { type Html, html } from '../web/html.js';
import type { ApiAnswer, ConsoleApi } from './api-client.js';
import { defined, formAction, optional, optionalInt } from './form-action.js';
import { type ConsoleWho, csrfField } from './layout.js';
import { seg, whoIs } from './request.js';

interface PgpKeyView {
  readonly name: string;
  readonly fingerprint: string;
  readonly userIds: readonly string[];
  readonly algorithm: string;
  readonly hasPrivate: boolean;
  readonly expires: string | null;
  readonly publicKey: string;
}

interface CertificateView {
  readonly name: string;
  readonly algorithm: string;
  readonly subject: string;
  readonly altNames: string;
  readonly sha256: string;
  readonly notAfter: string;
}

const CONFIG = { permission: 'public' } as const;
const HIDDEN = { hide: true };

/**
 * Which forms to offer, after the API's table of roles (it refuses the others anyway): the server's identity
 * (host keys, OpenPGP, certificates) is the admin's; client keys also the operator's; the auditor only reads.
 */
export const mayChangeServerKeys = (who: ConsoleWho) => who.role === 'admin';

export const day = (iso: string | null | undefined) => (iso ? iso.slice(0, 10) : '');

/** An API list as a table, its refusal as the section's message, or the empty state. */
export function listOrProblem<T>(answer: ApiAnswer, empty: string, render: (items: T[]) => Html): Html {
  if (answer.status !== 200)
    return html`<p class="error" role="alert">${answer.problem ?? 'cannot list'}</p>`;
  const items = (answer.body as { items: T[] }).items;
  return items.length === 0 ? html`<p class="empty">${empty}</p>` : render(items);
}

const deleteForm = (who: ConsoleWho, action: string, what: string) =>
  html`<form method="post" action="${action}" class="confirm" data-confirm="Delete ${what}? This cannot be undone.">${csrfField(who)}<button type="submit" class="danger">Delete</button></form>`;

export function pgpSection(who: ConsoleWho, answer: ApiAnswer): Html {
  const change = mayChangeServerKeys(who);
  const forms = change
    ? html`<details class="create"><summary>Generate an OpenPGP key</summary>
<form method="post" action="/console/keys/pgp">${csrfField(who)}
  <label for="pgp-name">Name</label><input id="pgp-name" name="name" required maxlength="64">
  <label for="pgp-email">E-mail</label><input id="pgp-email" name="email" type="email" required>
  <label for="pgp-user">User name <span class="hint">(optional)</span></label><input id="pgp-user" name="userName" maxlength="200">
  <label for="pgp-type">Type</label><select id="pgp-type" name="type"><option value="curve25519">curve25519</option><option value="rsa4096">rsa4096</option></select>
  <label for="pgp-days">Expires in days <span class="hint">(empty: never)</span></label><input id="pgp-days" name="expiresInDays" inputmode="numeric">
  <button type="submit">Generate</button></form></details>
<details class="create"><summary>Import an OpenPGP key</summary>
<form method="post" action="/console/keys/pgp/import">${csrfField(who)}
  <label for="pgp-import-name">Name <span class="hint">(empty: the key id)</span></label><input id="pgp-import-name" name="name" maxlength="64">
  <label for="pgp-key">Armored key <span class="hint">(a partner's public key, or a key pair)</span></label><textarea id="pgp-key" name="key" rows="4" required></textarea>
  <label for="pgp-pass">Passphrase <span class="hint">(if the private key is encrypted)</span></label><input id="pgp-pass" name="passphrase" type="password" autocomplete="off">
  <button type="submit">Import</button></form></details>`
    : '';
  const table = listOrProblem<PgpKeyView>(
    answer,
    'No OpenPGP keys.',
    (
      items,
    ) => html`<table class="list"><thead><tr><th>Name</th><th>Fingerprint</th><th>User ids</th><th>Algorithm</th><th>Private half</th><th>Expires</th><th>Actions</th></tr></thead>
<tbody>${items.map(
      (
        k,
      ) => html`<tr><td class="name">${k.name}</td><td class="mono">${k.fingerprint}</td><td>${k.userIds.join(', ')}</td>
<td>${k.algorithm}</td><td>${k.hasPrivate ? 'held (sealed)' : 'no'}</td><td>${day(k.expires) || 'never'}</td>
<td class="actions"><a href="/console/keys/pgp/${seg(k.name)}/public.asc" download>Public key</a>${change ? deleteForm(who, `/console/keys/pgp/${seg(k.name)}/remove`, `OpenPGP key ${k.name}`) : ''}</td></tr>`,
    )}</tbody></table>`,
  );
  return html`<section aria-labelledby="pgp-keys"><h2 id="pgp-keys">OpenPGP keys</h2>${forms}${table}</section>`;
}

export function certificateSection(who: ConsoleWho, answer: ApiAnswer): Html {
  const change = mayChangeServerKeys(who);
  const forms = change
    ? html`<details class="create"><summary>Generate a self-signed certificate</summary>
<form method="post" action="/console/keys/x509">${csrfField(who)}
  <label for="x509-name">Name</label><input id="x509-name" name="name" required maxlength="64">
  <label for="x509-cn">Common name <span class="hint">(empty: the host name)</span></label><input id="x509-cn" name="cn" maxlength="64">
  <label for="x509-san">Subject alternative names <span class="hint">(one per line: <code>DNS:name</code>, <code>IP:address</code>)</span></label><textarea id="x509-san" name="san" rows="2"></textarea>
  <label for="x509-days">Valid for days <span class="hint">(empty: 365)</span></label><input id="x509-days" name="days" inputmode="numeric">
  <label for="x509-type">Type</label><select id="x509-type" name="type"><option value="ecdsa">ecdsa (P-256)</option><option value="rsa">rsa</option></select>
  <button type="submit">Generate</button></form></details>
<details class="create"><summary>Import a certificate</summary>
<form method="post" action="/console/keys/x509/import">${csrfField(who)}
  <label for="x509-import-name">Name</label><input id="x509-import-name" name="name" required maxlength="64">
  <label for="x509-chain">Certificate chain <span class="hint">(PEM, leaf first)</span></label><textarea id="x509-chain" name="chain" rows="4" required></textarea>
  <label for="x509-key">Private key <span class="hint">(PEM, unencrypted; sealed in the store, never shown again)</span></label><textarea id="x509-key" name="key" rows="4" required></textarea>
  <button type="submit">Import</button></form></details>`
    : '';
  const table = listOrProblem<CertificateView>(
    answer,
    'No certificates.',
    (
      items,
    ) => html`<table class="list"><thead><tr><th>Name</th><th>Subject</th><th>Alternative names</th><th>SHA-256</th><th>Expires</th><th>Actions</th></tr></thead>
<tbody>${items.map(
      (
        c,
      ) => html`<tr><td class="name">${c.name}</td><td>${c.subject}</td><td>${c.altNames}</td><td class="mono">${c.sha256}</td><td>${day(c.notAfter)}</td>
<td class="actions"><a href="/console/keys/x509/${seg(c.name)}/chain.pem" download>Chain</a>${change ? deleteForm(who, `/console/keys/x509/${seg(c.name)}/remove`, `certificate ${c.name} and its key`) : ''}</td></tr>`,
    )}</tbody></table>`,
  );
  return html`<section aria-labelledby="x509"><h2 id="x509">X.509 certificates</h2>${forms}${table}</section>`;
}

const lines = (text: string | undefined) =>
  (text ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');

/** A file name for a download: the key's name with anything unusual replaced. */
const fileName = (name: string) => name.replace(/[^A-Za-z0-9._-]/g, '_');

export function pgpX509Actions(app: FastifyInstance, api: ConsoleApi, page: string): void {
  app.get(
    '/console/keys/pgp/:name/public.asc',
    { config: CONFIG, schema: HIDDEN },
    async (request, reply) => {
      await whoIs(api, request);
      const { name } = request.params as { name: string };
      const answer = await api.get<{ items: PgpKeyView[] }>(request, '/api/keys/pgp');
      if (answer.status !== 200)
        return reply
          .code(answer.status)
          .type('text/plain')
          .send(answer.problem ?? '');
      const key = answer.body.items.find((k) => k.name === name);
      if (!key) return reply.code(404).type('text/plain').send(`no OpenPGP key named ${name}`);
      return reply
        .type('application/pgp-keys')
        .header('content-disposition', `attachment; filename="${fileName(name)}.asc"`)
        .send(key.publicKey);
    },
  );
  app.get(
    '/console/keys/x509/:name/chain.pem',
    { config: CONFIG, schema: HIDDEN },
    async (request, reply) => {
      await whoIs(api, request);
      const { name } = request.params as { name: string };
      const answer = await api.get<string>(request, `/api/keys/x509/${seg(name)}/chain`);
      if (answer.status !== 200)
        return reply
          .code(answer.status)
          .type('text/plain')
          .send(answer.problem ?? '');
      return reply
        .type('application/pem-certificate-chain')
        .header('content-disposition', `attachment; filename="${fileName(name)}.pem"`)
        .send(answer.body);
    },
  );

  formAction(
    app,
    api,
    '/console/keys/pgp',
    page,
    (f) => ({
      method: 'POST',
      path: '/api/keys/pgp',
      body: defined({
        name: f.name ?? '',
        email: f.email ?? '',
        userName: optional(f.userName),
        type: optional(f.type),
        expiresInDays: optionalInt(f.expiresInDays),
      }),
    }),
    (_f, _p, a) => `Generated OpenPGP key ${(a.body as PgpKeyView).name}.`,
  );
  formAction(
    app,
    api,
    '/console/keys/pgp/import',
    page,
    (f) => ({
      method: 'POST',
      path: '/api/keys/pgp/import',
      body: defined({ key: f.key ?? '', name: optional(f.name), passphrase: optional(f.passphrase) }),
    }),
    (_f, _p, a) => `Imported OpenPGP key ${(a.body as PgpKeyView).name}.`,
  );
  formAction(
    app,
    api,
    '/console/keys/pgp/:name/remove',
    page,
    (_f, p) => ({ method: 'DELETE', path: `/api/keys/pgp/${seg(p.name ?? '')}` }),
    (_f, p) => `Deleted OpenPGP key ${p.name}.`,
  );
  formAction(
    app,
    api,
    '/console/keys/x509',
    page,
    (f) => {
      const san = lines(f.san);
      return {
        method: 'POST',
        path: '/api/keys/x509',
        body: defined({
          name: f.name ?? '',
          cn: optional(f.cn),
          san: san.length > 0 ? san : undefined,
          days: optionalInt(f.days),
          type: optional(f.type),
        }),
      };
    },
    (_f, _p, a) => `Generated certificate ${(a.body as CertificateView).name}.`,
  );
  formAction(
    app,
    api,
    '/console/keys/x509/import',
    page,
    (f) => ({
      method: 'POST',
      path: '/api/keys/x509/import',
      body: { name: f.name ?? '', chain: f.chain ?? '', key: f.key ?? '' },
    }),
    (_f, _p, a) => `Imported certificate ${(a.body as CertificateView).name}.`,
  );
  formAction(
    app,
    api,
    '/console/keys/x509/:name/remove',
    page,
    (_f, p) => ({ method: 'DELETE', path: `/api/keys/x509/${seg(p.name ?? '')}` }),
    (_f, p) => `Deleted certificate ${p.name}.`,
  );
}
