// Purr's content script: the bridge between the page and the extension, in the original's
// protocol. The page dispatches CustomEvent('Purr.Request', {detail: msg}) on document; replies
// come back as CustomEvent('Purr.Response', {detail: msg}), and {status: 'disconnected'} when the
// host (or the extension's background) goes away.
'use strict';

(() => {
  const api = globalThis.browser ?? globalThis.chrome;
  // The most of a page's message we forward: Purr's own are a few hundred bytes, and the host
  // refuses frames over 1 MiB anyway.
  const MAX_MESSAGE = 64 * 1024;
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
      const text = JSON.stringify(event.detail);
      if (typeof text !== 'string') return;
      if (text.length > MAX_MESSAGE) {
        const seq = event.detail?.seq;
        toPage({ dst: null, seq: typeof seq === 'number' || typeof seq === 'string' ? seq : null,
          error: `message of ${text.length} characters is over the ${MAX_MESSAGE}-character limit` });
        return;
      }
      message = JSON.parse(text);
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
