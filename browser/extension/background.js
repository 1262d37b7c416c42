// Purr's background (a service worker in Chrome/Chromium, an event page in Firefox).
//
// Pages talk to the content script; the content script talks to us over a port named 'purr-page';
// we talk to the native host 'purr' (the `purr native-host` binary). We stamp every page message
// with `src` (the tab id) and `origin` (from the sender, never from the page) and route the host's
// replies back by `dst`, as the original extension did. The popup talks to us over 'purr-popup'.
//
// Nothing here needs to outlive the worker: the host owns the tunnels (by tab), and an open
// native port keeps the worker alive (Chrome 105+). If the worker or the host goes away anyway,
// every page hears {status: 'disconnected'} and the next request starts afresh.
'use strict';

const api = globalThis.browser ?? globalThis.chrome;
const HOST = 'purr';
// What the popup (and only the popup) may ask; pages never reach these.
const POPUP_ONLY = new Set(['origins', 'allow', 'revoke', 'close-tab', 'exit']);
// The seq of our own close-tab messages: their replies are for nobody.
const INTERNAL_SEQ = 'purr-extension:close-tab';
const extensionOrigin = api.runtime.getURL('').replace(/\/$/, '');

let native = null;
const pagePorts = new Map(); // tab id -> Set of ports
const popupPorts = new Set();

function host() {
  if (native) return native;
  const port = api.runtime.connectNative(HOST);
  native = port;
  port.onMessage.addListener(fromHost);
  port.onDisconnect.addListener(() => {
    const reason = port.error?.message ?? api.runtime.lastError?.message ?? 'the host exited';
    if (native === port) native = null;
    for (const ports of pagePorts.values()) for (const page of ports) send(page, { status: 'disconnected', reason });
    for (const popup of popupPorts) send(popup, { status: 'disconnected', error: reason });
  });
  return port;
}

function send(port, message) {
  try {
    port.postMessage(message);
  } catch {
    // The page or popup went away meanwhile.
  }
}

function fromHost(message) {
  if (!message || typeof message !== 'object') return;
  if (message.seq === INTERNAL_SEQ) return;
  if (message.dst === 'popup') {
    for (const popup of popupPorts) send(popup, message);
    return;
  }
  for (const page of pagePorts.get(message.dst) ?? []) send(page, message);
}

function toHost(message) {
  try {
    host().postMessage(message);
    return true;
  } catch {
    native = null;
    return false;
  }
}

// The page's origin, from what the browser says about the sender.
function senderOrigin(sender) {
  if (sender.origin && sender.origin !== 'null') return sender.origin;
  try {
    return new URL(sender.url).origin;
  } catch {
    return 'null';
  }
}

function closeTab(tab) {
  if (native) toHost({ cmd: 'close-tab', src: tab, seq: INTERNAL_SEQ, origin: extensionOrigin });
}

function onPage(port) {
  const tab = port.sender?.tab?.id;
  if (typeof tab !== 'number') return port.disconnect();
  if (!pagePorts.has(tab)) pagePorts.set(tab, new Set());
  pagePorts.get(tab).add(port);
  port.onMessage.addListener((message) => {
    if (!message || typeof message !== 'object' || Array.isArray(message)) return;
    const stamped = { ...message, src: tab, origin: senderOrigin(port.sender) };
    if (POPUP_ONLY.has(stamped.cmd)) {
      send(port, { dst: tab, seq: stamped.seq ?? null, error: `'${stamped.cmd}' is only for the Purr extension's popup` });
      return;
    }
    if (!toHost(stamped)) send(port, { status: 'disconnected' });
  });
  // The page closed, reloaded or navigated away: its tunnels go with it.
  port.onDisconnect.addListener(() => {
    const ports = pagePorts.get(tab);
    ports?.delete(port);
    if (ports && ports.size === 0) {
      pagePorts.delete(tab);
      closeTab(tab);
    }
  });
}

function onPopup(port) {
  popupPorts.add(port);
  port.onMessage.addListener((message) => {
    if (!message || typeof message !== 'object' || Array.isArray(message)) return;
    if (!toHost({ ...message, src: 'popup', origin: extensionOrigin })) {
      send(port, { status: 'disconnected', error: 'cannot start the Purr host' });
    }
  });
  port.onDisconnect.addListener(() => popupPorts.delete(port));
}

api.runtime.onConnect.addListener((port) => {
  const fromExtensionPage = (port.sender?.url ?? '').startsWith(api.runtime.getURL('popup.html'));
  if (port.name === 'purr-popup' && fromExtensionPage) onPopup(port);
  else if (port.name === 'purr-page' && !fromExtensionPage) onPage(port);
  else port.disconnect();
});

api.tabs.onRemoved.addListener((tab) => {
  pagePorts.delete(tab);
  closeTab(tab);
});
