// Ferry console: confirmation of destructive forms, and the dashboard's link to the event stream. Everything else
// is server-rendered; htmx (served beside this file) reloads the live part. No inline script anywhere (the
// page's CSP forbids it).
(() => {
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains('confirm')) return;
    if (!window.confirm(form.dataset.confirm ?? 'Are you sure?')) event.preventDefault();
  });

  // An element with data-events="session transfer" is told "refresh" (its hx-trigger) when the stream reports one
  // of those events; bursts are folded into one refresh per second.
  for (const target of document.querySelectorAll('[data-events]')) {
    const stream = new EventSource(target.dataset.stream ?? '/api/events');
    let pending = false;
    const refresh = () => {
      if (pending) return;
      pending = true;
      setTimeout(() => {
        pending = false;
        window.htmx?.trigger(target, 'refresh');
      }, 1000);
    };
    for (const name of target.dataset.events.split(/\s+/)) stream.addEventListener(name, refresh);
    window.addEventListener('pagehide', () => stream.close());
  }
})();

// A dialog the server rendered open (<dialog open class="modal">, the partner host key dialog) becomes modal: the
// page behind it is inert and Escape leaves it for its data-cancel address. Without script it is a plain section.
(() => {
  for (const dialog of document.querySelectorAll('dialog.modal[open]')) {
    dialog.close();
    dialog.showModal();
    dialog.addEventListener('cancel', (event) => {
      if (!dialog.dataset.cancel) return;
      event.preventDefault();
      window.location.assign(dialog.dataset.cancel);
    });
  }
})();
