// /console/partners/{name}/hostkey: the trust dialog. It shows both fingerprints, the one the partner's server
// presents now (GET /api/partners/{name}/hostkey, which trusts nothing) and the one stored, and pins exactly the
// key the person looked at when they confirm (POST /api/partners/{name}/trust), never one fetched again later.
import type { FastifyInstance } from 'fastify';
import { type Html, html } from '../web/html.js';
import type { ConsoleApi } from './api-client.js';
import { csrfField } from './layout.js';
import { CONFIG, HIDDEN, operatorOf, sendPage } from './ops-kit.js';
import type { PartnerView } from './partners-page.js';
import { backTo, formOf, outcomeOf, queryOf, seg } from './request.js';

interface PresentedKey {
  readonly algorithm: string;
  readonly sha256: string;
  readonly pinned: string | null;
  readonly matches: boolean;
}

function verdict(stored: string | null, presented: PresentedKey): Html {
  if (presented.matches)
    return html`<p class="ok" role="status">The server presents the key you trust. Nothing to do.</p>`;
  if (stored)
    return html`<p class="error" role="alert"><strong>The key has CHANGED.</strong> The server presents another key than the one
trusted. Trust the new one only if the partner told you they replaced it; otherwise someone may be in the middle.</p>`;
  return html`<p class="notice" role="status">No key is trusted yet. Compare the fingerprint below with the one the partner gave
you out of band (for example <code>ssh-keygen -lf</code> on their host key) before you trust it.</p>`;
}

export function partnerHostKeyPage(app: FastifyInstance, api: ConsoleApi): void {
  app.get('/console/partners/:name/hostkey', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const { name } = request.params as { name: string };
    const partner = await api.get<PartnerView>(request, `/api/partners/${seg(name)}`);
    const title = { title: `Host key of ${name}`, section: 'partners', who: op.who };
    if (partner.status !== 200)
      return sendPage(
        reply,
        { ...title, error: partner.problem ?? 'cannot read the partner' },
        html`<p><a href="/console/partners">Back to the partners</a></p>`,
        partner.status === 404 ? 404 : 200,
      );
    const p = partner.body;
    // Connects as far as the key exchange; a partner that does not answer is the dialog's error.
    const presented = await api.get<PresentedKey>(request, `/api/partners/${seg(name)}/hostkey`);
    const key = presented.status === 200 ? presented.body : undefined;
    const back = `/console/partners/${seg(name)}`;
    const body = html`<p class="crumbs"><a href="/console/partners">Partners</a> › <a href="${back}">${name}</a> › host key</p>
<dialog open class="modal" aria-labelledby="hostkey-title" data-cancel="${back}">
<h2 id="hostkey-title">Trust the host key of ${name}?</h2>
<p>${p.protocol} server at <strong>${p.host}:${p.port}</strong></p>
<dl class="fingerprints">
  <dt>Presented now by the server</dt>
  <dd id="fp-presented">${
    key
      ? html`<code>${key.algorithm} ${key.sha256}</code>`
      : html`<span class="error" role="alert">${presented.problem ?? 'the server did not answer'}</span>`
  }</dd>
  <dt>Stored (trusted until now)</dt>
  <dd id="fp-stored">${p.hostKey ? html`<code>${p.hostKey}</code>` : html`<span class="badge off">none: never trusted</span>`}</dd>
</dl>
${key ? verdict(p.hostKey, key) : ''}
<div class="dialog-actions">
${
  key && !key.matches && op.may('partners:write')
    ? html`<form method="post" action="/console/partners/${seg(name)}/trust">${csrfField(op.who)}
  <input type="hidden" name="algorithm" value="${key.algorithm}">
  <input type="hidden" name="sha256" value="${key.sha256}">
  <button type="submit" class="primary" autofocus>Trust this key</button></form>`
    : ''
}
<a class="button" href="${back}">${key && !key.matches && op.may('partners:write') ? 'Cancel' : 'Close'}</a>
</div>
</dialog>`;
    return sendPage(reply, { ...title, ...outcomeOf(op.who, queryOf(request)) }, body);
  });

  app.post('/console/partners/:name/trust', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const { name } = request.params as { name: string };
    const form = formOf(request);
    const answer = await api.send<PartnerView>(
      request,
      'POST',
      `/api/partners/${seg(name)}/trust`,
      { algorithm: form.algorithm ?? '', sha256: form.sha256 ?? '' },
      form._csrf ?? '',
    );
    return backTo(
      reply,
      op.who,
      `/console/partners/${seg(name)}`,
      answer.status === 200
        ? { notice: `Trusted ${answer.body.hostKey} for ${name}.` }
        : { error: answer.problem ?? 'failed' },
    );
  });
}
