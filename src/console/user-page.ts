// /console/users/{name}: one user's own and effective settings, and the forms that change them (folder
// permissions, protocols, networks, quota, rates, expiry, groups, password, public keys), each one API call.
import type { FastifyInstance } from 'fastify';
import { PERMISSIONS } from '../permission-vocabulary.js';
import { PROTOCOLS } from '../store/user-types.js';
import {
  formatTransferLimit,
  TRANSFER_KINDS,
  type TransferKind,
  type TransferQuotas,
} from '../util/transfer-quota.js';
import { type Html, html } from '../web/html.js';
import type { ConsoleApi } from './api-client.js';
import { defined, formAction, optional } from './form-action.js';
import { csrfField } from './layout.js';
import {
  CONFIG,
  checkbox,
  HIDDEN,
  input,
  numberField,
  operatorOf,
  problemOf,
  sendPage,
  utc,
} from './ops-kit.js';
import { type Form, outcomeOf, queryOf, seg } from './request.js';

interface UserView {
  readonly name: string;
  readonly disabled: boolean;
  readonly home: string;
  readonly hasPassword: boolean;
  readonly permissions: Record<string, readonly string[]>;
  readonly allowedSources: readonly string[];
  readonly protocols: readonly string[];
  readonly authSource: string | null;
  readonly publicKeys: readonly {
    type: string;
    fingerprint: string;
    comment: string | null;
    options: string | null;
    added: string;
  }[];
  readonly quota: { limitBytes: number; limitFiles: number; usedBytes: number; usedFiles: number };
  readonly expires: string | null;
  readonly uploadRate: number;
  readonly downloadRate: number;
  readonly transferQuotas: TransferQuotas;
  /** Encrypted storage of new files; null: the server's setting. */
  readonly storageEncryption: boolean | null;
}

/** The form's encrypted-storage choice and the API's value. */
const ENCRYPTION_CHOICES = [
  ['default', null, "the server's setting"],
  ['on', true, 'on: new files stored encrypted'],
  ['off', false, 'off: new files stored plain (encrypted ones still read)'],
] as const;
const encryptionChoice = (value: boolean | null) => ENCRYPTION_CHOICES.find(([, v]) => v === value)![0];
function encryptionValue(choice: string | undefined): boolean | null | string | undefined {
  const known = ENCRYPTION_CHOICES.find(([id]) => id === choice);
  return known ? known[1] : choice;
}

interface EffectiveView {
  readonly home: string;
  readonly groups: { primary: string | null; secondary: readonly string[] };
  readonly permissions: Record<string, readonly string[]>;
  readonly protocols: readonly string[];
  readonly allowedSources: readonly string[];
  readonly quotaBytes: number;
  readonly quotaFiles: number;
  readonly uploadRate: number;
  readonly downloadRate: number;
  readonly transferQuotas: TransferQuotas;
  readonly transferUsage: Record<'day' | 'month', { uploaded: number; downloaded: number }>;
  readonly sources: Record<string, string> & {
    permissions: Record<string, string>;
    transferQuotas: Record<TransferKind, string>;
  };
}

/** A transfer limit as the form shows and takes it (`10 GiB/day`); empty: none of its own. */
const transferText = (quotas: TransferQuotas, kind: TransferKind) => {
  const limit = quotas[kind];
  return limit ? formatTransferLimit(limit) : '';
};

/** The effective limit of a kind with what was used of it in its current period. */
function transferUsageText(e: EffectiveView, kind: TransferKind): string {
  const limit = e.transferQuotas[kind];
  if (!limit) return 'none';
  const u = e.transferUsage[limit.period];
  const used =
    kind === 'upload' ? u.uploaded : kind === 'download' ? u.downloaded : u.uploaded + u.downloaded;
  return `${formatTransferLimit(limit)}; ${used} bytes used ${limit.period === 'day' ? 'today' : 'this month'} (UTC)`;
}

