// The signed-in pages: browse with breadcrumbs and sorting, download, SHA-256 on demand, mkdir, rename, delete.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DirEntry, FileSession } from '../core/types.js';
import { joinVirtual, resolveVirtualPath, virtualDirname } from '../core/virtual-path.js';
import { InvalidArgumentError } from '../errors.js';
import type { WebClientDeps } from './deps.js';
import { requirePath, sendDownload } from './download.js';
import { webFailure } from './errors.js';
import { type Html, html, humanSize, page } from './html.js';
import { breadcrumbs, listDirectory, type SortKey, validEntryName } from './listing.js';
import { CSRF_FIELD, openFiles, requireUser, type SignedIn, userOf, withFiles } from './request-user.js';
import { outcomeMac, outcomeMatches } from './session-token.js';

type Query = Record<string, string | undefined>;

const browseUrl = (path: string, extra = '') => `/files/?path=${encodeURIComponent(path)}${extra}`;
const fileUrl = (route: string, path: string) => `/files/${route}?path=${encodeURIComponent(path)}`;

function csrfField(who: SignedIn): Html {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${who.csrf}">`;
}

function row(who: SignedIn, entry: DirEntry, dir: string): Html {
  const path = joinVirtual(dir, entry.name);
  const isDir = entry.stat.kind === 'directory';
  const when = new Date(entry.stat.mtime * 1000).toISOString().replace('T', ' ').slice(0, 16);
  return html`<tr>
  <td class="name">${isDir ? html`<a class="dir" href="${browseUrl(path)}">${entry.name}/</a>` : html`<a class="file" href="${fileUrl('download', path)}">${entry.name}</a>`}</td>
  <td class="size">${isDir ? '' : humanSize(entry.stat.size)}</td>
  <td class="date"><time datetime="${new Date(entry.stat.mtime * 1000).toISOString()}">${when}</time></td>
  <td class="actions">
    ${isDir ? '' : html`<a href="${fileUrl('sha256', path)}">SHA-256</a>`}
    <form method="post" action="/files/rename">${csrfField(who)}<input type="hidden" name="path" value="${path}">
      <label class="sr" for="rn-${path}">New name for ${entry.name}</label>
      <input id="rn-${path}" name="name" value="${entry.name}" required><button type="submit">Rename</button></form>
    <form method="post" action="/files/delete" class="confirm" data-confirm="Delete ${entry.name}?">${csrfField(who)}
      <input type="hidden" name="path" value="${path}"><button type="submit">Delete</button></form>
  </td></tr>`;
}

function sortLink(dir: string, key: SortKey, label: string, current: SortKey, desc: boolean): Html {
  const nextDesc = current === key && !desc;
  const mark = current === key ? (desc ? ' ▼' : ' ▲') : '';
  return html`<a href="${browseUrl(dir, `&sort=${key}${nextDesc ? '&desc=1' : ''}`)}">${label}${mark}</a>`;
}

async function browsePage(deps: WebClientDeps, request: FastifyRequest, reply: FastifyReply) {
  const who = userOf(request);
  const query = request.query as Query;
  const sort: SortKey = query.sort === 'size' || query.sort === 'mtime' ? query.sort : 'name';
  const desc = query.desc === '1';
  const listing = await withFiles(deps, request, (files) =>
    listDirectory(files, query.path ?? '/', sort, desc),
  );
  const dir = listing.path;
  const crumbs = breadcrumbs(dir).map((c, i, all) =>
    i === all.length - 1
      ? html`<li aria-current="page">${c.name}</li>`
      : html`<li><a href="${browseUrl(c.path)}">${c.name}</a></li>`,
  );
  const body = html`<nav aria-label="Breadcrumb"><ol class="crumbs">${crumbs}</ol></nav>
<section class="upload" data-dir="${dir}">
  <h2>Upload</h2>
  <p class="drop" id="drop">Drop files or folders here, or <label for="pick" class="pick">choose files</label>
  or <label for="pick-folder" class="pick">a folder</label>
  <input id="pick" type="file" multiple><input id="pick-folder" type="file" webkitdirectory multiple></p>
  <ul id="progress" class="progress" aria-live="polite"></ul>
</section>
<form class="mkdir" method="post" action="/files/mkdir">${csrfField(who)}<input type="hidden" name="dir" value="${dir}">
  <label for="newdir">New folder</label><input id="newdir" name="name" required><button type="submit">Create</button></form>
<table class="listing">
<thead><tr><th>${sortLink(dir, 'name', 'Name', sort, desc)}</th><th>${sortLink(dir, 'size', 'Size', sort, desc)}</th>
<th>${sortLink(dir, 'mtime', 'Modified', sort, desc)}</th><th>Actions</th></tr></thead>
<tbody>
${dir !== '/' ? html`<tr><td colspan="4"><a class="dir" href="${browseUrl(virtualDirname(dir))}">../ (up)</a></td></tr>` : ''}
${listing.entries.map((e) => row(who, e, dir))}
${listing.entries.length === 0 ? html`<tr><td colspan="4" class="empty">This folder is empty.</td></tr>` : ''}
</tbody></table>
${listing.truncated ? html`<p class="notice">Only the first entries are shown; use an SFTP client for the rest.</p>` : ''}`;
  return reply
    .type('text/html; charset=utf-8')
    .send(page({ title: dir, user: who.user.name, csrf: who.csrf, ...shownOutcome(deps, who, query) }, body));
}

