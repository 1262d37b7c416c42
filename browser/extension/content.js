// Purr's content script: the bridge between the page and the extension, in the original's
// protocol. The page dispatches CustomEvent('Purr.Request', {detail: msg}) on document; replies
// come back as CustomEvent('Purr.Response', {detail: msg}), and {status: 'disconnected'} when the
// host (or the extension's background) goes away.
'use strict';

(() => {
  const api = globalThis.browser ?? globalThis.chrome;
  let port = null;

  function toPage(message) {
    // Firefox: the page may only read objects cloned into its own compartment.
    const detail = typeof cloneInto === 'function' ? cloneInto(message, document.defaultView) : message;
    document.dispatchEvent(new CustomEvent('Purr.Response', { detail }));
  }

  function connect() {
    const opened = api.runtime.connect({ name: 'purr-page' });
    opened.onMessage.addListener(toPage);
    opened.onDisconnect.addListener(() => {
      if (port === opened) port = null;
      toPage({ status: 'disconnected' });
    });
    port = opened;
    return opened;
  }

  document.addEventListener('Purr.Request', (event) => {
    let message;
    try {
      // A plain copy: nothing of the page's objects reaches the extension.
      message = JSON.parse(JSON.stringify(event.detail));
    } catch {
      return;
    }
    if (!message || typeof message !== 'object' || Array.isArray(message)) return;
    try {
      (port ?? connect()).postMessage(message);
    } catch {
      // The background restarted: connect again once.
      port = null;
      connect().postMessage(message);
    }
  });
})();
