// Purr's popup: the current tab's tunnels, and which pages may open tunnels. Only this page may
// tell the host to allow or revoke an origin (the background refuses those commands from pages).
// `popup.html?tab=ID` shows another tab (the tests open the popup in a tab of its own).
'use strict';

const api = globalThis.browser ?? globalThis.chrome;
let port = null;
let seq = 0;
let tab = null;
let hostGone = false;
const sent = new Map(); // seq -> cmd

function $(id) {
  return document.getElementById(id);
}

function ask(cmd, args) {
  const message = { seq: ++seq, cmd };
  sent.set(message.seq, cmd);
  if (args !== undefined) message.args = args;
  port.postMessage(message);
}

function bytes(count) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
}

function showTunnels(tunnels) {
  const body = $('tunnels').querySelector('tbody');
  body.replaceChildren();
  for (const t of tunnels) {
    const row = document.createElement('tr');
    row.dataset.port = String(t.port);
    cell(row, String(t.port));
    cell(row, t.url);
    cell(row, bytes(t.bytesUp));
    cell(row, bytes(t.bytesDown));
    cell(row, String(t.active));
    cell(row, t.lastError ? `${t.state}; last error: ${t.lastError}` : t.state, t.lastError ? 'error' : '');
    body.appendChild(row);
  }
  $('no-tunnels').hidden = tunnels.length > 0;
}

function originList(id, origins, label, cmd) {
  const list = $(id);
  list.replaceChildren();
  for (const origin of origins) {
    const item = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = origin;
    const button = document.createElement('button');
    button.textContent = label;
    button.dataset.origin = origin;
    button.addEventListener('click', () => ask(cmd, { origin }));
    item.append(name, button);
    list.appendChild(item);
  }
  $(`no-${id}`).hidden = origins.length > 0;
}

function problem(text) {
  $('problem').textContent = text;
  $('problem').hidden = !text;
}

function onMessage(message) {
  if (message.status === 'disconnected') {
    problem(`The Purr host is not reachable (${message.error ?? 'disconnected'}). Install it with: purr native-host --install chrome`);
    port = null;
    hostGone = true;
    return;
  }
  const cmd = sent.get(message.seq);
  sent.delete(message.seq);
  if (message.error !== undefined) return problem(message.error);
  // A problem stays until the host is back or an allow/revoke works.
  if (hostGone || cmd === 'allow' || cmd === 'revoke') problem('');
  hostGone = false;
  if (message.status === 'tunnels') showTunnels(message.args);
  if (message.status === 'origins') {
    originList('refused', message.args.refused, 'Allow', 'allow');
    originList('allowed', message.args.allowed, 'Revoke', 'revoke');
  }
}

function refresh() {
  if (!port) {
    port = api.runtime.connect({ name: 'purr-popup' });
    port.onMessage.addListener(onMessage);
    port.onDisconnect.addListener(() => (port = null));
  }
  if (tab !== null) ask('tunnels', { tab });
  ask('origins');
}

async function start() {
  const asked = Number(new URLSearchParams(location.search).get('tab'));
  if (Number.isInteger(asked) && asked > 0) {
    tab = asked;
  } else {
    const [active] = await api.tabs.query({ active: true, currentWindow: true });
    tab = active?.id ?? null;
  }
  refresh();
  setInterval(refresh, 1000);
}

start();