/** The notice or error a redirect carried, only when this server wrote it for this sign-in (see outcomeMac). */
function shownOutcome(deps: WebClientDeps, who: SignedIn, query: Query): { notice?: string; error?: string } {
  for (const kind of ['error', 'notice'] as const) {
    const text = query[kind];
    if (text && outcomeMatches(deps.sessionKey(), who.session, kind, text, query.sig))
      return { [kind]: text };
  }
  return {};
}

/** After a change: back to the folder with what happened (POST-redirect-GET, so a reload repeats nothing). */
function back(
  deps: WebClientDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  dir: string,
  outcome: { notice?: string; error?: string },
) {
  const [kind, text] = outcome.error
    ? (['error', outcome.error] as const)
    : (['notice', outcome.notice ?? ''] as const);
  const sig = outcomeMac(deps.sessionKey(), userOf(request).session, kind, text);
  return reply.redirect(browseUrl(dir, `&${kind}=${encodeURIComponent(text)}&sig=${sig}`), 303);
}

async function change(
  deps: WebClientDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  dirOf: (form: Query) => string,
  work: (files: FileSession, form: Query) => Promise<string>,
) {
  const form = (request.body ?? {}) as Query;
  let dir = '/';
  try {
    dir = resolveVirtualPath(dirOf(form));
  } catch {
    // An unusable path goes back to the home; the operation below reports the error.
  }
  try {
    const notice = await withFiles(deps, request, (files) => work(files, form));
    return back(deps, request, reply, dir, { notice });
  } catch (err) {
    const failure = webFailure(err);
    if (failure.status >= 500) deps.log.error({ err }, 'web client operation failed');
    return back(deps, request, reply, dir, { error: failure.message });
  }
}

function nameOf(form: Query): string {
  const name = form.name ?? '';
  const problem = validEntryName(name);
  if (problem) throw new InvalidArgumentError(problem);
  return name;
}

export function fileRoutes(app: FastifyInstance, deps: WebClientDeps): void {
  const config = { permission: 'public' } as const;
  const schema = { hide: true };
  const signedIn = requireUser(deps, 'page');

  app.get('/files/', { config, schema, preHandler: signedIn }, (request, reply) =>
    browsePage(deps, request, reply),
  );
  app.get('/files', { config, schema }, (_request, reply) => reply.redirect('/files/', 301));

  app.get('/files/download', { config, schema, preHandler: signedIn }, async (request, reply) => {
    const path = requirePath((request.query as Query).path);
    return sendDownload(openFiles(deps, request), path, request, reply);
  });

  app.get('/files/sha256', { config, schema, preHandler: signedIn }, async (request, reply) => {
    const who = userOf(request);
    const path = requirePath((request.query as Query).path);
    const digest = await withFiles(deps, request, async (files) => {
      const handle = await files.openFile(path, {
        read: true,
        write: false,
        append: false,
        create: false,
        truncate: false,
        exclusive: false,
      });
      try {
        // Audited like a download (a digest is derived from the content), bounded by maxHashBytes.
        const [sum] = await handle.checksum({ algorithm: 'sha256', offset: 0, length: 0, blockSize: 0 });
        return sum?.toString('hex') ?? '';
      } finally {
        await handle.close();
      }
    });
    const dir = virtualDirname(resolveVirtualPath(path));
    return reply.type('text/html; charset=utf-8').send(
      page(
        { title: `SHA-256 of ${path}`, user: who.user.name, csrf: who.csrf },
        html`<h1>SHA-256</h1><p class="path">${path}</p><p><code class="sha256">${digest}</code></p>
<p><a href="${browseUrl(dir)}">Back to ${dir}</a></p>`,
      ),
    );
  });

  app.post('/files/mkdir', { config, schema, preHandler: signedIn }, (request, reply) =>
    change(
      deps,
      request,
      reply,
      (f) => f.dir ?? '/',
      async (files, f) => {
        const name = nameOf(f);
        await files.mkdir(joinVirtual(resolveVirtualPath(f.dir ?? '/'), name));
        return `Folder ${name} created.`;
      },
    ),
  );

  app.post('/files/rename', { config, schema, preHandler: signedIn }, (request, reply) =>
    change(
      deps,
      request,
      reply,
      (f) => virtualDirname(resolveVirtualPath(requirePath(f.path))),
      async (files, f) => {
        const from = resolveVirtualPath(requirePath(f.path));
        const name = nameOf(f);
        await files.rename(from, joinVirtual(virtualDirname(from), name), { overwrite: false });
        return `Renamed to ${name}.`;
      },
    ),
  );

  app.post('/files/delete', { config, schema, preHandler: signedIn }, (request, reply) =>
    change(
      deps,
      request,
      reply,
      (f) => virtualDirname(resolveVirtualPath(requirePath(f.path))),
      async (files, f) => {
        const path = resolveVirtualPath(requirePath(f.path));
        const stat = await files.lstat(path);
        if (stat.kind === 'directory') await files.rmdir(path);
        else await files.remove(path);
        return `Deleted ${path}.`;
      },
    ),
  );
}

export function failurePage(who: SignedIn | undefined, err: unknown): { status: number; body: string } {
  const failure = webFailure(err);
  return {
    status: failure.status,
    body: page(
      { title: 'Error', user: who?.user.name, csrf: who?.csrf, error: failure.message },
      html`<p><a href="/files/">Back to your files</a></p>`,
    ),
  };
}
