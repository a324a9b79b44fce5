// Ferry web client: confirmations, and resumable uploads over tus (drag and drop or file picker, per-file progress).
// Served by Ferry at /files/assets/files.js; no inline script anywhere (the page's CSP forbids it).

(() => {
  const CHUNK = 8 * 1024 * 1024;
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

  function row(file) {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = file.name;
    const bar = document.createElement('progress');
    bar.max = file.size || 1;
    bar.value = 0;
    const status = document.createElement('span');
    status.className = 'status';
    li.append(name, bar, status);
    list.append(li);
    return { li, bar, status };
  }

  /** One PATCH of the next chunk; resolves with the server's new offset. */
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
      xhr.send(file.slice(offset, offset + CHUNK));
    });
  }

  async function upload(file) {
    const view = row(file);
    const key = `ferry-tus:${dir}:${file.name}:${file.size}:${file.lastModified}`;
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
            'Upload-Metadata': `dir ${b64(dir)},name ${b64(file.name)}`,
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

  async function uploadAll(files) {
    const all = [...files];
    for (const file of all) await upload(file);
    if (all.length > 0 && list.querySelector('li[data-state="failed"]') === null) {
      const done = document.createElement('li');
      done.className = 'all-done';
      const link = document.createElement('a');
      link.href = window.location.href;
      link.textContent = 'All uploads complete: refresh the listing';
      done.append(link);
      list.append(done);
    }
  }

  pick.addEventListener('change', () => uploadAll(pick.files));
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    uploadAll(event.dataTransfer.files);
  });
})();
