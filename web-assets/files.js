// Ferry web client: confirmations, and resumable uploads over tus (drag and drop or file picker, per-file progress).
// Served by Ferry at /files/assets/files.js; no inline script anywhere (the page's CSP forbids it).

(() => {
  const TUS = { 'Tus-Resumable': '1.0.0' };
  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

  for (const form of document.querySelectorAll('form.confirm')) {
    form.addEventListener('submit', (event) => {
      if (!window.confirm(form.dataset.confirm ?? 'Are you sure?')) event.preventDefault();
    });
  }

  const section = document.querySelector('section.upload');
  if (!section) return;
  const dir = section.dataset.dir ?? '/';
  const list = document.getElementById('progress');
  const pick = document.getElementById('pick');
  const drop = document.getElementById('drop');

  /** tus metadata values are base64 of UTF-8. */
  const b64 = (text) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

  function row(file, into) {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.textContent =
      into === dir ? file.name : `${into.slice(dir === '/' ? 1 : dir.length + 1)}/${file.name}`;
    const bar = document.createElement('progress');
    bar.max = file.size || 1;
    bar.value = 0;
    const status = document.createElement('span');
    status.className = 'status';
    li.append(name, bar, status);
    list.append(li);
    return { li, bar, status };
  }

  /**
   * One PATCH with the rest of the file (the browser streams it); resolves with the server's new offset. One
   * request per file, not per chunk: the server records each request as a transfer, and an interrupted one as
   * a failed transfer, so chunks would look like a series of failures.
   */
  function patch(url, file, offset, view) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PATCH', url);
      xhr.setRequestHeader('Tus-Resumable', '1.0.0');
      xhr.setRequestHeader('Upload-Offset', String(offset));
      xhr.setRequestHeader('Content-Type', 'application/offset+octet-stream');
      xhr.setRequestHeader('X-CSRF-Token', csrf);
      xhr.upload.onprogress = (event) => {
        view.bar.value = offset + event.loaded;
      };
      xhr.onload = () => {
        if (xhr.status === 204) resolve(Number(xhr.getResponseHeader('Upload-Offset')));
        else reject(new Error(xhr.responseText || `HTTP ${xhr.status}`));
      };
      xhr.onerror = () => reject(new Error('network error'));
      xhr.send(file.slice(offset));
    });
  }

  async function upload(file, into) {
    const view = row(file, into);
    const key = `ferry-tus:${into}:${file.name}:${file.size}:${file.lastModified}`;
    try {
      let url = localStorage.getItem(key);
      let offset = 0;
      if (url) {
        // A page reload or a dropped network: ask the server how much it has, and continue from there.
        const head = await fetch(url, { method: 'HEAD', headers: TUS });
        if (head.ok) offset = Number(head.headers.get('Upload-Offset'));
        else url = null;
        if (url && offset > 0) {
          view.li.dataset.resumedAt = String(offset);
          view.status.textContent = ` resuming at ${offset} bytes`;
        }
      }
      if (!url) {
        const created = await fetch('/files/tus', {
          method: 'POST',
          headers: {
            ...TUS,
            'Upload-Length': String(file.size),
            'Upload-Metadata': `dir ${b64(into)},name ${b64(file.name)}`,
            'X-CSRF-Token': csrf,
          },
        });
        if (created.status !== 201) throw new Error((await created.text()) || `HTTP ${created.status}`);
        url = created.headers.get('Location');
        localStorage.setItem(key, url);
      }
      while (offset < file.size) offset = await patch(url, file, offset, view);
      localStorage.removeItem(key);
      view.bar.value = view.bar.max;
      const resumed = view.li.dataset.resumedAt;
      view.status.textContent = resumed ? ` done (resumed at ${resumed} bytes)` : ' done';
      view.li.dataset.state = 'done';
    } catch (err) {
      view.status.textContent = ` failed: ${err.message}`;
      view.li.dataset.state = 'failed';
    }
  }

  const joinPath = (parent, name) => (parent === '/' ? `/${name}` : `${parent}/${name}`);

  /** Creates a folder (an existing one is fine: the uploads into it report any real problem). */
  async function makeFolder(path) {
    const cut = path.lastIndexOf('/');
    const body = new URLSearchParams({
      _csrf: csrf,
      dir: path.slice(0, cut) || '/',
      name: path.slice(cut + 1),
    });
    await fetch('/files/mkdir', { method: 'POST', body, redirect: 'manual' });
  }

  /** Uploads [{ file, into }] one after another, creating the folders they go into first (parents first). */
  async function uploadAll(items) {
    const folders = [...new Set(items.map((i) => i.into).filter((d) => d !== dir))];
    folders.sort((a, b) => a.split('/').length - b.split('/').length);
    for (const folder of folders) await makeFolder(folder);
    for (const { file, into } of items) await upload(file, into);
    if (items.length > 0 && list.querySelector('li[data-state="failed"]') === null) {
      const done = document.createElement('li');
      done.className = 'all-done';
      const link = document.createElement('a');
      link.href = window.location.href;
      link.textContent = 'All uploads complete: refresh the listing';
      done.append(link);
      list.append(done);
    }
  }

  /** Files from a picker: a folder pick names each file's place as webkitRelativePath ('top/sub/a.txt'). */
  function picked(files) {
    return [...files].map((file) => {
      const parts = (file.webkitRelativePath || file.name).split('/').slice(0, -1);
      return { file, into: parts.reduce(joinPath, dir) };
    });
  }

  /** Walks a dropped folder (FileSystemEntry) into [{ file, into }]. */
  async function walk(entry, into, out) {
    if (entry.isFile) {
      out.push({ file: await new Promise((resolve, reject) => entry.file(resolve, reject)), into });
      return;
    }
    const folder = joinPath(into, entry.name);
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) break;
      for (const child of batch) await walk(child, folder, out);
    }
    // An empty folder is still created.
    const inside = (i) => {
      const place = i.into ?? i.folderOnly;
      return place === folder || place.startsWith(`${folder}/`);
    };
    if (!out.some(inside)) out.push({ folderOnly: folder });
  }

  async function dropped(transfer) {
    const entries = [...transfer.items].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
    if (entries.length === 0) return picked(transfer.files);
    const out = [];
    for (const entry of entries) await walk(entry, dir, out);
    for (const empty of out.filter((i) => i.folderOnly)) await makeFolder(empty.folderOnly);
    return out.filter((i) => i.file);
  }

  pick.addEventListener('change', () => uploadAll(picked(pick.files)));
  const pickFolder = document.getElementById('pick-folder');
  pickFolder?.addEventListener('change', () => uploadAll(picked(pickFolder.files)));
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    dropped(event.dataTransfer).then(uploadAll);
  });
})();
