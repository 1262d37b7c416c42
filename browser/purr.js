// purr.js: the page side of Purr. Ask the Purr browser extension to open a local TCP tunnel to a
// Purr server, and get back the local port. No dependencies; load it with a <script> tag (it
// defines the global `Purr`) or import it as a module (`import './purr.js'`, then `globalThis.Purr`;
// `purr.mjs` beside it re-exports it as `export default`).
//
//   const port = await Purr.open('https://purr.example.com/vnc?token=…');
//   show(`Connect your VNC viewer to localhost:${port}`);
//
// It speaks the original Purr page protocol: CustomEvent('Purr.Request', {detail}) on document,
// answers as CustomEvent('Purr.Response', {detail}) matched by `seq`.
(function () {
  'use strict';
  if (globalThis.Purr) return;

  const pending = new Map(); // seq -> {resolve, reject, timer}
  const listeners = new Map([['disconnected', new Set()]]);
  // A seq of our own, so pages that also speak the raw protocol never get our answers mixed up.
  const prefix = `purr.js:${Math.random().toString(36).slice(2)}:`;
  let counter = 0;
  let listening = false;

  function listen() {
    if (listening) return;
    listening = true;
    document.addEventListener('Purr.Response', (event) => {
      const message = event.detail;
      if (!message || typeof message !== 'object') return;
      if (message.status === 'disconnected' && message.seq === undefined) {
        for (const [seq, call] of pending) {
          clearTimeout(call.timer);
          const why = typeof message.reason === 'string' ? ` (${message.reason})` : '';
          call.reject(new Error(`Purr: the extension lost its connection to the purr host${why}`));
          pending.delete(seq);
        }
        for (const listener of listeners.get('disconnected')) {
          try {
            listener(message);
          } catch (error) {
            console.error(error);
          }
        }
        return;
      }
      const call = pending.get(message.seq);
      if (!call) return;
      pending.delete(message.seq);
      clearTimeout(call.timer);
      if (message.error !== undefined) call.reject(new Error(`Purr: ${message.error}`));
      else call.resolve(message);
    });
  }

  function request(cmd, args, timeout) {
    listen();
    const seq = prefix + ++counter;
    return new Promise((resolve, reject) => {
      const seconds = timeout / 1000;
      const timer = setTimeout(() => {
        pending.delete(seq);
        reject(new Error(`Purr: no answer to '${cmd}' within ${seconds} s (is the Purr extension installed and enabled on this page?)`));
      }, timeout);
      pending.set(seq, { resolve, reject, timer });
      const detail = { seq, cmd };
      if (args !== undefined) detail.args = args;
      document.dispatchEvent(new CustomEvent('Purr.Request', { detail }));
    });
  }

  const Purr = {
    /** Milliseconds to wait for an answer before rejecting. */
    timeout: 5000,

    /** Is the extension there, the host reachable, and this page's origin allowed? */
    async available() {
      try {
        await request('status', undefined, this.timeout);
        return true;
      } catch {
        return false;
      }
    },

    /**
     * Opens a tunnel to a Purr server URL; resolves to the local port (on localhost). A `token` in
     * the URL's query is sent as `Authorization: Bearer`. `options.upgrade: 'websocket'` for proxies
     * that pass only websocket upgrades.
     */
    async open(url, options = {}) {
      const args = { url: String(url) };
      if (options.upgrade !== undefined) args.upgrade = String(options.upgrade);
      return (await request('open', args, this.timeout)).args;
    },

    /** Closes this tab's tunnel on a port. */
    async close(port) {
      await request('close', { port: Number(port) }, this.timeout);
    },

    /** The ports of this tab's tunnels. */
    async status() {
      return (await request('status', undefined, this.timeout)).args;
    },

    /** This tab's tunnels: {port, url, state, active, total, failed, bytesUp, bytesDown, lastError, connections}. */
    async tunnels() {
      return (await request('tunnels', undefined, this.timeout)).args;
    },

    /** 'disconnected': the extension lost the host (pending calls reject; open tunnels are gone). */
    addEventListener(type, listener) {
      if (!listeners.has(type)) throw new Error(`Purr: no event '${type}' (only 'disconnected')`);
      listen();
      listeners.get(type).add(listener);
    },

    removeEventListener(type, listener) {
      listeners.get(type)?.delete(listener);
    },
  };

  globalThis.Purr = Object.freeze(Purr);
})();