/** Permission names as checkbox field names: `p.ROW.NAME` (`*` included). */
const permField = (row: number, perm: string) => `p.${row}.${perm}`;
const pageOf = (name: string) => `/console/users/${seg(name)}`;
const listOf = (text: string | undefined) =>
  (text ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
const keyLines = (text: string | undefined) =>
  (text ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
const limitText = (n: number, unit: string) => (n === 0 ? 'none' : `${n} ${unit}`);

function permissionRow(row: number, path: string | undefined, granted: readonly string[]): Html {
  const pathCell =
    path === undefined
      ? html`<label class="visually-hidden" for="path.${row}">New folder</label><input id="path.${row}" name="path.${row}" placeholder="/new-folder">`
      : html`<code>${path}</code><input type="hidden" name="path.${row}" value="${path}">`;
  return html`<tr><th scope="row">${pathCell}</th>
${PERMISSIONS.map(
  (p) =>
    html`<td><input type="checkbox" id="${permField(row, p)}" name="${permField(row, p)}" value="on" aria-label="${p}"${granted.includes(p) ? html` checked` : ''}></td>`,
)}
<td>${path === undefined ? '' : html`<input type="checkbox" id="remove.${row}" name="remove.${row}" value="on" aria-label="remove ${path}">`}</td></tr>`;
}

function permissionsEditor(u: UserView, csrf: Html): Html {
  const folders = Object.entries(u.permissions);
  return html`<section><h2>Folder permissions</h2>
<p class="hint">The user's own entries; a removed folder falls back to their groups' entry or the default. A folder with no box ticked denies everything there.</p>
<form method="post" action="${pageOf(u.name)}/permissions">${csrf}
<input type="hidden" name="rows" value="${folders.length + 1}">
<div class="table-scroll"><table class="list perms-editor"><thead><tr><th>Folder</th>${PERMISSIONS.map((p) => html`<th scope="col">${p}</th>`)}<th>Remove</th></tr></thead>
<tbody>${folders.map(([path, perms], i) => permissionRow(i, path, perms))}
${permissionRow(folders.length, undefined, [])}</tbody></table></div>
<button type="submit">Save permissions</button></form></section>`;
}

/** The editor's rows as the API's PATCH: kept rows as `/path=perm,perm` specs, removed ones inherited. */
export function permissionsPatch(form: Form): { permissions: string[]; inheritPermissions: string[] } {
  const permissions: string[] = [];
  const inheritPermissions: string[] = [];
  const rows = Math.min(Number.parseInt(form.rows ?? '0', 10) || 0, 1000);
  for (let row = 0; row < rows; row++) {
    const path = optional(form[`path.${row}`]);
    if (path === undefined) continue;
    if (form[`remove.${row}`] === 'on') inheritPermissions.push(path);
    else permissions.push(`${path}=${PERMISSIONS.filter((p) => form[permField(row, p)] === 'on').join(',')}`);
  }
  return { permissions, inheritPermissions };
}

/** The access form's values as shown, so a save sends only what the administrator changed (and audits only that). */
const shownSettings = (u: UserView) => ({
  protocols: PROTOCOLS.filter((p) => u.protocols.includes(p)),
  allowedSources: u.allowedSources,
  quotaBytes: u.quota.limitBytes,
  quotaFiles: u.quota.limitFiles,
  uploadRate: u.uploadRate,
  downloadRate: u.downloadRate,
  ...Object.fromEntries(
    TRANSFER_KINDS.map((k) => [`transfer.${k}`, transferText(u.transferQuotas ?? {}, k)]),
  ),
  expires: u.expires,
  storageEncryption: u.storageEncryption ?? null,
});

function settingsForm(u: UserView, csrf: Html): Html {
  return html`<section><h2>Access and limits</h2>
<form class="edit" method="post" action="${pageOf(u.name)}/settings">${csrf}
<input type="hidden" name="was" value="${JSON.stringify(shownSettings(u))}">
<fieldset><legend>Protocols <span class="hint">(none ticked: every protocol)</span></legend>
${PROTOCOLS.map((p) => checkbox(`protocol.${p}`, p, u.protocols.includes(p)))}</fieldset>
<label for="allowedSources">Allowed networks <span class="hint">(CIDR or address, one per line; empty: anywhere)</span></label>
<textarea id="allowedSources" name="allowedSources" rows="2">${u.allowedSources.join('\n')}</textarea>
${input('quotaBytes', 'Quota in bytes', { value: u.quota.limitBytes, hint: '0: none of its own', type: 'number' })}
${input('quotaFiles', 'Quota in files', { value: u.quota.limitFiles, hint: '0: none of its own', type: 'number' })}
${input('uploadRate', 'Upload rate, bytes per second', { value: u.uploadRate, hint: '0: none of its own', type: 'number' })}
${input('downloadRate', 'Download rate, bytes per second', { value: u.downloadRate, hint: '0: none of its own', type: 'number' })}
${TRANSFER_KINDS.map((k) => input(`transfer.${k}`, `Transfer quota, ${k === 'total' ? 'uploads and downloads together' : `${k}s`}`, { value: transferText(u.transferQuotas ?? {}, k), hint: 'SIZE/day or SIZE/month, e.g. 10GiB/day; empty: none of its own' }))}
${input('expires', 'Last day the user may log in', { value: u.expires ?? '', hint: 'UTC; empty: never expires', type: 'date' })}
<label for="storageEncryption">Encrypted storage</label><select id="storageEncryption" name="storageEncryption">${ENCRYPTION_CHOICES.map(([id, , text]) => html`<option value="${id}"${encryptionChoice(u.storageEncryption ?? null) === id ? html` selected` : html``}>${text}</option>`)}</select>
<button type="submit">Save access and limits</button></form></section>`;
}

function groupsForm(u: UserView, e: EffectiveView | undefined, csrf: Html): Html {
  const secondary = e?.groups.secondary ?? [];
  return html`<section><h2>Groups</h2>
<form class="edit" method="post" action="${pageOf(u.name)}/groups">${csrf}
<input type="hidden" name="currentGroup" value="${e?.groups.primary ?? ''}">
${input('group', 'Primary group', { value: e?.groups.primary ?? '', hint: 'empty: none' })}
${secondary.length === 0 ? html`<p class="empty">No secondary groups.</p>` : html`<fieldset><legend>Leave secondary groups</legend>${secondary.map((g, i) => html`<input type="hidden" name="secondary.${i}" value="${g}">${checkbox(`leave.${i}`, g, false)}`)}</fieldset>`}
<input type="hidden" name="secondaryCount" value="${secondary.length}">
${input('addGroups', 'Join secondary groups', { hint: 'names, comma separated, in order' })}
<button type="submit">Save groups</button></form></section>`;
}

function keysSection(u: UserView, csrf: Html): Html {
  const rows = u.publicKeys.map(
    (
      k,
    ) => html`<tr><td>${k.type}</td><td><code>${k.fingerprint}</code></td><td>${k.comment ?? ''}</td><td>${k.options ?? ''}</td><td>${utc(k.added)}</td>
<td><form method="post" action="${pageOf(u.name)}/keys/remove" class="confirm" data-confirm="Remove the key ${k.fingerprint} of ${u.name}?">${csrf}
<input type="hidden" name="fingerprint" value="${k.fingerprint}"><button type="submit" class="danger">Remove</button></form></td></tr>`,
  );
  return html`<section><h2>Public keys</h2>
${rows.length === 0 ? html`<p class="empty">No public keys.</p>` : html`<table class="list"><thead><tr><th>Type</th><th>Fingerprint</th><th>Comment</th><th>Options</th><th>Added</th><th>Actions</th></tr></thead><tbody>${rows}</tbody></table>`}
<form class="edit" method="post" action="${pageOf(u.name)}/keys">${csrf}
<label for="publicKeys">Add keys <span class="hint">(authorized_keys lines, one per line)</span></label>
<textarea id="publicKeys" name="publicKeys" rows="3" required></textarea>
<button type="submit">Add keys</button></form></section>`;
}

function accountSection(u: UserView, csrf: Html): Html {
  return html`<section><h2>Account</h2>
<form class="edit" method="post" action="${pageOf(u.name)}/password">${csrf}
${input('password', 'New password', { type: 'password', required: true, extra: html` autocomplete="new-password"` })}
<button type="submit">Set password</button></form>
<p class="actions"><a href="${pageOf(u.name)}/totp">TOTP enrolment</a></p>
<form method="post" action="${pageOf(u.name)}/${u.disabled ? 'enable' : 'disable'}">${csrf}<input type="hidden" name="back" value="user">
<button type="submit">${u.disabled ? 'Enable' : 'Disable'}</button></form>
<form method="post" action="${pageOf(u.name)}/unlock">${csrf}<input type="hidden" name="back" value="user"><button type="submit">Unlock</button></form></section>`;
}

/** What the user's sessions get, each setting with where it came from (own, a group, the default). */
function effectiveSection(e: EffectiveView): Html {
  const row = (label: string, value: string, source: string | undefined) =>
    html`<tr><th scope="row">${label}</th><td>${value}</td><td>${source ?? ''}</td></tr>`;
  const s = e.sources;
  return html`<section><h2>Effective settings</h2>
<table class="list effective"><thead><tr><th>Setting</th><th>Value</th><th>From</th></tr></thead><tbody>
${row('Home', e.home, s.home)}
${row('Protocols', e.protocols.length === 0 ? 'all' : e.protocols.join(', '), s.protocols)}
${row('Allowed networks', e.allowedSources.length === 0 ? 'anywhere' : e.allowedSources.join(', '), s.allowedSources)}
${row('Quota', limitText(e.quotaBytes, 'bytes'), s.quotaBytes)}
${row('Quota in files', limitText(e.quotaFiles, 'files'), s.quotaFiles)}
${row('Upload rate', limitText(e.uploadRate, 'bytes/s'), s.uploadRate)}
${row('Download rate', limitText(e.downloadRate, 'bytes/s'), s.downloadRate)}
${TRANSFER_KINDS.map((k) => row(`Transfer quota, ${k}`, transferUsageText(e, k), s.transferQuotas?.[k]))}
${row('Groups', [e.groups.primary ?? '', ...e.groups.secondary].filter(Boolean).join(', ') || 'none', undefined)}
${Object.entries(e.permissions).map(([path, perms]) => row(`Folder ${path}`, perms.join(', ') || 'nothing', s.permissions[path]))}
</tbody></table></section>`;
}

function ownSection(u: UserView): Html {
  return html`<dl class="status"><dt>Status</dt><dd>${u.disabled ? html`<span class="badge off">disabled</span>` : html`<span class="badge on">active</span>`}</dd>
<dt>Sign-in</dt><dd>${[u.hasPassword ? 'password' : '', u.publicKeys.length > 0 ? `${u.publicKeys.length} key(s)` : '', u.authSource ?? ''].filter(Boolean).join(', ') || 'none'}</dd>
<dt>Home</dt><dd><code>${u.home}</code></dd>
<dt>Expires</dt><dd>${u.expires ?? 'never'}</dd></dl>`;
}

export function userPage(app: FastifyInstance, api: ConsoleApi): void {
  app.get('/console/users/:name', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const { name } = request.params as { name: string };
    const { who, may } = await operatorOf(api, request);
    const user = await api.get<UserView>(request, `/api/users/${seg(name)}`);
    const options = { title: `User ${name}`, section: 'users', who, ...outcomeOf(who, queryOf(request)) };
    if (user.status !== 200)
      return sendPage(reply, options, html`<h1>User ${name}</h1>${problemOf(user, 'cannot read the user')}`);
    const effective = await api.get<EffectiveView>(request, `/api/users/${seg(name)}/effective`);
    const e = effective.status === 200 ? effective.body : undefined;
    const u = user.body;
    const csrf = csrfField(who);
    const forms = may('users:write')
      ? html`${permissionsEditor(u, csrf)}${settingsForm(u, csrf)}${groupsForm(u, e, csrf)}${keysSection(u, csrf)}${accountSection(u, csrf)}`
      : html``;
    const body = html`<p><a href="/console/users">← Users</a></p><h1>User ${u.name}</h1>
${ownSection(u)}
${e ? effectiveSection(e) : problemOf(effective, 'cannot read the effective settings')}
${forms}`;
    return sendPage(reply, options, body);
  });

  const route = (what: string) => `/console/users/:name/${what}`;
  const back = (p: Record<string, string>) => pageOf(p.name ?? '');
  const user = (p: Record<string, string>) => `/api/users/${seg(p.name ?? '')}`;
  const patch = (body: Record<string, unknown>, p: Record<string, string>) => ({
    method: 'PATCH' as const,
    path: user(p),
    body,
  });
  formAction(
    app,
    api,
    route('permissions'),
    back,
    (form, p) => patch(permissionsPatch(form), p),
    (_f, p) => `Saved the folder permissions of ${p.name}.`,
  );
  formAction(
    app,
    api,
    route('settings'),
    back,
    (form, p) => patch(settingsPatch(form), p),
    (_f, p) => `Saved the access and limits of ${p.name}.`,
  );
  formAction(
    app,
    api,
    route('groups'),
    back,
    (form, p) => patch(groupsPatch(form), p),
    (_f, p) => `Saved the groups of ${p.name}.`,
  );
  formAction(
    app,
    api,
    route('password'),
    back,
    (form, p) => patch({ password: form.password ?? '' }, p),
    (_f, p) => `Set a new password for ${p.name}.`,
  );
  formAction(
    app,
    api,
    route('keys'),
    back,
    (form, p) => ({
      method: 'POST',
      path: `${user(p)}/keys`,
      body: { publicKeys: keyLines(form.publicKeys) },
    }),
    (_f, p, answer) =>
      `Added ${(answer.body as { fingerprints?: unknown[] }).fingerprints?.length ?? 0} key(s) to ${p.name}.`,
  );
  formAction(
    app,
    api,
    route('keys/remove'),
    back,
    (form, p) => ({ method: 'DELETE', path: `${user(p)}/keys/${seg(form.fingerprint ?? '')}` }),
    (form, p) => `Removed the key ${form.fingerprint} of ${p.name}.`,
  );
}

/**
 * The access form as the API's PATCH: only the fields that differ from the values shown (`was`); an empty expiry
 * means never, a non-number goes on for the API to refuse.
 */
export function settingsPatch(form: Form): Record<string, unknown> {
  const body: Record<string, unknown> = {
    protocols: PROTOCOLS.filter((p) => form[`protocol.${p}`] === 'on'),
    allowedSources: keyLines(form.allowedSources),
    quotaBytes: numberField(form.quotaBytes),
    quotaFiles: numberField(form.quotaFiles),
    uploadRate: numberField(form.uploadRate),
    downloadRate: numberField(form.downloadRate),
    ...Object.fromEntries(TRANSFER_KINDS.map((k) => [`transfer.${k}`, (form[`transfer.${k}`] ?? '').trim()])),
    expires: optional(form.expires) ?? null,
    // An unknown choice goes on as given, for the API to refuse.
    storageEncryption: encryptionValue(form.storageEncryption),
  };
  let was: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(form.was ?? '{}');
    if (parsed && typeof parsed === 'object') was = parsed as Record<string, unknown>;
  } catch {
    // No usable `was`: every field goes to the API, which is only more than needed.
  }
  const changed = Object.fromEntries(
    Object.entries(body).map(([k, v]) => [k, JSON.stringify(v) === JSON.stringify(was[k]) ? undefined : v]),
  );
  // The transfer quotas go as the API's one object, as typed (`10GiB/day`; empty: null, none of its own).
  const transferQuotas: Record<string, string | null> = {};
  for (const kind of TRANSFER_KINDS) {
    const text = changed[`transfer.${kind}`];
    delete changed[`transfer.${kind}`];
    if (typeof text === 'string') transferQuotas[kind] = text === '' ? null : text;
  }
  if (Object.keys(transferQuotas).length > 0) changed.transferQuotas = transferQuotas;
  return defined(changed);
}

/** The groups form as the API's PATCH: the primary group only when it changed, secondary ones joined and left. */
export function groupsPatch(form: Form): Record<string, unknown> {
  const primary = optional(form.group) ?? null;
  const count = Math.min(Number.parseInt(form.secondaryCount ?? '0', 10) || 0, 1000);
  const leave: string[] = [];
  for (let i = 0; i < count; i++) {
    const g = optional(form[`secondary.${i}`]);
    if (g !== undefined && form[`leave.${i}`] === 'on') leave.push(g);
  }
  const join = listOf(form.addGroups);
  return defined({
    group: primary === (optional(form.currentGroup) ?? null) ? undefined : primary,
    addGroups: join.length > 0 ? join : undefined,
    removeGroups: leave.length > 0 ? leave : undefined,
  });
}
