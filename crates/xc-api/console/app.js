// The xconnect console: a single page over the native API (/v1), signed in with an access key.
// No build step: the server embeds this file as it is, with one vendored library, uPlot, for the
// charts (console/vendor/, loaded before this script as the global `uPlot`). Every value shown
// is escaped (`esc`); every change sends the session's CSRF token.

const main = document.getElementById('main');
let session = null;
let timer = null;
// The charts on the page (destroyed when it changes) and their refresh.
let charts = [];
let chartTimer = null;
// The pages drawn so far: an answer that arrives after the next page began is dropped, so a
// slow page left behind cannot draw over the one that replaced it.
let generation = 0;

// ---------------------------------------------------------------------------------------------
// Plumbing

const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
    this.field = body && body.field;
  }
}

async function api(method, path, body) {
  const drawn = generation;
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (session && method !== 'GET') headers['X-CSRF-Token'] = session.csrfToken;
  const r = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = r.status === 204 ? '' : await r.text();
  // Another page since: this answer's page is gone (its caller waits for ever, and is let go).
  if (drawn !== generation) return new Promise(() => {});
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!r.ok) {
    if (r.status === 401 && session && path !== '/console/api/session') {
      // The session ended (expired, or its key was disabled): back to the sign-in page.
      session = null;
      render();
    }
    throw new ApiError(r.status, data);
  }
  return data;
}

function toast(msg) {
  const t = document.getElementById('toast');
  t.textContent = msg;
  setTimeout(() => { if (t.textContent === msg) t.textContent = ''; }, 4000);
}

const badge = (s) => `<span class="badge ${esc(s)}">${esc(s)}</span>`;
const when = (secs) => (secs ? new Date(secs * 1000).toLocaleString() : '-');
const canWrite = () => session && session.role !== 'read-only';
const providerName = (p) => (p && typeof p === 'object' ? Object.values(p)[0] : p) || '-';
const lines = (text) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
const money = (currency, v) => {
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(v);
  } catch {
    return `${Number(v).toFixed(2)} ${currency}`;
  }
};

function setTitle(t) {
  document.title = `${t} · xconnect console`;
}

function show(html) {
  main.innerHTML = html;
}

function debounce(f, ms) {
  let h = null;
  return (...a) => { clearTimeout(h); h = setTimeout(() => f(...a), ms); };
}

// ---------------------------------------------------------------------------------------------
// Routing

const routes = [
  [/^#\/connections\/([a-z0-9-]+)$/, connectionPage],
  [/^#\/connections$/, connectionsPage],
  [/^#\/create$/, createWizard],
  [/^#\/accept$/, acceptPage],
  [/^#\/environments$/, environmentsPage],
  [/^#\/attach-points$/, attachPointsPage],
  [/^#\/gateways$/, gatewaysPage],
  [/^#\/accounts$/, accountsPage],
  [/^#\/keys(?:\/(\d{12}))?$/, keysPage],
  [/^#\/filters$/, filtersPage],
  [/^#\/alarms$/, alarmsPage],
  [/^#\/usage(?:\/(\d{12}))?$/, usagePage],
  [/^#\/quotas(?:\/(\d{12}))?$/, quotasPage],
  [/^#\/alarms\/(alarm-[0-9a-f]{16})$/, alarmPage],
];

async function render() {
  generation += 1;
  const mine = generation;
  clearInterval(timer);
  timer = null;
  clearInterval(chartTimer);
  chartTimer = null;
  for (const u of charts) u.destroy();
  charts = [];
  const top = document.getElementById('top');
  if (!session) {
    try {
      const s = await api('GET', '/console/api/session');
      session = s && s.signedIn ? s : null;
    } catch {
      session = null;
    }
  }
  if (!session) {
    top.hidden = true;
    signInPage();
    return;
  }
  top.hidden = false;
  document.getElementById('who').textContent =
    `${session.accountName} (${session.accountId}) · ${session.role}`;
  for (const a of document.querySelectorAll('[data-write]')) a.hidden = !canWrite();
  for (const a of document.querySelectorAll('[data-operator]')) a.hidden = !session.operator;
  const hash = location.hash || '#/connections';
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (hash.startsWith(`#/${a.dataset.nav}`)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const found = routes.find(([re]) => re.test(hash));
  if (!found) {
    location.hash = '#/connections';
    return;
  }
  const [re, view] = found;
  try {
    await view(...hash.match(re).slice(1));
  } catch (e) {
    // (A page left behind says nothing over the one that replaced it.)
    if (mine === generation) show(`<h1>Something went wrong</h1><p class="error" role="alert">${esc(e.message)}</p>`);
  }
}

window.addEventListener('hashchange', render);
document.getElementById('sign-out').addEventListener('click', async () => {
  await api('POST', '/console/api/sign-out').catch(() => {});
  session = null;
  location.hash = '#/connections';
  render();
});

// ---------------------------------------------------------------------------------------------
// Sign-in

function signInPage() {
  setTitle('Sign in');
  show(`<div class="panel narrow">
    <h1>Sign in to xconnect</h1>
    <form id="sign-in" novalidate>
      <label for="key-id">Access key ID</label>
      <input type="text" id="key-id" name="accessKeyId" autocomplete="username" required>
      <label for="secret">Secret access key</label>
      <input type="password" id="secret" name="secretAccessKey" autocomplete="current-password" required>
      <p class="error" id="sign-in-error" role="alert"></p>
      <div class="actions"><button class="primary" type="submit">Sign in</button></div>
    </form>
    <p class="hint">Your access key is the one the operator gave you (the same one the AWS CLI uses).</p>
  </div>`);
  document.getElementById('sign-in').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = document.getElementById('sign-in-error');
    err.textContent = '';
    try {
      session = await api('POST', '/console/api/sign-in', {
        accessKeyId: document.getElementById('key-id').value,
        secretAccessKey: document.getElementById('secret').value,
      });
      if (!location.hash) location.hash = '#/connections';
      render();
    } catch (e) {
      err.textContent = e.message;
    }
  });
  document.getElementById('key-id').focus();
}

// ---------------------------------------------------------------------------------------------
// Connections

const STATES = ['requested', 'pending', 'available', 'down', 'updating', 'deleting', 'deleted', 'failed'];

async function connectionsPage() {
  setTitle('Connections');
  show(`<h1>Connections</h1>
    <div class="filters" role="search">
      <div><label for="f-state">State</label>
        <select id="f-state"><option value="">any</option>${STATES.map((s) => `<option>${s}</option>`).join('')}</select></div>
      <div><label for="f-type">Type</label>
        <select id="f-type"><option value="">any</option><option value="multicloud">multicloud</option><option value="lastmile">last mile</option></select></div>
      <div class="grow"><label for="f-search">Search</label>
        <input type="text" id="f-search" placeholder="id, description, environment, account"></div>
    </div>
    <div id="list" aria-live="polite">Loading…</div>`);
  let all = [];
  const draw = () => {
    const st = document.getElementById('f-state').value;
    const ty = document.getElementById('f-type').value;
    const q = document.getElementById('f-search').value.trim().toLowerCase();
    const rows = all.filter((c) => (!st || c.state === st) && (!ty || c.type === ty)
      && (!q || [c.id, c.description, c.environmentId, c.ownerAccount, c.remoteAccount].join(' ').toLowerCase().includes(q)));
    document.getElementById('list').innerHTML = rows.length === 0
      ? `<p class="muted">No connections${all.length ? ' match' : ' yet'}.${canWrite() && !all.length ? ' <a href="#/create">Create one</a>.' : ''}</p>`
      : `<div class="table-wrap"><table><caption class="muted count">${rows.length} of ${all.length}</caption>
        <thead><tr><th>Connection</th><th>State</th><th>Type</th><th>Environment</th><th>Bandwidth</th><th>Side</th><th>Description</th></tr></thead>
        <tbody>${rows.map((c) => `<tr>
          <td><a href="#/connections/${esc(c.id)}">${esc(c.id)}</a></td>
          <td>${badge(c.state)}</td><td>${esc(c.type)}</td>
          <td>${esc(c.provider)} ${esc(c.location)}</td><td>${esc(c.bandwidth)}</td>
          <td>${esc(c.yourSide)}</td><td>${esc(c.description)}</td></tr>`).join('')}</tbody></table></div>`;
  };
  for (const id of ['f-state', 'f-type']) document.getElementById(id).addEventListener('change', draw);
  document.getElementById('f-search').addEventListener('input', draw);
  let token = null;
  all = [];
  do {
    const page = await api('GET', `/v1/connections?maxResults=100${token ? `&nextToken=${encodeURIComponent(token)}` : ''}`);
    all.push(...page.connections);
    token = page.nextToken;
  } while (token);
  draw();
}

async function connectionPage(id) {
  setTitle(id);
  show(`<h1>${esc(id)}</h1><div id="conn">Loading…</div>${chartsSection()}`);
  let charted = false;
  const load = async () => {
    const c = await api('GET', `/v1/connections/${encodeURIComponent(id)}`);
    let links = { links: [] };
    try { links = await api('GET', `/v1/connections/${encodeURIComponent(id)}/links`); } catch { /* none yet */ }
    const history = await api('GET', `/v1/connections/${encodeURIComponent(id)}/events`);
    drawConnection(c, links.links, history.events);
    if (!charted) {
      charted = true;
      startCharts(c, links.links);
    }
    const settling = ['requested', 'pending', 'updating', 'deleting', 'down'].includes(c.state);
    if (settling && !timer) timer = setInterval(() => load().catch(() => {}), 3000);
    if (!settling && timer) { clearInterval(timer); timer = null; }
  };
  await load();
}

// One line of a connection's history, in words.
function eventText(e, c) {
  if (e.kind === 'created') return `Created by ${c.ownerAccount}: ${e.bandwidth}, ${e.state}`;
  if (e.kind === 'bandwidth') {
    return e.pendingBandwidth ? `Bandwidth change to ${e.pendingBandwidth} requested` : `Bandwidth is now ${e.bandwidth}`;
  }
  if (e.previousState === 'requested' && e.state === 'pending') return `Accepted by ${c.remoteAccount || 'the other side'}: pending`;
  return e.previousState && e.previousState !== e.state ? `${e.previousState} → ${e.state}` : e.state;
}

// The prefixes the gateways of one side have in their kernels through the links.
function routesOf(links, end) {
  const all = new Set();
  for (const l of links) for (const p of ((l.ends || [])[end] || {}).routes || []) all.add(p);
  return [...all].sort();
}

function drawConnection(c, links, events) {
  const el = document.getElementById('conn');
  if (!el) return;
  const focused = document.activeElement && document.activeElement.id;
  const owner = c.yourSide === 'owner';
  const lm = c.lastMile;
  const toRemote = routesOf(links, 1);
  const toOwner = routesOf(links, 0);
  const routeCell = (list) => (list.length ? list.map((p) => `<code>${esc(p)}</code>`).join(' ') : '<span class="muted">none</span>');
  const sessions = links.filter((l) => l.customer).map((l) => l.customer);
  el.innerHTML = `<div class="panel">
      <p>${badge(c.state)} <span id="state-reason">${c.stateReason ? `<strong>${esc(c.stateReason.code)}</strong>: ${esc(c.stateReason.message)}` : ''}</span></p>
      <dl class="facts">
        <dt>Description</dt><dd>${esc(c.description)}</dd>
        <dt>Type</dt><dd>${esc(c.type)}</dd>
        <dt>Environment</dt><dd>${esc(c.provider)} ${esc(c.location)} (${esc(c.environmentId)})</dd>
        <dt>Bandwidth</dt><dd>${esc(c.bandwidth)}${c.pendingBandwidth ? ` → ${esc(c.pendingBandwidth)}` : ''}</dd>
        <dt>Owner</dt><dd>${esc(c.ownerAccount)} · attach point <code>${esc(c.attachPoint)}</code></dd>
        <dt>Remote</dt><dd>${esc(c.remoteAccount)}${c.remoteAttachPoint ? ` · attach point <code>${esc(c.remoteAttachPoint)}</code>` : ''}</dd>
        <dt>Your side</dt><dd>${esc(c.yourSide)}</dd>
        <dt>Encryption</dt><dd>MACsec GCM-AES-XPN-256, keys agreed by MKA (always on)</dd>
        ${lm ? `<dt>On-premises site</dt><dd>circuit ${esc(lm.circuitId)} · AS ${esc(lm.customerAsn)} · layer ${esc(lm.layer)} · VLAN ${esc(lm.vlan)} · ${esc(lm.onPremisesPrefixes.join(', '))} · ${lm.redundancy} edge(s)${lm.md5 ? ' · MD5 set' : ''}</dd>` : ''}
        ${owner && c.activationKey && c.state === 'requested' ? `<dt>Activation key</dt><dd><div class="key mono" id="activation-key">${esc(c.activationKey)}</div>
          <button type="button" id="copy-key">Copy the key</button> <span class="hint">expires ${when(c.activationKeyExpiresAt)}</span></dd>` : ''}
      </dl>
    </div>
    <h2>Timeline</h2>
    <ol class="timeline" id="timeline">${events.map((e) => `<li><time class="muted" datetime="${new Date(e.at * 1000).toISOString()}">${when(e.at)}</time> ${esc(eventText(e, c))}${e.reason ? ` <span class="hint">${esc(e.reason.code)}: ${esc(e.reason.message)}</span>` : ''}</li>`).join('')}</ol>
    <h2>Links</h2>
    ${links.length === 0 ? '<p class="muted">No links yet: they are planned once the connection is accepted and both sides have gateways.</p>'
      : `<div class="table-wrap"><table><thead><tr><th>Link</th><th>State</th><th>Owner side</th><th>Remote side</th><th>MKA</th><th>BGP (accepted/sent)</th><th>BFD</th><th>Counters</th></tr></thead><tbody>
      ${links.map((l) => {
        const e = l.ends || [];
        const end = (i) => (e[i] ? `${esc(e[i].gatewayName)} <span class="muted">${esc(e[i].facility || '')}</span><br><code>${esc(e[i].address)}</code>${e[i].address6 ? `<br><code>${esc(e[i].address6)}</code>` : ''}` : '-');
        const mka = (i) => (e[i] && e[i].mka ? `${badge(e[i].mka.state)}${e[i].mka.keyAgeSecs != null ? ` key ${e[i].mka.keyAgeSecs}s` : ''}` : '-');
        const bgp = (i) => (e[i] && e[i].bgp ? `${badge(e[i].bgp.state)} ${e[i].bgp.prefixesAccepted}/${e[i].bgp.prefixesSent}${e[i].bgp6 ? `<br>IPv6 ${badge(e[i].bgp6.state)} ${e[i].bgp6.prefixesAccepted}/${e[i].bgp6.prefixesSent}` : ''}` : '-');
        const bfd = (i) => (e[i] && e[i].bgp && e[i].bgp.bfd ? esc(e[i].bgp.bfd.state) : '-');
        const ctr = (i) => (e[i] && e[i].counters ? `tx ${esc(e[i].counters.txPackets)} rx ${esc(e[i].counters.rxPackets)}` : '-');
        return `<tr><td>${esc(l.name)}<br><span class="muted">VNI ${esc(l.vni)}</span></td><td>${badge(l.state)}${l.reason ? `<br><span class="hint">${esc(l.reason.code)}: ${esc(l.reason.message)}</span>` : ''}</td>
          <td>${end(0)}</td><td>${end(1)}</td><td>${mka(0)} / ${mka(1)}</td><td>${bgp(0)} / ${bgp(1)}</td><td>${bfd(0)} / ${bfd(1)}</td><td>${ctr(0)}<br>${ctr(1)}</td></tr>`;
      }).join('')}</tbody></table></div>`}
    ${sessions.length ? `<h2>Customer sessions</h2><div class="table-wrap"><table><thead><tr><th>Edge</th><th>VLAN interface</th><th>Addresses</th><th>BGP</th><th>Routes in (accepted / refused)</th><th>Last error</th></tr></thead><tbody>
      ${sessions.map((s) => `<tr><td>${esc(s.edge)} <span class="muted">${esc(s.facility || '')}</span></td><td><code>${esc(s.interface || '-')}</code></td>
        <td><code>${esc(s.providerAddress)}</code> ↔ <code>${esc(s.customerAddress)}</code> (AS ${esc(s.customerAsn)})${s.providerAddress6 ? `<br><code>${esc(s.providerAddress6)}</code> ↔ <code>${esc(s.customerAddress6)}</code>` : ''}</td>
        <td>${s.bgp ? badge(s.bgp.state) : '-'}${s.bgp6 ? `<br>IPv6 ${badge(s.bgp6.state)} ${esc(s.bgp6.prefixesAccepted)}` : ''}</td>
        <td>${s.bgp ? `${esc(s.bgp.prefixesAccepted)} / ${esc(s.bgp.prefixesRefusedTotal)}${s.bgp.refusedPrefixes && s.bgp.refusedPrefixes.length ? `<br><span class="hint">refused: ${esc(s.bgp.refusedPrefixes.join(', '))}</span>` : ''}` : '-'}</td>
        <td>${esc((s.bgp && ((s.bgp.lastError && s.bgp.lastError.message) || s.bgp.connectError)) || '')}</td></tr>`).join('')}</tbody></table></div>` : ''}
    <h2>Tags</h2>
    ${Object.keys(c.tags || {}).length === 0 ? '<p class="muted" id="no-tags">No tags.</p>'
    : `<div class="table-wrap"><table id="tags"><thead><tr><th>Key</th><th>Value</th>${owner && canWrite() ? '<th></th>' : ''}</tr></thead><tbody>
      ${Object.entries(c.tags).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `<tr><td><code>${esc(k)}</code></td><td>${esc(v)}</td>
        ${owner && canWrite() ? `<td><button type="button" class="link" data-untag="${esc(k)}" aria-label="Remove the tag ${esc(k)}">Remove</button></td>` : ''}</tr>`).join('')}
      </tbody></table></div>`}
    ${owner && canWrite() ? `<form id="tag" class="panel inline" novalidate>
      <label for="tag-key">Key</label><input type="text" id="tag-key" maxlength="128">
      <label for="tag-value">Value</label><input type="text" id="tag-value" maxlength="256">
      <p class="error" id="tag-error" role="alert"></p>
      <div class="actions"><button type="submit">Add the tag</button></div>
    </form>` : ''}
    <h2>Routes</h2>
    ${links.length ? `<div class="table-wrap"><table id="routes"><caption class="muted">In the gateways' kernels, through the links</caption>
      <thead><tr><th>Direction</th><th>Prefixes</th></tr></thead><tbody>
      <tr><th scope="row">Owner side → remote side</th><td>${routeCell(toRemote)}</td></tr>
      <tr><th scope="row">Remote side → owner side</th><td>${routeCell(toOwner)}</td></tr></tbody></table></div>`
    : '<p class="muted">None yet: routes are exchanged once the links are up.</p>'}
    ${canWrite() && !['deleted', 'deleting', 'failed'].includes(c.state) ? `
    ${['pending', 'available', 'down'].includes(c.state) ? `<h2>Test connectivity</h2>
    <form id="test" class="panel" novalidate>
      <label for="test-target">Target address on the other side</label>
      <input type="text" id="test-target" required placeholder="10.1.1.10" inputmode="decimal">
      <p class="error" id="test-error" role="alert"></p>
      <div class="actions"><button type="submit">Run the test</button></div>
      <div id="test-result" aria-live="polite"></div>
    </form>` : ''}
    ${owner ? `<h2>Bandwidth</h2>
    <form id="bandwidth" class="panel" novalidate>
      <label for="new-bw">New bandwidth</label>
      <input type="text" id="new-bw" value="${esc(c.bandwidth)}">
      <p class="error" id="bw-error" role="alert"></p>
      <div class="actions"><button type="submit">Update the bandwidth</button></div>
    </form>` : ''}
    <div class="actions"><button type="button" class="danger" id="delete">Delete the connection</button></div>` : ''}`;
  const copy = document.getElementById('copy-key');
  if (copy) copy.addEventListener('click', () => copyKey(c.activationKey));
  const test = document.getElementById('test');
  if (test) {
    test.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const err = document.getElementById('test-error');
      const out = document.getElementById('test-result');
      err.textContent = '';
      out.textContent = 'Testing…';
      try {
        const r = await api('POST', `/v1/connections/${encodeURIComponent(c.id)}/test`, { target: document.getElementById('test-target').value.trim(), count: 3 });
        out.innerHTML = `<dl class="facts"><dt>From</dt><dd>${esc(r.gateway)} (${esc(r.source || '-')})</dd>
          <dt>Loss</dt><dd>${esc(r.loss_percent ?? r.lossPercent)} % (${esc(r.received)}/${esc(r.sent)})</dd>
          <dt>RTT min/avg/max</dt><dd>${esc(r.rtt_min_ms ?? '-')} / ${esc(r.rtt_avg_ms ?? '-')} / ${esc(r.rtt_max_ms ?? '-')} ms</dd>
          <dt>Hops</dt><dd>${esc((r.hops || []).join(' → '))}</dd></dl>`;
      } catch (e) {
        out.textContent = '';
        err.textContent = e.message;
      }
    });
  }
  const tagForm = document.getElementById('tag');
  if (tagForm) {
    tagForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const err = document.getElementById('tag-error');
      err.textContent = '';
      const key = document.getElementById('tag-key').value.trim();
      try {
        await api('POST', `/v1/connections/${encodeURIComponent(c.id)}/tags`, { tags: { [key]: document.getElementById('tag-value').value } });
        toast(`Tag ${key} set`);
        render();
      } catch (e) {
        err.textContent = e.message;
      }
    });
  }
  for (const b of el.querySelectorAll('[data-untag]')) {
    b.addEventListener('click', async () => {
      try {
        await api('DELETE', `/v1/connections/${encodeURIComponent(c.id)}/tags?keys=${encodeURIComponent(b.dataset.untag)}`);
        toast(`Tag ${b.dataset.untag} removed`);
        render();
      } catch (e) {
        toast(e.message);
      }
    });
  }
  const bw = document.getElementById('bandwidth');
  if (bw) {
    bw.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const err = document.getElementById('bw-error');
      err.textContent = '';
      try {
        await api('PATCH', `/v1/connections/${encodeURIComponent(c.id)}`, { bandwidth: document.getElementById('new-bw').value.trim() });
        toast('Bandwidth update requested');
        render();
      } catch (e) {
        err.textContent = e.message;
      }
    });
  }
  const del = document.getElementById('delete');
  if (del) {
    del.addEventListener('click', async () => {
      if (!window.confirm(`Delete ${c.id}? Its links and routes are removed on both sides.`)) return;
      try {
        await api('DELETE', `/v1/connections/${encodeURIComponent(c.id)}`);
        toast(`${c.id} is being deleted`);
        render();
      } catch (e) {
        toast(e.message);
      }
    });
  }
  if (focused) {
    const f = document.getElementById(focused);
    if (f) f.focus();
  }
}

async function copyKey(key) {
  try {
    await navigator.clipboard.writeText(key);
    toast('Activation key copied');
  } catch {
    toast('Select the key and copy it');
  }
}

// ---------------------------------------------------------------------------------------------
// The create wizard

const STEP_NAMES = { multicloud: ['Capability', 'Details', 'Multicloud', 'Review'], lastmile: ['Capability', 'Details', 'Last mile', 'Review'] };
// Which step each request field belongs to (the API names the field at fault).
const FIELD_STEP = {
  environmentId: 1, bandwidth: 1, attachPoint: 1, description: 1,
  remoteAccount: 2, routingPolicy: 2,
  'lastMile.circuitId': 2, 'lastMile.customerAsn': 2, 'lastMile.onPremisesPrefixes': 2,
  'lastMile.redundancy': 2, 'lastMile.layer': 2, 'lastMile.maxPrefixes': 2, 'lastMile.peerings': 2, lastMile: 2,
};
const FIELD_INPUT = {
  environmentId: 'w-env', bandwidth: 'w-bw', attachPoint: 'w-ap', description: 'w-desc',
  remoteAccount: 'w-remote', routingPolicy: 'w-announce',
  'lastMile.circuitId': 'w-circuit', 'lastMile.customerAsn': 'w-asn', 'lastMile.onPremisesPrefixes': 'w-onprem',
  'lastMile.redundancy': 'w-redundancy', 'lastMile.layer': 'w-layer', 'lastMile.maxPrefixes': 'w-maxp', lastMile: 'w-circuit',
};

async function createWizard() {
  if (!canWrite()) {
    show('<h1>Create a connection</h1><p class="error" role="alert">Your access key is read-only: it cannot create connections.</p>');
    return;
  }
  setTitle('Create a connection');
  const [envs, aps] = await Promise.all([api('GET', '/v1/environments'), api('GET', '/v1/attach-points')]);
  const w = {
    step: 0, capability: 'multicloud', description: '', environmentId: '', bandwidth: '', attachPoint: '',
    remoteAccount: '', routing: 'automatic', announce: '', accept: '',
    circuitId: '', redundancy: '2', customerAsn: '', onPremisesPrefixes: '', layer: '3', maxPrefixes: '',
    gbPerMonth: '1000', error: null, created: null,
  };
  const environments = envs.environments;
  const attachPoints = aps.attachPoints || aps.attach_points || [];
  const env = () => environments.find((e) => e.id === w.environmentId);

  // The request as it stands; later steps' fields get stand-ins so that the API checks the
  // fields of this step first.
  const request = (upTo) => {
    const later = (step) => step > upTo;
    const req = {
      environmentId: w.environmentId, bandwidth: w.bandwidth, attachPoint: w.attachPoint,
      remoteAccount: later(2) ? '000000000001' : w.remoteAccount.trim(),
    };
    if (w.description.trim()) req.description = w.description.trim();
    if (w.capability === 'multicloud' && w.routing === 'manual' && !later(2)) {
      req.routingPolicy = { mode: 'manual', announce: lines(w.announce), accept: lines(w.accept) };
    }
    if (w.capability === 'lastmile') {
      req.lastMile = later(2)
        ? { circuitId: 'pending', customerAsn: 65000, onPremisesPrefixes: ['198.18.255.0/24'] }
        : {
          circuitId: w.circuitId, customerAsn: Number(w.customerAsn) || 0, onPremisesPrefixes: lines(w.onPremisesPrefixes),
          redundancy: Number(w.redundancy), layer: Number(w.layer),
        };
      if (!later(2) && w.maxPrefixes) req.lastMile.maxPrefixes = Number(w.maxPrefixes);
    }
    return req;
  };

  const validate = async () => {
    w.error = null;
    if (w.step === 0) return true;
    let e = null;
    try {
      const r = await api('POST', '/v1/connections?dryRun=true', request(w.step));
      if (r.valid) return true;
      e = r;
    } catch (failed) {
      e = failed;
    }
    let { field } = e;
    if (!field && /attach point/.test(e.message)) field = 'attachPoint';
    if (!field && /environment/.test(e.message)) field = 'environmentId';
    const step = FIELD_STEP[field];
    if (step !== undefined && step > w.step) return true; // not this step's business yet
    w.error = { field, message: e.message };
    return false;
  };

  const showErrors = () => {
    for (const el of main.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    for (const el of main.querySelectorAll('.error[data-for]')) el.textContent = '';
    const general = document.getElementById('w-error');
    if (general) general.textContent = '';
    const next = document.getElementById('w-next');
    if (!w.error) { if (next) next.disabled = false; return; }
    const id = FIELD_INPUT[w.error.field];
    const input = id && document.getElementById(id);
    const slot = id && main.querySelector(`.error[data-for="${id}"]`);
    if (input && slot) {
      input.setAttribute('aria-invalid', 'true');
      slot.textContent = w.error.message;
    } else if (general) {
      general.textContent = w.error.message;
    }
    if (next) next.disabled = w.step < 3;
  };
  const check = debounce(async () => { await validate(); showErrors(); }, 250);

  const field = (id, label, input, hint = '') => `<label for="${id}">${label}${hint ? ` <span class="hint">${hint}</span>` : ''}</label>${input}<p class="error" data-for="${id}" id="${id}-error"></p>`;
  const sel = (id, opts, value) => `<select id="${id}" aria-describedby="${id}-error">${opts.map(([v, t, dis]) => `<option value="${esc(v)}"${v === value ? ' selected' : ''}${dis ? ' disabled' : ''}>${esc(t)}</option>`).join('')}</select>`;
  const text = (id, value, extra = '') => `<input type="text" id="${id}" value="${esc(value)}" aria-describedby="${id}-error" ${extra}>`;

  const stepBody = () => {
    const names = STEP_NAMES[w.capability];
    const head = `<h1>Create a connection</h1><ol class="steps" aria-label="Steps">${names.map((n, i) => `<li${i === w.step ? ' aria-current="step"' : ''}>${i + 1}. ${n}</li>`).join('')}</ol>`;
    if (w.created) {
      const c = w.created;
      return `${head.replace('<ol', '<ol hidden')}<div class="panel"><h2 class="first">${esc(c.id)} created</h2>
        <p>Give this activation key to account <strong>${esc(c.remoteAccount)}</strong>${w.capability === 'lastmile' ? ' (the provider)' : ''}. It can be used once and expires ${when(c.activationKeyExpiresAt)}.</p>
        <div class="key mono" id="activation-key">${esc(c.activationKey)}</div>
        <div class="actions"><button type="button" id="copy-key" class="primary">Copy the key</button><a href="#/connections/${esc(c.id)}">Open the connection</a></div>
        <h2>For the other side</h2>
        <p>${w.capability === 'lastmile'
    ? 'The provider signs in to this console with its own access key, opens <strong>Accept</strong>, pastes the key and accepts. Then configure your router from the connection page (VLAN and addresses).'
    : 'The other side signs in with its own access key, opens <strong>Accept</strong>, pastes the key, chooses its attach point and accepts (or runs <code>xconnect connection accept --activation-key KEY --attach-point AP</code>).'}</p></div>`;
    }
    let body = '';
    if (w.step === 0) {
      body = `<fieldset class="plain"><legend class="muted">What do you want to connect?</legend><div class="choices">
        <label class="choice"><input type="radio" name="cap" value="multicloud"${w.capability === 'multicloud' ? ' checked' : ''}><strong>Multicloud</strong><br><span class="hint">Your network to another cloud or organisation, accepted by the other side's account.</span></label>
        <label class="choice"><input type="radio" name="cap" value="lastmile"${w.capability === 'lastmile' ? ' checked' : ''}><strong>Last mile</strong><br><span class="hint">An on-premises site through a network provider's edges, your router peering with BGP.</span></label>
      </div></fieldset>`;
    } else if (w.step === 1) {
      const type = w.capability;
      const envOpts = [['', 'Choose an environment'], ...environments.filter((e) => e.productType === type)
        .map((e) => [e.id, `${providerName(e.provider)} · ${e.location}${e.state !== 'available' ? ` (${e.state}${e.stateMessage ? `: ${e.stateMessage}` : ''})` : ''}`, e.state === 'unavailable'])];
      const e = env();
      const bwOpts = [['', e ? 'Choose a bandwidth' : 'Choose an environment first'], ...(e ? e.supportedBandwidths.map((b) => [b, e.availableBandwidths.includes(b) ? b : `${b} (not available here)`, !e.availableBandwidths.includes(b)]) : [])];
      body = `<div class="panel">
        ${field('w-desc', 'Description', text('w-desc', w.description, 'maxlength="255"'), 'optional')}
        ${field('w-env', 'Environment', sel('w-env', envOpts, w.environmentId), 'provider and location')}
        ${field('w-bw', 'Bandwidth', sel('w-bw', bwOpts, w.bandwidth))}
        ${field('w-ap', 'Attach point', sel('w-ap', [['', attachPoints.length ? 'Choose your attach point' : 'Create an attach point first'], ...attachPoints.map((a) => [a.id, `${a.name} (${a.prefixes.join(', ')})`])], w.attachPoint), 'your network')}
      </div>`;
    } else if (w.step === 2 && w.capability === 'multicloud') {
      body = `<div class="panel">
        ${field('w-remote', 'Remote account', text('w-remote', w.remoteAccount, 'inputmode="numeric" placeholder="12-digit account id"'), 'the account that accepts')}
        <fieldset class="plain spaced"><legend><strong>Routing policy</strong></legend>
          <label class="choice"><input type="radio" name="routing" value="automatic"${w.routing === 'automatic' ? ' checked' : ''}>Automatic: announce the attach point's prefixes and accept the other side's</label>
          <label class="choice"><input type="radio" name="routing" value="manual"${w.routing === 'manual' ? ' checked' : ''}>Manual: lists of prefixes to announce and to accept</label>
        </fieldset>
        <div id="manual"${w.routing === 'manual' ? '' : ' hidden'}>
          ${field('w-announce', 'Prefixes to announce', `<textarea id="w-announce" aria-describedby="w-announce-error">${esc(w.announce)}</textarea>`, 'one per line, within the attach point')}
          ${field('w-accept', 'Prefixes to accept', `<textarea id="w-accept">${esc(w.accept)}</textarea>`, 'one per line')}
        </div>
        <p><strong>Encryption</strong>: MACsec GCM-AES-XPN-256 on every link, keys agreed by MKA (always on).</p>
      </div>`;
    } else if (w.step === 2) {
      const e = env();
      body = `<div class="panel">
        <p><strong>Provider</strong>: ${esc(e ? providerName(e.provider) : '-')} · ${esc(e ? e.location : '')}</p>
        ${field('w-remote', "Provider's account", text('w-remote', w.remoteAccount, 'inputmode="numeric" placeholder="12-digit account id"'), 'it accepts with the activation key')}
        ${field('w-circuit', 'Circuit id or service address', text('w-circuit', w.circuitId, 'maxlength="100"'))}
        <fieldset class="plain spaced"><legend><strong>Redundancy</strong></legend>
          <label class="choice"><input type="radio" name="redundancy" value="2"${w.redundancy === '2' ? ' checked' : ''}>Two edges in two facilities</label>
          <label class="choice"><input type="radio" name="redundancy" value="1"${w.redundancy === '1' ? ' checked' : ''}>One edge</label>
        </fieldset>
        ${field('w-onprem', 'On-premises prefixes', `<textarea id="w-onprem" aria-describedby="w-onprem-error">${esc(w.onPremisesPrefixes)}</textarea>`, 'what your router may announce, one per line')}
        ${field('w-asn', "Your router's ASN", text('w-asn', w.customerAsn, 'inputmode="numeric"'))}
        ${field('w-maxp', 'Most prefixes', text('w-maxp', w.maxPrefixes, 'inputmode="numeric" placeholder="100"'), 'optional')}
        ${field('w-layer', 'Layer', sel('w-layer', [['3', 'Layer 3: the edge routes (BGP with the edge)'], ['2', "Layer 2: the edge bridges (BGP with your gateway)"]], w.layer))}
        <p><strong>Encryption</strong>: MACsec GCM-AES-XPN-256 between the edges and your gateways (always on).</p>
      </div>`;
    } else {
      const e = env();
      const price = e && e.hourlyPrice && e.hourlyPrice[w.bandwidth];
      const ap = attachPoints.find((a) => a.id === w.attachPoint);
      body = `<div class="panel"><dl class="facts" id="review">
        <dt>Capability</dt><dd>${w.capability === 'multicloud' ? 'Multicloud' : 'Last mile'}</dd>
        <dt>Description</dt><dd>${esc(w.description || '(generated)')}</dd>
        <dt>Environment</dt><dd>${esc(e ? `${providerName(e.provider)} · ${e.location} (${e.id})` : '-')}</dd>
        <dt>Bandwidth</dt><dd>${esc(w.bandwidth)}</dd>
        <dt>Attach point</dt><dd>${esc(ap ? `${ap.name} (${ap.prefixes.join(', ')})` : w.attachPoint)}</dd>
        <dt>${w.capability === 'lastmile' ? "Provider's account" : 'Remote account'}</dt><dd>${esc(w.remoteAccount)}</dd>
        ${w.capability === 'multicloud' ? `<dt>Routing</dt><dd>${w.routing === 'automatic' ? 'automatic' : `manual: announce ${esc(lines(w.announce).join(', ') || 'nothing')}; accept ${esc(lines(w.accept).join(', ') || 'nothing')}`}</dd>`
    : `<dt>Site</dt><dd>circuit ${esc(w.circuitId)} · AS ${esc(w.customerAsn)} · ${esc(lines(w.onPremisesPrefixes).join(', '))} · ${w.redundancy} edge(s) · layer ${esc(w.layer)}</dd>`}
        <dt>Encryption</dt><dd>MACsec GCM-AES-XPN-256</dd>
        <dt>Estimated price</dt><dd id="price">${price != null ? `${esc(price.toFixed(2))} ${esc(e.currency)} per hour` : 'not on the price list'}</dd>
      </dl>
      <div id="compare-box"><label for="w-gb">GB sent a month</label>
        <input type="text" id="w-gb" inputmode="decimal" value="${esc(w.gbPerMonth)}" aria-describedby="compare">
        <p id="compare" aria-live="polite"></p></div></div>`;
    }
    const last = w.step === 3;
    return `${head}<form id="wizard" novalidate>${body}
      <p class="error" id="w-error" role="alert"></p>
      <div class="actions">
        ${w.step > 0 ? '<button type="button" id="w-back">Back</button>' : ''}
        <button type="submit" class="primary" id="w-next">${last ? 'Create' : 'Next'}</button>
        <a href="#/connections" class="muted cancel">Cancel</a>
      </div></form>`;
  };

  // The review step's comparison: this connection a month against a VPN and public transfer.
  const compare = debounce(async () => {
    const out = document.getElementById('compare');
    if (!out) return;
    const gb = Number(w.gbPerMonth);
    if (!(gb >= 0)) { out.textContent = 'Give the GB a month as a number.'; return; }
    try {
      const c = await api('GET', `/v1/cost/compare?${new URLSearchParams({ environmentId: w.environmentId, bandwidth: w.bandwidth, gbPerMonth: String(gb) })}`);
      const m = (v) => money(c.currency, v);
      const parts = [`A month (${c.hours} hours) with ${gb} GB: ${m(c.interconnect.total)} here`];
      if (c.vpn) parts.push(`${m(c.vpn.total)} over ${c.vpn.name}`);
      if (c.public) parts.push(`${m(c.public.total)} over ${c.public.name}`);
      const even = c.breakEvenGbVsVpn != null ? ` Cheaper than the VPN above ${c.breakEvenGbVsVpn} GB a month.` : '';
      out.textContent = `${parts.join('; ')}.${even}`;
    } catch (e) {
      out.textContent = `No comparison: ${e.message}`;
    }
  }, 250);

  const bind = () => {
    const gbField = document.getElementById('w-gb');
    if (gbField) {
      gbField.addEventListener('input', () => { w.gbPerMonth = gbField.value; compare(); });
      compare();
    }
    const on = (id, key, ev = 'input') => {
      const el = document.getElementById(id);
      if (el) el.addEventListener(ev, () => { w[key] = el.value; if (key === 'environmentId') { w.bandwidth = ''; draw(); } check(); });
    };
    for (const r of main.querySelectorAll('input[name=cap]')) r.addEventListener('change', () => { w.capability = r.value; w.environmentId = ''; w.bandwidth = ''; draw(); });
    for (const r of main.querySelectorAll('input[name=routing]')) r.addEventListener('change', () => { w.routing = r.value; document.getElementById('manual').hidden = r.value !== 'manual'; check(); });
    for (const r of main.querySelectorAll('input[name=redundancy]')) r.addEventListener('change', () => { w.redundancy = r.value; check(); });
    on('w-desc', 'description'); on('w-env', 'environmentId', 'change'); on('w-bw', 'bandwidth', 'change'); on('w-ap', 'attachPoint', 'change');
    on('w-remote', 'remoteAccount'); on('w-announce', 'announce'); on('w-accept', 'accept');
    on('w-circuit', 'circuitId'); on('w-onprem', 'onPremisesPrefixes'); on('w-asn', 'customerAsn'); on('w-maxp', 'maxPrefixes'); on('w-layer', 'layer', 'change');
    const back = document.getElementById('w-back');
    if (back) back.addEventListener('click', () => { w.step -= 1; w.error = null; draw(); });
    const copy = document.getElementById('copy-key');
    if (copy) copy.addEventListener('click', () => copyKey(w.created.activationKey));
    const form = document.getElementById('wizard');
    if (form) {
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (w.step < 3) {
          if (!(await validate())) { showErrors(); return; }
          w.step += 1;
          draw();
          return;
        }
        try {
          w.created = await api('POST', '/v1/connections', request(3));
          draw();
        } catch (e) {
          w.error = { field: e.field, message: e.message };
          showErrors();
        }
      });
    }
  };

  // Redraws the step. A redraw within a step (a new environment, another capability) keeps the
  // focus where it was, so that a keyboard user is not sent back to the first field; a new step
  // starts at its first field.
  let drawnStep = null;
  const draw = () => {
    const a = document.activeElement;
    const sameStep = drawnStep === w.step && a && main.contains(a);
    const where = sameStep ? (a.id ? `#${a.id}` : a.name ? `[name="${a.name}"][value="${a.value}"]` : null) : null;
    show(stepBody());
    drawnStep = w.step;
    bind();
    showErrors();
    const again = where && main.querySelector(where);
    const first = again || main.querySelector('input, select, textarea, button');
    if (first && !w.created) first.focus();
  };
  draw();
}

// ---------------------------------------------------------------------------------------------
// Accept

async function acceptPage() {
  if (!canWrite()) {
    show('<h1>Accept a connection</h1><p class="error" role="alert">Your access key is read-only: it cannot accept connections.</p>');
    return;
  }
  setTitle('Accept a connection');
  const aps = await api('GET', '/v1/attach-points');
  const attachPoints = aps.attachPoints || aps.attach_points || [];
  show(`<h1>Accept a connection</h1>
    <form id="accept" class="panel" novalidate>
      <label for="a-key">Activation key <span class="hint">as the other side gave it to you</span></label>
      <textarea id="a-key" aria-describedby="a-key-error" spellcheck="false"></textarea>
      <p class="error" id="a-key-error" role="alert"></p>
      <div id="proposal" aria-live="polite"></div>
      <div id="a-ap-wrap" hidden>
        <label for="a-ap">Your attach point</label>
        <select id="a-ap"><option value="">Choose your attach point</option>${attachPoints.map((a) => `<option value="${esc(a.id)}" data-asn="${esc(a.asn)}">${esc(a.name)} (${esc(a.prefixes.join(', '))}; ASN ${esc(a.asn)})</option>`).join('')}</select>
        <p class="error" id="a-ap-error" role="alert"></p>
      </div>
      <p class="error" id="a-error" role="alert"></p>
      <div class="actions"><button type="submit" class="primary" id="a-submit" disabled>Accept</button></div>
    </form>`);
  let described = null;
  const keyEl = document.getElementById('a-key');
  const describe = debounce(async () => {
    const key = keyEl.value.trim();
    const err = document.getElementById('a-key-error');
    const out = document.getElementById('proposal');
    described = null;
    document.getElementById('a-submit').disabled = true;
    err.textContent = '';
    out.innerHTML = '';
    keyEl.removeAttribute('aria-invalid');
    if (!key) return;
    try {
      const p = await api('POST', '/v1/proposals/describe', { activationKey: key });
      described = p;
      const lastMile = p.productType === 'lastmile' && p.kind === 'connection';
      out.innerHTML = `<dl class="facts panel" id="proposal-facts">
        <dt>Provider</dt><dd>${esc(p.provider)}</dd><dt>Location</dt><dd>${esc(p.location)} (${esc(p.environmentId)})</dd>
        <dt>Bandwidth</dt><dd>${esc(p.bandwidth)}</dd>
        <dt>Proposed by</dt><dd>${esc(p.proposedByName)} (${esc(p.proposedBy)})</dd>
        <dt>Their ASN</dt><dd id="their-asn">${esc(p.proposedByAsn)}</dd>
        <dt>Expires</dt><dd>${when(p.expiresAt)}</dd>
        ${lastMile ? '<dt>As the provider</dt><dd>a last-mile connection: your edges carry it; no attach point</dd>' : ''}</dl>`;
      document.getElementById('a-ap-wrap').hidden = lastMile;
      checkAsn();
    } catch (e) {
      keyEl.setAttribute('aria-invalid', 'true');
      err.textContent = e.message;
    }
  }, 250);
  // Both sides with one ASN would drop each other's routes: say so before accepting.
  const checkAsn = () => {
    const sel = document.getElementById('a-ap');
    const err = document.getElementById('a-ap-error');
    const opt = sel.selectedOptions[0];
    const clash = described && !document.getElementById('a-ap-wrap').hidden && opt && opt.value
      && opt.dataset.asn === String(described.proposedByAsn);
    err.textContent = clash
      ? `This attach point has ASN ${opt.dataset.asn}, the same as the other side's: each would refuse the other's routes. Choose or create an attach point with another ASN.`
      : '';
    sel.toggleAttribute('aria-invalid', Boolean(clash));
    document.getElementById('a-submit').disabled = !described || Boolean(clash);
  };
  document.getElementById('a-ap').addEventListener('change', checkAsn);
  keyEl.addEventListener('input', describe);
  document.getElementById('accept').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = document.getElementById('a-error');
    err.textContent = '';
    if (!described) return;
    try {
      const c = await api('POST', '/v1/connections/accept', {
        activationKey: keyEl.value.trim(),
        attachPoint: document.getElementById('a-ap-wrap').hidden ? '' : document.getElementById('a-ap').value,
      });
      toast(`${c.id} accepted`);
      location.hash = `#/connections/${c.id}`;
    } catch (e) {
      err.textContent = e.message;
    }
  });
  keyEl.focus();
}

// ---------------------------------------------------------------------------------------------
// Catalog, attach points, gateways, accounts

async function environmentsPage() {
  setTitle('Environments');
  const envs = (await api('GET', '/v1/environments')).environments;
  show(`<h1>Environments</h1><div class="table-wrap"><table><thead><tr><th>Environment</th><th>Type</th><th>Provider</th><th>Location</th><th>State</th><th>Facilities</th><th>Available bandwidths</th></tr></thead><tbody>
    ${envs.map((e) => `<tr><td><code>${esc(e.id)}</code></td><td>${esc(e.productType)}</td><td>${esc(providerName(e.provider))}</td><td>${esc(e.location)}</td>
      <td>${badge(e.state)}${e.stateMessage ? `<br><span class="hint">${esc(e.stateMessage)}</span>` : ''}</td><td>${esc(e.facilities.join(', '))}</td><td>${esc(e.availableBandwidths.join(', '))}</td></tr>`).join('')}
    </tbody></table></div>`);
}

async function attachPointsPage() {
  setTitle('Attach points');
  const aps = await api('GET', '/v1/attach-points');
  const list = aps.attachPoints || aps.attach_points || [];
  show(`<h1>Attach points</h1>
    <div class="table-wrap"><table><thead><tr><th>Name</th><th>Id</th><th>ASN</th><th>Prefixes</th>${canWrite() ? '<th></th>' : ''}</tr></thead><tbody>
    ${list.map((a) => `<tr><td>${esc(a.name)}</td><td><code>${esc(a.id)}</code></td><td>${esc(a.asn)}</td>
      <td>${canWrite() ? `<label class="hint" for="p-${esc(a.id)}">Prefixes of ${esc(a.name)}</label><input type="text" id="p-${esc(a.id)}" value="${esc(a.prefixes.join(', '))}"><p class="error" id="e-${esc(a.id)}" role="alert"></p>` : esc(a.prefixes.join(', '))}</td>
      ${canWrite() ? `<td><button type="button" data-save="${esc(a.id)}">Save prefixes</button></td>` : ''}</tr>`).join('') || '<tr><td colspan="5" class="muted">None yet.</td></tr>'}
    </tbody></table></div>
    ${canWrite() ? `<h2>New attach point</h2><form id="new-ap" class="panel" novalidate>
      <label for="ap-name">Name</label><input type="text" id="ap-name">
      <label for="ap-prefixes">Prefixes <span class="hint">comma-separated, IPv4 and IPv6</span></label><input type="text" id="ap-prefixes" placeholder="10.0.0.0/16">
      <label for="ap-asn">ASN <span class="hint">optional; by default a private 4-byte ASN of its own</span></label><input type="text" id="ap-asn" inputmode="numeric">
      <p class="error" id="ap-error" role="alert"></p>
      <div class="actions"><button class="primary" type="submit">Create the attach point</button></div></form>` : ''}`);
  for (const b of main.querySelectorAll('[data-save]')) {
    b.addEventListener('click', async () => {
      const id = b.dataset.save;
      const err = document.getElementById(`e-${id}`);
      err.textContent = '';
      try {
        await api('PATCH', `/v1/attach-points/${encodeURIComponent(id)}`, { prefixes: lines(document.getElementById(`p-${id}`).value) });
        toast('Prefixes saved');
      } catch (e) {
        err.textContent = e.message;
      }
    });
  }
  const form = document.getElementById('new-ap');
  if (form) {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const err = document.getElementById('ap-error');
      err.textContent = '';
      const asn = document.getElementById('ap-asn').value.trim();
      try {
        await api('POST', '/v1/attach-points', {
          name: document.getElementById('ap-name').value.trim(),
          prefixes: lines(document.getElementById('ap-prefixes').value),
          asn: asn ? Number(asn) : null,
        });
        toast('Attach point created');
        render();
      } catch (e) {
        err.textContent = e.message;
      }
    });
  }
}

async function gatewaysPage() {
  setTitle('Gateways');
  const gws = (await api('GET', '/v1/gateways')).gateways || [];
  show(`<h1>Gateways</h1>${gws.length === 0 ? '<p class="muted">No gateway registered. Create a token with <code>xconnect gateway token create</code>, then run <code>xconnect gateway run</code>.</p>'
    : `<div class="table-wrap"><table><thead><tr><th>Name</th><th>Id</th><th>Attach point / facility</th><th>Underlay</th><th>Version</th><th>Last contact</th><th>Links</th></tr></thead><tbody>
    ${gws.map((g) => `<tr><td>${esc(g.name)}</td><td><code>${esc(g.id)}</code></td><td>${esc(g.attachPoint || '-')} ${esc(g.facility || '')}</td><td>${esc(g.underlayAddress)}</td>
      <td>${esc(g.version || '-')}</td><td>${g.lastContactAgeSecs != null ? `${esc(g.lastContactAgeSecs)} s ago` : esc(g.lastContact || '-')}</td><td>${esc(g.status && g.status.links ? g.status.links.length : '-')}</td></tr>`).join('')}
    </tbody></table></div>`}`);
}

async function accountsPage() {
  setTitle('Accounts');
  if (!session.operator) {
    show('<h1>Accounts</h1><p class="error" role="alert">Only the operator manages accounts.</p>');
    return;
  }
  const accounts = (await api('GET', '/v1/accounts')).accounts || [];
  show(`<h1>Accounts</h1><div class="table-wrap"><table><thead><tr><th>Name</th><th>Account</th><th>Kind</th><th>Created</th><th></th></tr></thead><tbody>
    ${accounts.map((a) => `<tr><td>${esc(a.name)}</td><td><code>${esc(a.accountId)}</code></td><td>${esc(a.kind)}</td><td>${when(a.createdAt)}</td>
      <td><a href="#/keys/${esc(a.accountId)}">Access keys</a></td></tr>`).join('')}</tbody></table></div>
    ${canWrite() ? `<h2>New account</h2><form id="new-account" class="panel" novalidate>
      <label for="acct-name">Name</label><input type="text" id="acct-name">
      <p class="error" id="acct-error" role="alert"></p>
      <div class="actions"><button class="primary" type="submit">Create the account</button></div>
      <div id="acct-created" aria-live="polite"></div></form>` : ''}`);
  const form = document.getElementById('new-account');
  if (form) {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const err = document.getElementById('acct-error');
      err.textContent = '';
      try {
        const c = await api('POST', '/v1/accounts', { name: document.getElementById('acct-name').value.trim() });
        document.getElementById('acct-created').innerHTML = `<p>Account <code>${esc(c.accountId)}</code> created. Its first access key, shown once:</p>
          <dl class="facts"><dt>Access key ID</dt><dd class="mono">${esc(c.accessKeyId)}</dd><dt>Secret</dt><dd class="mono">${esc(c.secretAccessKey)}</dd></dl>`;
      } catch (e) {
        err.textContent = e.message;
      }
    });
  }
}

async function keysPage(account, created = null) {
  const acct = account || session.accountId;
  const mine = acct === session.accountId;
  setTitle('Access keys');
  const q = mine ? '' : `?accountId=${encodeURIComponent(acct)}`;
  const keys = (await api('GET', `/v1/access-keys${q}`)).accessKeys || [];
  show(`<h1>Access keys${mine ? '' : ` of ${esc(acct)}`}</h1>
    <div class="table-wrap"><table><thead><tr><th>Access key ID</th><th>Role</th><th>Status</th><th>Created</th>${canWrite() ? '<th></th>' : ''}</tr></thead><tbody>
    ${keys.map((k) => `<tr><td><code>${esc(k.accessKeyId)}</code>${k.accessKeyId === session.accessKeyId ? ' <span class="hint">(this session)</span>' : ''}</td>
      <td>${esc(k.role)}</td><td><span class="badge ${k.status === 'active' ? 'available' : 'deleted'}">${esc(k.status)}</span></td><td>${when(k.createdAt)}</td>
      ${canWrite() ? `<td>${k.accessKeyId === session.accessKeyId ? '' : `<button type="button" data-key="${esc(k.accessKeyId)}" data-status="${k.status === 'active' ? 'inactive' : 'active'}">${k.status === 'active' ? 'Disable' : 'Enable'}</button>
        <button type="button" class="danger" data-delete="${esc(k.accessKeyId)}">Delete</button>`}</td>` : ''}</tr>`).join('')}
    </tbody></table></div>
    <p class="error" id="keys-error" role="alert"></p>
    ${canWrite() ? `<h2>New access key</h2><form id="new-key" class="panel" novalidate>
      <label for="key-role">Role</label>
      <select id="key-role"><option value="admin">admin: may change things</option><option value="read-only">read-only: may only look</option></select>
      <div class="actions"><button class="primary" type="submit">Create the key</button></div>
      <div id="key-created" aria-live="polite">${created ? `<p>Created. The secret is shown this once:</p>
          <dl class="facts"><dt>Access key ID</dt><dd class="mono" id="new-key-id">${esc(created.accessKeyId)}</dd><dt>Secret</dt><dd class="mono" id="new-key-secret">${esc(created.secretAccessKey)}</dd></dl>` : ''}</div></form>` : ''}`);
  const err = document.getElementById('keys-error');
  for (const b of main.querySelectorAll('[data-key]')) {
    b.addEventListener('click', async () => {
      try {
        await api('PATCH', `/v1/access-keys/${encodeURIComponent(b.dataset.key)}`, { status: b.dataset.status });
        render();
      } catch (e) { err.textContent = e.message; }
    });
  }
  for (const b of main.querySelectorAll('[data-delete]')) {
    b.addEventListener('click', async () => {
      if (!window.confirm(`Delete access key ${b.dataset.delete}? Whatever uses it stops working.`)) return;
      try {
        await api('DELETE', `/v1/access-keys/${encodeURIComponent(b.dataset.delete)}`);
        render();
      } catch (e) { err.textContent = e.message; }
    });
  }
  const form = document.getElementById('new-key');
  if (form) {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const c = await api('POST', `/v1/access-keys${q}`, { role: document.getElementById('key-role').value });
        await keysPage(account, c);
      } catch (e) { err.textContent = e.message; }
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Charts: the metrics query (`GET /v1/connections/{id}/metrics`) drawn with uPlot

// Each range's span and period (at most 1,440 points; older ranges read the rollups).
const RANGES = [['1h', 3600, 60], ['24h', 86400, 300], ['7d', 7 * 86400, 1800], ['30d', 30 * 86400, 3600]];
let chartRange = '24h';
const COLORS = ['#1f5fbf', '#c4320a', '#1c7c3c', '#7a2e9a', '#9a6700', '#0e7090'];

const METRICS = ['ConnectionState', 'ConnectionBpsEgress', 'ConnectionBpsIngress', 'ConnectionPpsEgress',
  'ConnectionPpsIngress', 'ConnectionErrorCount', 'ConnectionEncryptionState', 'BgpStatus', 'BgpPrefixesAccepted',
  'BgpPrefixesAdvertised', 'ConnectionRttMilliseconds', 'ConnectionPacketLossPercent', 'ConnectionJitterMilliseconds',
  'ConnectionBandwidthUtilizationPercent', 'ConnectionDroppedPackets'];

// A value in its unit, short: bits per second with SI prefixes, milliseconds, percent.
function fmtUnit(v, unit) {
  if (v == null || Number.isNaN(v)) return '-';
  if (unit === 'Bits/Second') {
    const [d, p] = v >= 1e9 ? [1e9, 'G'] : v >= 1e6 ? [1e6, 'M'] : v >= 1e3 ? [1e3, 'k'] : [1, ''];
    return `${(v / d).toFixed(v / d >= 100 ? 0 : 1)} ${p}bit/s`;
  }
  if (unit === 'Milliseconds') return `${v.toFixed(v >= 10 ? 1 : 2)} ms`;
  if (unit === 'Percent') return `${v.toFixed(v >= 10 ? 1 : 2)} %`;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

// A connection's bandwidth (`1Gbps`, `500Mbps`) in bits per second.
function bandwidthBps(text) {
  const m = /^(\d+(?:\.\d+)?)\s*([MG])bps$/i.exec(String(text || ''));
  return m ? Number(m[1]) * (m[2].toUpperCase() === 'G' ? 1e9 : 1e6) : null;
}

// One metric's points as [unix seconds, value].
async function metricPoints(id, params) {
  const r = await api('GET', `/v1/connections/${encodeURIComponent(id)}/metrics?${new URLSearchParams(params)}`);
  return ((r.metrics || [])[0] || { points: [] }).points.map((p) => [Date.parse(p.timestamp) / 1000, p.value]);
}

// Several series on one time axis, as uPlot takes them: [[t...], [v or null...], ...], every
// period from `start` to `end` on it (a period without data is a gap). A constant line (`flat`:
// the tier, a threshold) spans the same times.
function align(list, start, end, period, flat) {
  const grid = [];
  for (let t = start; t < end; t += period) grid.push(t);
  const xs = [...new Set([...grid, ...list.flatMap((s) => s.map((p) => p[0]))])].sort((a, b) => a - b);
  const data = [xs, ...list.map((s) => { const m = new Map(s); return xs.map((t) => (m.has(t) ? m.get(t) : null)); })];
  if (flat != null) data.push(xs.map(() => flat));
  return data;
}

// A chart in `el`: `labels` name the series of `data` after its times; `flat` names the last one
// when it is a constant line. The legend under it reads out the values under the pointer.
function drawChart(el, title, unit, labels, data, flat = null) {
  const series = labels.map((label, i) => ({
    label, stroke: COLORS[i % COLORS.length], width: 1.5, value: (u, v) => fmtUnit(v, unit),
  }));
  if (flat) series.push({ label: flat, stroke: '#98a2b3', width: 1, dash: [6, 4], points: { show: false }, value: (u, v) => fmtUnit(v, unit) });
  const xs = data[0];
  const opts = {
    title,
    width: Math.max(280, el.clientWidth || 600),
    height: 200,
    series: [{ value: (u, v) => (v == null ? '-' : new Date(v * 1000).toLocaleString()) }, ...series],
    scales: {
      x: { time: true, range: () => [xs[0], xs[xs.length - 1]] },
      y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    axes: [{}, { size: 80, values: (u, vals) => vals.map((v) => fmtUnit(v, unit)) }],
  };
  el.textContent = '';
  const u = new uPlot(opts, data, el);
  charts.push(u);
  el.dataset.points = String(data.slice(1, 1 + labels.length).reduce((n, s) => n + s.filter((v) => v != null).length, 0));
  // The time axis's ends and the latest time the first series has a value, in unix seconds, for
  // whoever wants to point at it (the browser test does).
  const latest = xs.filter((t, i) => data[1][i] != null).pop();
  Object.assign(el.dataset, { from: String(xs[0]), to: String(xs[xs.length - 1]), latest: String(latest ?? '') });
  return u;
}

function chartsSection() {
  return `<section id="charts" aria-labelledby="charts-h"><h2 id="charts-h">Metrics</h2>
    <div class="ranges" role="group" aria-label="Time range">${RANGES.map(([r]) => `<button type="button" data-range="${r}" aria-pressed="${r === chartRange}">${r}</button>`).join('')}</div>
    <p class="hint" id="charts-note">Your side's measurements: egress is what your side sends. Hover a chart for its values.</p>
    <div class="charts">
      <figure class="chart" id="chart-bw" aria-label="Bandwidth each way"></figure>
      <figure class="chart" id="chart-rtt" aria-label="Round-trip time per link"></figure>
      <figure class="chart" id="chart-loss" aria-label="Packet loss per link"></figure>
      <figure class="chart" id="chart-jitter" aria-label="Jitter per link"></figure>
    </div></section>`;
}

function startCharts(c, links) {
  const section = document.getElementById('charts');
  if (!section) return;
  const draw = () => drawCharts(c, links).catch((e) => {
    const note = document.getElementById('charts-note');
    if (note) note.textContent = `The metrics could not be read: ${e.message}`;
  });
  for (const b of section.querySelectorAll('[data-range]')) {
    b.addEventListener('click', () => {
      chartRange = b.dataset.range;
      for (const o of section.querySelectorAll('[data-range]')) o.setAttribute('aria-pressed', String(o === b));
      draw();
    });
  }
  draw();
  chartTimer = setInterval(draw, 60000);
}

async function drawCharts(c, links) {
  const [, span, period] = RANGES.find(([r]) => r === chartRange);
  const end = Math.ceil(Date.now() / 1000 / period) * period;
  const start = end - span;
  const base = { start: new Date(start * 1000).toISOString(), end: new Date(end * 1000).toISOString(), period, stat: 'Average' };
  const perLink = (metric) => Promise.all(links.map((l) => metricPoints(c.id, { ...base, metric, link: l.id })));
  const [egress, ingress, rtt, loss, jitter] = await Promise.all([
    metricPoints(c.id, { ...base, metric: 'ConnectionBpsEgress' }),
    metricPoints(c.id, { ...base, metric: 'ConnectionBpsIngress' }),
    perLink('ConnectionRttMilliseconds'),
    perLink('ConnectionPacketLossPercent'),
    perLink('ConnectionJitterMilliseconds'),
  ]);
  if (!document.getElementById('charts')) return;
  for (const u of charts) u.destroy();
  charts = [];
  const tier = bandwidthBps(c.bandwidth);
  const on = (list, flat) => align(list, start, end, period, flat);
  drawChart(document.getElementById('chart-bw'), 'Bandwidth', 'Bits/Second', ['Egress', 'Ingress'],
    on([egress, ingress], tier), tier ? `Bandwidth (${c.bandwidth})` : null);
  // Links are named by their facilities' pair (`l1`, `l2`), so two can share a name: add the id.
  const names = links.map((l) => `${l.name} #${l.id}`);
  drawChart(document.getElementById('chart-rtt'), 'Round-trip time', 'Milliseconds', names, on(rtt));
  drawChart(document.getElementById('chart-loss'), 'Packet loss', 'Percent', names, on(loss));
  drawChart(document.getElementById('chart-jitter'), 'Jitter', 'Milliseconds', names, on(jitter));
}

window.addEventListener('resize', debounce(() => {
  for (const u of charts) {
    const el = u.root.parentElement;
    if (el) u.setSize({ width: Math.max(280, el.clientWidth), height: 200 });
  }
}, 200));

// ---------------------------------------------------------------------------------------------
// Alarms

const COMPARISONS = [['GreaterThanThreshold', '>'], ['GreaterThanOrEqualToThreshold', '≥'], ['LessThanThreshold', '<'], ['LessThanOrEqualToThreshold', '≤']];
const symbolOf = (c) => (COMPARISONS.find(([k]) => k === c) || [c, c])[1];
const condition = (a) => `${a.stat} ${symbolOf(a.comparison)} ${a.threshold} per ${a.period} s, ${a.datapointsToAlarm} of ${a.evaluationPeriods}`;

// ---------------------------------------------------------------------------------------------
// Filters: security groups, network ACLs, prefix lists, and "would this pass?"

/** `22` or `1000-2000` into a rule's fromPort and toPort; empty: every port. */
function portsOf(text) {
  const t = text.trim();
  if (!t) return {};
  const [a, b] = t.split('-').map((x) => x.trim());
  const num = (x) => (/^\d+$/.test(x) ? Number(x) : x);
  return { fromPort: num(a), toPort: num(b ?? a) };
}

/** A prefix into the member of its family. */
function peerOf(text) {
  const t = text.trim();
  return t.includes(':') ? { cidrIpv6: t } : { cidrIp: t };
}

function ruleText(r) {
  const ports = r.fromPort != null ? (r.fromPort === r.toPort ? `${r.fromPort}` : `${r.fromPort}-${r.toPort}`)
    : r.icmpType != null ? `type ${r.icmpType}${r.icmpCode != null ? ` code ${r.icmpCode}` : ''}` : 'all';
  return { ports, peer: r.cidrIp || r.cidrIpv6 || r.prefixListId || '' };
}

// Whether the filters page tries its changes (`?dryRun=true`) instead of making them; kept across
// the page's renders.
let filterPreview = false;

// `url` with `dryRun=true` when the filters page previews its changes.
function dryUrl(url) {
  return filterPreview ? `${url}${url.includes('?') ? '&' : '?'}dryRun=true` : url;
}

// What a tried filter change would cut, gateway by gateway.
function dryRunHtml(d) {
  const gateways = d.gateways || [];
  return `<section class="panel" id="dry-run-result"><h2>Dry run</h2>
    <p>Nothing was changed. ${gateways.length ? 'The tracked flows this change would cut:' : 'No gateway enforces it yet: no flow would be cut.'}</p>
    ${gateways.map((g) => `<h3>${esc(g.gatewayName)} <code>${esc(g.gatewayId)}</code></h3>
      ${!g.answered ? '<p class="muted">Did not answer in time: its flows are unknown.</p>'
    : `<p class="gateway-cuts">${esc(g.total)} flow(s)</p>${g.flows.length ? `<div class="table-wrap"><table class="cut-flows"><thead><tr><th>Direction</th><th>Protocol</th><th>Source</th><th>Destination</th><th>Idle</th></tr></thead><tbody>
      ${g.flows.map((f) => `<tr><td>${esc(f.direction)}</td><td>${esc(f.protocol)}</td><td>${esc(f.srcaddr)}:${esc(f.srcport)}</td><td>${esc(f.dstaddr)}:${esc(f.dstport)}</td><td>${esc(f.idleSecs)} s</td></tr>`).join('')}
      </tbody></table></div>` : ''}`}`).join('')}</section>`;
}

async function filtersPage() {
  setTitle('Filters');
  const [groups, acls, lists, aps] = await Promise.all([
    api('GET', '/v1/security-groups'),
    api('GET', '/v1/network-acls'),
    api('GET', '/v1/prefix-lists'),
    api('GET', '/v1/attach-points'),
  ]);
  const apList = aps.attachPoints || [];
  const apName = (id) => (apList.find((a) => a.id === id) || {}).name || id;
  const apOptions = apList.map((a) => `<option value="${esc(a.id)}">${esc(a.name)} (${esc(a.prefixes.join(', '))})</option>`).join('');
  const protocols = ['tcp', 'udp', 'icmp', 'icmpv6', 'all'].map((p) => `<option>${p}</option>`).join('');
  const w = canWrite();
  const groupHtml = (g) => `<section class="panel" data-group="${esc(g.securityGroupId)}">
    <h3>${esc(g.name)} <code>${esc(g.securityGroupId)}</code></h3>
    <p class="hint">Attached to ${g.attachPointIds.length ? g.attachPointIds.map((a) => esc(apName(a))).join(', ') : 'no attach point'}</p>
    <div class="table-wrap"><table class="rules"><thead><tr><th>Direction</th><th>Protocol</th><th>Ports</th><th>Peer</th><th>Rule</th>${w ? '<th></th>' : ''}</tr></thead><tbody>
    ${g.rules.map((r) => { const t = ruleText(r); return `<tr><td>${esc(r.direction)}</td><td>${esc(r.ipProtocol)}</td><td>${esc(t.ports)}</td><td><code>${esc(t.peer)}</code></td><td><code>${esc(r.ruleId)}</code></td>
      ${w ? `<td><button type="button" data-revoke="${esc(r.ruleId)}" data-of="${esc(g.securityGroupId)}">Revoke</button></td>` : ''}</tr>`; }).join('')}
    </tbody></table></div>
    ${w ? `<form class="allow row" data-allow="${esc(g.securityGroupId)}" novalidate>
      <div><label for="d-${esc(g.securityGroupId)}">Direction</label><select id="d-${esc(g.securityGroupId)}"><option>inbound</option><option>outbound</option></select></div>
      <div><label for="p-${esc(g.securityGroupId)}">Protocol</label><select id="p-${esc(g.securityGroupId)}">${protocols}</select></div>
      <div><label for="o-${esc(g.securityGroupId)}">Ports <span class="hint">22 or 1000-2000; empty: all</span></label><input type="text" id="o-${esc(g.securityGroupId)}"></div>
      <div><label for="c-${esc(g.securityGroupId)}">Peer prefix</label><input type="text" id="c-${esc(g.securityGroupId)}" placeholder="10.1.0.0/16"></div>
      <div class="actions"><button type="submit">Allow</button></div>
      <p class="error" id="e-${esc(g.securityGroupId)}" role="alert"></p></form>
    <form class="attachment row" data-attachment="${esc(g.securityGroupId)}" novalidate>
      <div><label for="at-${esc(g.securityGroupId)}">Attach point</label><select id="at-${esc(g.securityGroupId)}">${apOptions}</select></div>
      <div class="actions"><button type="submit" data-attach="${esc(g.securityGroupId)}">Attach</button>
        <button type="button" data-detach="${esc(g.securityGroupId)}">Detach</button>
        <button type="button" class="danger" data-delete-group="${esc(g.securityGroupId)}">Delete the group</button></div>
      <p class="error" id="ge-${esc(g.securityGroupId)}" role="alert"></p></form>` : ''}</section>`;
  const aclRules = (a) => a.rules.map((r) => { const t = ruleText(r); return `<tr><td>${esc(r.direction)}</td><td>${esc(r.ruleNumber)}</td><td>${badge(r.ruleAction)}</td><td>${esc(r.ipProtocol)}</td><td>${esc(t.ports)}</td><td><code>${esc(t.peer)}</code></td>
      ${w ? `<td><button type="button" data-remove="${esc(a.networkAclId)}" data-direction="${esc(r.direction)}" data-number="${esc(r.ruleNumber)}">Remove</button></td>` : ''}</tr>`; }).join('');
  show(`<h1>Filters</h1>
    <p class="hint">What may cross each attach point's edge: security groups (stateful allow rules), a network ACL (numbered allow and deny rules, then an implicit deny) and prefix lists. Only you see and change your attach points' filters; their gateways apply a change within a second.</p>
    ${w ? `<p><label class="inline"><input type="checkbox" id="preview"${filterPreview ? ' checked' : ''}> Preview changes (dry run): nothing is changed; each change shows the tracked flows it would cut</label></p>
    <div id="dry-run" aria-live="polite"></div>` : ''}
    <h2>Would this pass?</h2>
    <form id="check" class="panel" novalidate>
      <label for="ck-ap">Attach point</label><select id="ck-ap">${apOptions}</select>
      <div class="row">
        <div><label for="ck-from">From</label><input type="text" id="ck-from" placeholder="10.1.2.3"></div>
        <div><label for="ck-to">To</label><input type="text" id="ck-to" placeholder="10.0.0.5"></div>
        <div><label for="ck-proto">Protocol</label><select id="ck-proto">${['tcp', 'udp', 'icmp', 'icmpv6'].map((p) => `<option>${p}</option>`).join('')}</select></div>
        <div><label for="ck-port">Port</label><input type="text" id="ck-port" inputmode="numeric" placeholder="443"></div>
      </div>
      <p class="error" id="ck-error" role="alert"></p>
      <div class="actions"><button type="submit" class="primary">Check</button></div>
      <div id="check-result" aria-live="polite"></div>
    </form>
    <h2>Security groups</h2>
    ${(groups.securityGroups || []).map(groupHtml).join('') || '<p class="muted" id="no-groups">No security group: every attach point passes everything.</p>'}
    ${w ? `<form id="new-group" class="panel row" novalidate>
      <div><label for="sg-name">Name</label><input type="text" id="sg-name"></div>
      <div><label for="sg-ap">For attach point</label><select id="sg-ap">${apOptions}</select></div>
      <div class="actions"><button type="submit">Create the security group</button></div>
      <p class="hint">It starts as AWS's do: all outbound allowed, nothing inbound.</p>
      <p class="error" id="sg-error" role="alert"></p></form>` : ''}
    <h2>Network ACLs</h2>
    ${(acls.networkAcls || []).map((a) => `<section class="panel" data-acl="${esc(a.networkAclId)}"><h3>${esc(a.name)} <code>${esc(a.networkAclId)}</code></h3>
      <p class="hint">Of ${esc(apName(a.attachPointId))}</p>
      <div class="table-wrap"><table class="rules"><thead><tr><th>Direction</th><th>Number</th><th>Action</th><th>Protocol</th><th>Ports</th><th>Prefix</th>${w ? '<th></th>' : ''}</tr></thead><tbody>
      ${aclRules(a)}<tr class="muted"><td colspan="2">* every other packet</td><td>${badge('deny')}</td><td colspan="${w ? 4 : 3}"></td></tr></tbody></table></div>
      ${w ? `<form class="acl-rule row" data-acl-form="${esc(a.networkAclId)}" novalidate>
        <div><label for="an-${esc(a.networkAclId)}">Number</label><input type="text" id="an-${esc(a.networkAclId)}" inputmode="numeric"></div>
        <div><label for="ad-${esc(a.networkAclId)}">Direction</label><select id="ad-${esc(a.networkAclId)}"><option>inbound</option><option>outbound</option></select></div>
        <div><label for="aa-${esc(a.networkAclId)}">Action</label><select id="aa-${esc(a.networkAclId)}"><option>allow</option><option>deny</option></select></div>
        <div><label for="ap-${esc(a.networkAclId)}">Protocol</label><select id="ap-${esc(a.networkAclId)}">${protocols}</select></div>
        <div><label for="ao-${esc(a.networkAclId)}">Ports</label><input type="text" id="ao-${esc(a.networkAclId)}"></div>
        <div><label for="ac-${esc(a.networkAclId)}">Prefix</label><input type="text" id="ac-${esc(a.networkAclId)}" placeholder="0.0.0.0/0"></div>
        <div class="actions"><button type="submit">Add the rule</button>
          <button type="button" class="danger" data-delete-acl="${esc(a.networkAclId)}">Delete the ACL</button></div>
        <p class="error" id="ae-${esc(a.networkAclId)}" role="alert"></p></form>` : ''}</section>`).join('') || '<p class="muted">No network ACL: every attach point has the default, which allows everything.</p>'}
    ${w ? `<form id="new-acl" class="panel row" novalidate>
      <div><label for="acl-name">Name</label><input type="text" id="acl-name"></div>
      <div><label for="acl-ap">For attach point</label><select id="acl-ap">${apOptions}</select></div>
      <div class="actions"><button type="submit">Create the network ACL</button></div>
      <p class="hint">One per attach point. It starts empty, and its implicit deny refuses everything until you add rules.</p>
      <p class="error" id="acl-error" role="alert"></p></form>` : ''}
    <h2>Prefix lists</h2>
    <div class="table-wrap"><table id="prefix-lists"><thead><tr><th>Name</th><th>Id</th><th>Prefixes</th>${w ? '<th></th>' : ''}</tr></thead><tbody>
    ${(lists.prefixLists || []).map((l) => `<tr><td>${esc(l.name)}</td><td><code>${esc(l.prefixListId)}</code></td><td>${esc(l.prefixes.join(', '))}</td>
      ${w ? `<td><button type="button" class="danger" data-delete-list="${esc(l.prefixListId)}">Delete</button></td>` : ''}</tr>`).join('') || `<tr><td colspan="${w ? 4 : 3}" class="muted">None yet.</td></tr>`}
    </tbody></table></div>
    ${w && (lists.prefixLists || []).length ? `<form id="update-list" class="panel row" novalidate>
      <div><label for="ul-list">Prefix list</label><select id="ul-list">${lists.prefixLists.map((l) => `<option value="${esc(l.prefixListId)}">${esc(l.name)}</option>`).join('')}</select></div>
      <div><label for="ul-prefixes">New prefixes <span class="hint">comma-separated; they replace the list's</span></label><input type="text" id="ul-prefixes"></div>
      <div class="actions"><button type="submit">Update the prefix list</button></div>
      <p class="error" id="ul-error" role="alert"></p></form>` : ''}
    ${w ? `<form id="new-list" class="panel row" novalidate>
      <div><label for="pl-name">Name</label><input type="text" id="pl-name"></div>
      <div><label for="pl-prefixes">Prefixes <span class="hint">comma-separated</span></label><input type="text" id="pl-prefixes"></div>
      <div class="actions"><button type="submit">Create the prefix list</button></div>
      <p class="error" id="pl-error" role="alert"></p></form>` : ''}`);

  const v = (id) => document.getElementById(id).value;
  const submit = (form, errId, call, done) => form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = document.getElementById(errId);
    err.textContent = '';
    try {
      const r = await call();
      if (done) done(r); else render();
    } catch (e) {
      err.textContent = e.message;
    }
  });
  submit(document.getElementById('check'), 'ck-error', () => {
    const port = v('ck-port').trim();
    return api('POST', `/v1/attach-points/${encodeURIComponent(v('ck-ap'))}/check`, {
      from: v('ck-from').trim(), to: v('ck-to').trim(), protocol: v('ck-proto'),
      port: port ? (/^\d+$/.test(port) ? Number(port) : port) : null,
    });
  }, (r) => {
    document.getElementById('check-result').innerHTML = `<p id="check-verdict">${badge(r.allowed ? 'allow' : 'deny')} ${r.allowed ? 'Every side lets it through.' : 'Refused.'}</p>
      <div class="table-wrap"><table id="check-sides"><thead><tr><th>Attach point</th><th>Connection</th><th>Direction</th><th>Verdict</th><th>Decided by</th></tr></thead><tbody>
      ${r.sides.map((s) => `<tr><td>${esc(apName(s.attachPointId))}</td><td>${esc(s.connectionId || '-')}</td><td>${esc(s.direction)}</td><td>${badge(s.allowed ? 'allow' : 'deny')}</td><td>${esc(s.explanation)}</td></tr>`).join('')}
      </tbody></table></div>`;
  });
  // A change made shows itself (the page again); a change tried shows what it would cut.
  const changed = (what) => (r) => {
    if (r && r.dryRun) {
      document.getElementById('dry-run').innerHTML = dryRunHtml(r.dryRun);
      return;
    }
    toast(what);
    render();
  };
  const onClick = (selector, confirmText, call, what) => {
    for (const b of main.querySelectorAll(selector)) {
      b.addEventListener('click', async () => {
        const question = confirmText(b);
        if (question && !filterPreview && !window.confirm(question)) return;
        try {
          changed(what)(await call(b));
        } catch (e) {
          toast(e.message);
        }
      });
    }
  };
  const preview = document.getElementById('preview');
  if (preview) {
    preview.addEventListener('change', () => {
      filterPreview = preview.checked;
      document.getElementById('dry-run').innerHTML = '';
    });
  }
  for (const f of main.querySelectorAll('form[data-allow]')) {
    const g = f.dataset.allow;
    submit(f, `e-${g}`, () => api('POST', dryUrl(`/v1/security-groups/${encodeURIComponent(g)}/authorize`), {
      rules: [{ direction: v(`d-${g}`), ipProtocol: v(`p-${g}`), ...portsOf(v(`o-${g}`)), ...peerOf(v(`c-${g}`)) }],
    }), changed('Rule added'));
  }
  onClick('[data-revoke]', () => null, (b) => api('POST', dryUrl(`/v1/security-groups/${encodeURIComponent(b.dataset.of)}/revoke`),
    { rules: [{ ruleId: b.dataset.revoke, direction: 'inbound', ipProtocol: 'all' }] }), 'Rule revoked');
  for (const f of main.querySelectorAll('form[data-attachment]')) {
    const g = f.dataset.attachment;
    submit(f, `ge-${g}`, () => api('POST', dryUrl(`/v1/security-groups/${encodeURIComponent(g)}/attach`), { attachPointId: v(`at-${g}`) }),
      changed('Security group attached'));
  }
  onClick('[data-detach]', () => null, (b) => api('POST', dryUrl(`/v1/security-groups/${encodeURIComponent(b.dataset.detach)}/detach`),
    { attachPointId: v(`at-${b.dataset.detach}`) }), 'Security group detached');
  onClick('[data-delete-group]', (b) => `Delete the security group ${b.dataset.deleteGroup}? Its attach points stop enforcing it.`,
    (b) => api('DELETE', dryUrl(`/v1/security-groups/${encodeURIComponent(b.dataset.deleteGroup)}`)), 'Security group deleted');
  for (const f of main.querySelectorAll('form[data-acl-form]')) {
    const a = f.dataset.aclForm;
    submit(f, `ae-${a}`, () => api('POST', dryUrl(`/v1/network-acls/${encodeURIComponent(a)}/rules`), {
      ruleNumber: /^\d+$/.test(v(`an-${a}`).trim()) ? Number(v(`an-${a}`).trim()) : v(`an-${a}`), ruleAction: v(`aa-${a}`),
      direction: v(`ad-${a}`), ipProtocol: v(`ap-${a}`), ...portsOf(v(`ao-${a}`)), ...peerOf(v(`ac-${a}`)),
    }), changed('Rule added'));
  }
  onClick('[data-remove]', () => null, (b) => api('DELETE', dryUrl(`/v1/network-acls/${encodeURIComponent(b.dataset.remove)}/rules?direction=${encodeURIComponent(b.dataset.direction)}&ruleNumber=${encodeURIComponent(b.dataset.number)}`)),
    'Rule removed');
  onClick('[data-delete-acl]', (b) => `Delete the network ACL ${b.dataset.deleteAcl}? Its attach point goes back to the default, which allows everything.`,
    (b) => api('DELETE', dryUrl(`/v1/network-acls/${encodeURIComponent(b.dataset.deleteAcl)}`)), 'Network ACL deleted');
  onClick('[data-delete-list]', (b) => `Delete the prefix list ${b.dataset.deleteList}?`,
    (b) => api('DELETE', `/v1/prefix-lists/${encodeURIComponent(b.dataset.deleteList)}`), 'Prefix list deleted');
  const group = document.getElementById('new-group');
  if (group) {
    submit(group, 'sg-error', () => api('POST', dryUrl('/v1/security-groups'), { name: v('sg-name').trim(), attachPointId: v('sg-ap') }),
      changed('Security group created'));
  }
  const aclForm = document.getElementById('new-acl');
  if (aclForm) {
    submit(aclForm, 'acl-error', () => api('POST', dryUrl('/v1/network-acls'), { name: v('acl-name').trim(), attachPointId: v('acl-ap') }),
      changed('Network ACL created'));
  }
  const update = document.getElementById('update-list');
  if (update) {
    submit(update, 'ul-error', () => api('PATCH', dryUrl(`/v1/prefix-lists/${encodeURIComponent(v('ul-list'))}`), { prefixes: lines(v('ul-prefixes')) }),
      changed('Prefix list updated'));
  }
  const list = document.getElementById('new-list');
  if (list) {
    submit(list, 'pl-error', () => api('POST', '/v1/prefix-lists', { name: v('pl-name').trim(), prefixes: lines(v('pl-prefixes')) }),
      () => { toast('Prefix list created'); render(); });
  }
}

async function alarmsPage() {
  setTitle('Alarms');
  const [alarms, conns] = await Promise.all([
    api('GET', '/v1/alarms'),
    api('GET', '/v1/connections?maxResults=100').catch(() => ({ connections: [] })),
  ]);
  const list = alarms.alarms || [];
  const live = (conns.connections || []).filter((c) => !['deleted', 'failed'].includes(c.state));
  show(`<h1>Alarms</h1>
    ${list.length === 0 ? '<p class="muted" id="no-alarms">No alarms.</p>'
    : `<div class="table-wrap"><table id="alarms"><thead><tr><th>Name</th><th>State</th><th>Connection</th><th>Metric</th><th>Condition</th><th>Reason</th></tr></thead><tbody>
      ${list.map((a) => `<tr><td><a href="#/alarms/${esc(a.id)}">${esc(a.name)}</a></td><td>${badge(a.state)}</td>
        <td><a href="#/connections/${esc(a.connectionId)}">${esc(a.connectionId)}</a></td>
        <td>${esc(a.metric)}${a.linkId ? ` <span class="muted">link ${esc(a.linkId)}</span>` : ''}</td><td>${esc(condition(a))}</td>
        <td class="hint">${esc(a.stateReason)}</td></tr>`).join('')}</tbody></table></div>`}
    ${canWrite() ? `<h2>Create an alarm</h2>
    <form id="new-alarm" class="panel" novalidate>
      <label for="al-name">Name</label><input type="text" id="al-name" maxlength="255" required>
      <label for="al-conn">Connection</label><select id="al-conn">${live.map((c) => `<option value="${esc(c.id)}">${esc(c.id)} ${esc(c.description || '')}</option>`).join('')}</select>
      <div class="row">
        <div><label for="al-metric">Metric</label><select id="al-metric">${METRICS.map((m) => `<option${m === 'ConnectionPacketLossPercent' ? ' selected' : ''}>${m}</option>`).join('')}</select></div>
        <div><label for="al-link">Link</label><select id="al-link"><option value="">The connection as a whole</option></select></div>
      </div>
      <div class="row">
        <div><label for="al-stat">Statistic</label><select id="al-stat">${['Average', 'Minimum', 'Maximum', 'Sum', 'SampleCount', 'p50', 'p90', 'p99'].map((s) => `<option>${s}</option>`).join('')}</select></div>
        <div><label for="al-period">Period</label><select id="al-period">${[[60, '1 minute'], [300, '5 minutes'], [900, '15 minutes'], [3600, '1 hour']].map(([v, t]) => `<option value="${v}">${t}</option>`).join('')}</select></div>
        <div><label for="al-cmp">Comparison</label><select id="al-cmp">${COMPARISONS.map(([k, sym]) => `<option value="${k}">${sym} ${k}</option>`).join('')}</select></div>
        <div><label for="al-threshold">Threshold</label><input type="number" id="al-threshold" step="any" value="1" required></div>
      </div>
      <div class="row">
        <div><label for="al-n">Evaluation periods</label><input type="number" id="al-n" min="1" value="5" required></div>
        <div><label for="al-m">Datapoints to alarm</label><input type="number" id="al-m" min="1" value="5"></div>
        <div><label for="al-missing">Missing data</label><select id="al-missing">${['missing', 'breaching', 'notBreaching', 'ignore'].map((m) => `<option>${m}</option>`).join('')}</select></div>
      </div>
      <figure class="chart" id="alarm-preview" aria-label="The metric over the last day, with the threshold"></figure>
      <p class="hint" id="alarm-preview-note"></p>
      <p class="error" id="alarm-error" role="alert"></p>
      <div class="actions"><button type="submit" class="primary">Create the alarm</button></div>
    </form>` : ''}`);
  const form = document.getElementById('new-alarm');
  if (!form) return;
  const v = (id) => document.getElementById(id).value;
  const links = async () => {
    const sel = document.getElementById('al-link');
    const keep = sel.value;
    let ls = [];
    try { ls = v('al-conn') ? (await api('GET', `/v1/connections/${encodeURIComponent(v('al-conn'))}/links`)).links : []; } catch { ls = []; }
    sel.innerHTML = `<option value="">The connection as a whole</option>${ls.map((l) => `<option value="${esc(l.id)}"${String(l.id) === keep ? ' selected' : ''}>${esc(l.name)} (${esc(l.id)})</option>`).join('')}`;
  };
  // The metric over the last day at the alarm's period and statistic, with the threshold.
  const preview = debounce(async () => {
    const note = document.getElementById('alarm-preview-note');
    const el = document.getElementById('alarm-preview');
    if (!el || !v('al-conn')) return;
    const period = Number(v('al-period'));
    const end = Math.ceil(Date.now() / 1000 / period) * period;
    const start = end - Math.min(86400, period * 1440);
    const params = { metric: v('al-metric'), period, stat: v('al-stat'), start: new Date(start * 1000).toISOString(), end: new Date(end * 1000).toISOString() };
    if (v('al-link')) params.link = v('al-link');
    try {
      const points = await metricPoints(v('al-conn'), params);
      for (const u of charts) u.destroy();
      charts = [];
      const threshold = Number(v('al-threshold'));
      drawChart(el, `${v('al-metric')} (${v('al-stat')})`, '', [v('al-metric')], align([points], start, end, period, Number.isFinite(threshold) ? threshold : null), Number.isFinite(threshold) ? `Threshold ${symbolOf(v('al-cmp'))} ${threshold}` : null);
      note.textContent = points.length ? '' : 'No data in the last day yet: the threshold line shows where the alarm would go off.';
    } catch (e) {
      note.textContent = e.message;
    }
  }, 250);
  document.getElementById('al-conn').addEventListener('change', async () => { await links(); preview(); });
  for (const id of ['al-metric', 'al-link', 'al-stat', 'al-period', 'al-cmp', 'al-threshold']) {
    document.getElementById(id).addEventListener(id === 'al-threshold' ? 'input' : 'change', preview);
  }
  document.getElementById('al-n').addEventListener('input', () => { document.getElementById('al-m').value = v('al-n'); });
  await links();
  preview();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = document.getElementById('alarm-error');
    err.textContent = '';
    const body = {
      name: v('al-name').trim(), connectionId: v('al-conn'), metric: v('al-metric'), stat: v('al-stat'),
      period: Number(v('al-period')), comparison: v('al-cmp'), threshold: Number(v('al-threshold')),
      evaluationPeriods: Number(v('al-n')), datapointsToAlarm: Number(v('al-m') || v('al-n')), missingData: v('al-missing'),
    };
    if (v('al-link')) body.linkId = Number(v('al-link'));
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    try {
      const a = await api('POST', '/v1/alarms', body);
      toast(`Alarm ${a.name} created`);
      location.hash = `#/alarms/${a.id}`;
    } catch (e) {
      err.textContent = e.message;
      const field = { name: 'al-name', threshold: 'al-threshold', evaluationPeriods: 'al-n', datapointsToAlarm: 'al-m', period: 'al-period', stat: 'al-stat' }[e.field];
      if (field) document.getElementById(field).setAttribute('aria-invalid', 'true');
    }
  });
}

async function alarmPage(id) {
  setTitle(id);
  const [a, h] = await Promise.all([
    api('GET', `/v1/alarms/${encodeURIComponent(id)}`),
    api('GET', `/v1/alarms/${encodeURIComponent(id)}/history`),
  ]);
  show(`<h1>${esc(a.name)} ${badge(a.state)}</h1>
    <dl class="facts panel">
      <dt>Id</dt><dd><code>${esc(a.id)}</code></dd>
      <dt>Connection</dt><dd><a href="#/connections/${esc(a.connectionId)}">${esc(a.connectionId)}</a></dd>
      <dt>Metric</dt><dd>${esc(a.metric)}${a.linkId ? ` (link ${esc(a.linkId)})` : ''}</dd>
      <dt>Condition</dt><dd>${esc(condition(a))}, missing data: ${esc(a.missingData)}</dd>
      <dt>Reason</dt><dd>${esc(a.stateReason)}</dd>
      <dt>Since</dt><dd>${esc(new Date(a.stateUpdatedAt).toLocaleString())}</dd>
      <dt>Webhooks</dt><dd>${a.webhooks.length ? a.webhooks.map((w) => `<code>${esc(w)}</code>`).join(' ') : '<span class="muted">none</span>'}</dd>
    </dl>
    <h2>History</h2>
    <div class="table-wrap"><table id="alarm-history"><thead><tr><th>When</th><th>Change</th><th>Summary</th></tr></thead><tbody>
    ${(h.items || []).map((i) => `<tr><td>${esc(new Date(i.timestamp).toLocaleString())}</td><td>${i.oldState ? `${badge(i.oldState)} → ` : ''}${i.newState ? badge(i.newState) : esc(i.kind)}</td><td>${esc(i.summary)}</td></tr>`).join('')}
    </tbody></table></div>
    ${canWrite() ? '<div class="actions"><button type="button" class="danger" id="delete-alarm">Delete the alarm</button></div>' : ''}`);
  const del = document.getElementById('delete-alarm');
  if (del) {
    del.addEventListener('click', async () => {
      if (!window.confirm(`Delete the alarm ${a.name}?`)) return;
      try {
        await api('DELETE', `/v1/alarms/${encodeURIComponent(a.id)}`);
        toast(`Alarm ${a.name} deleted`);
        location.hash = '#/alarms';
      } catch (e) { toast(e.message); }
    });
  }
}

render();

// ---------------------------------------------------------------------------------------------
// Usage and quotas

// `YYYY-MM` of a date, UTC.
const monthOf = (d) => `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
let usageMonth = monthOf(new Date());

const KIND_TEXT = { 'connection-hours': 'Connection hours', 'data-transfer-out': 'Data sent', 'data-transfer-in': 'Data received' };

// A month's statement (the operator, without an account: every account's total). The month is
// chosen above it; a bar per day below the heading.
async function usagePage(account) {
  setTitle('Usage');
  const q = new URLSearchParams({ month: usageMonth });
  const all = session.operator && !account;
  if (account) q.set('accountId', account);
  const head = `<h1>Usage</h1><form id="usage-month" class="inline" novalidate>
      <label for="month">Month</label><input type="month" id="month" value="${esc(usageMonth)}">
      <button type="submit">Show</button></form>`;
  if (all) {
    const s = await api('GET', `/v1/usage/accounts?${q}`);
    show(`${head}<p class="hint">Every account's charges for ${esc(s.month)}${s.monthToDate ? ', to date' : ''}.</p>
      <div class="table-wrap"><table id="usage-accounts"><thead><tr><th>Account</th><th class="num">Charges</th><th class="num">Credits</th><th class="num">Total</th></tr></thead><tbody>
      ${s.accounts.map((a) => `<tr><td><a href="#/usage/${esc(a.account)}">${esc(a.account)}</a></td><td class="num">${money(s.currency, a.subtotal)}</td>
        <td class="num">${a.credits ? `−${money(s.currency, a.credits)}` : '-'}</td><td class="num">${money(s.currency, a.total)}</td></tr>`).join('')
        || '<tr><td colspan="4" class="muted">Nothing metered this month.</td></tr>'}</tbody>
      <tfoot><tr><th>All accounts</th><td></td><td></td><td class="num" id="usage-total">${money(s.currency, s.total)}</td></tr></tfoot></table></div>`);
  } else {
    const s = await api('GET', `/v1/usage?${q}`);
    const m = (v) => money(s.currency, v);
    show(`${head}<h2>${esc(s.month)} · account <code>${esc(s.account)}</code></h2>
      <p class="hint">${s.monthToDate ? `To date: every hour before ${esc(new Date(s.meteredThrough).toLocaleString())} is metered.` : 'The whole month.'} Hours are billed while a connection is available, down or updating; the owner pays.</p>
      <figure class="chart" id="usage-days" aria-label="Charges per day"></figure>
      <div class="table-wrap"><table id="usage-lines"><thead><tr><th>Connection</th><th>What</th><th class="num">Quantity</th><th class="num">Unit price</th><th class="num">Amount</th></tr></thead><tbody>
      ${s.lines.map((l) => `<tr><td><a href="#/connections/${esc(l.connectionId)}">${esc(l.connectionId)}</a></td>
        <td>${esc(KIND_TEXT[l.kind] || l.kind)}${l.bandwidth ? ` at ${esc(l.bandwidth)}` : ''}</td>
        <td class="num">${esc(l.quantity)} ${esc(l.unit)}</td><td class="num">${m(l.unitPrice)}</td><td class="num">${m(l.amount)}</td></tr>`).join('')
        || '<tr><td colspan="5" class="muted">Nothing metered in this month.</td></tr>'}</tbody>
      <tfoot><tr><th colspan="4">Charges</th><td class="num">${m(s.subtotal)}</td></tr>
      ${s.credits.map((c) => `<tr class="credit"><th colspan="4">SLA credit for <a href="#/connections/${esc(c.connectionId)}">${esc(c.connectionId)}</a>:
          available ${esc(c.availabilityPercent)}% of the month against ${esc(c.slaPercent)}%, so ${esc(c.creditPercent)}% of its hours back
          <ul class="outages">${c.outages.map((o) => `<li>down ${esc(new Date(o.start).toLocaleString())} to ${esc(new Date(o.end).toLocaleString())} (${esc(o.minutes)} min)</li>`).join('')}</ul></th>
        <td class="num">−${m(c.amount)}</td></tr>`).join('')}
      <tr><th colspan="4">Total</th><td class="num" id="usage-total">${m(s.total)}</td></tr></tfoot></table></div>
      ${s.rightSizing.length ? `<h2>Right-sizing</h2><ul id="usage-sizing">${s.rightSizing.map((r) => `<li><a href="#/connections/${esc(r.connectionId)}">${esc(r.connectionId)}</a>: ${esc(r.message)}</li>`).join('')}</ul>` : ''}
      ${s.overVpn ? `<p id="usage-vpn">This month over a VPN: <strong>${m(s.overVpn.amount)}</strong> (${esc(s.overVpn.name)})${s.overPublic ? `; over public transfer: ${m(s.overPublic.amount)} (${esc(s.overPublic.name)})` : ''}.</p>` : ''}`);
    drawDays(s);
  }
  document.getElementById('usage-month').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = document.getElementById('month').value;
    if (/^\d{4}-\d{2}$/.test(v)) usageMonth = v;
    usagePage(account).catch((e) => show(`<h1>Usage</h1><p class="error" role="alert">${esc(e.message)}</p>`));
  });
}

// The statement's charges per day as bars, every day of the month on the axis.
function drawDays(s) {
  const el = document.getElementById('usage-days');
  const [y, mo] = s.month.split('-').map(Number);
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  const byDate = new Map(s.days.map((d) => [d.date, d.amount]));
  const xs = [];
  const vs = [];
  for (let d = 1; d <= days; d += 1) {
    const t = Date.UTC(y, mo - 1, d) / 1000;
    xs.push(t);
    vs.push(byDate.get(new Date(t * 1000).toISOString().slice(0, 10)) ?? null);
  }
  const u = new uPlot({
    title: 'Charges per day',
    width: Math.max(280, el.clientWidth || 600),
    height: 180,
    series: [{ value: (u2, v) => (v == null ? '-' : new Date(v * 1000).toISOString().slice(0, 10)) },
      { label: 'Charges', stroke: COLORS[0], fill: `${COLORS[0]}66`, paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false }, value: (u2, v) => (v == null ? '-' : money(s.currency, v)) }],
    scales: { x: { time: true, range: () => [xs[0] - 43200, xs[xs.length - 1] + 43200] }, y: { range: (u2, min, max) => [0, max > 0 ? max * 1.15 : 1] } },
    axes: [{}, { size: 70, values: (u2, vals) => vals.map((v) => money(s.currency, v)) }],
  }, [xs, vs], el);
  charts.push(u);
  el.dataset.points = String(vs.filter((v) => v != null).length);
}

// An account's quotas: each with its value, default and use (a bar); the operator picks the
// account and sets values.
async function quotasPage(account) {
  setTitle('Quotas');
  const q = account ? `?${new URLSearchParams({ accountId: account })}` : '';
  const list = await api('GET', `/v1/quotas${q}`);
  const accounts = session.operator ? (await api('GET', '/v1/accounts')).accounts || [] : [];
  const who = list.accountId || account || session.accountId;
  const pct = (x) => (x.value ? Math.min(100, Math.round((100 * x.used) / x.value)) : 100);
  show(`<h1>Quotas</h1>
    ${session.operator ? `<form id="quota-account" class="inline" novalidate><label for="qa">Account</label>
      <select id="qa">${accounts.map((a) => `<option value="${esc(a.accountId)}"${a.accountId === who ? ' selected' : ''}>${esc(a.name)} (${esc(a.accountId)})</option>`).join('')}</select></form>` : ''}
    <p class="hint">How much of each resource the account may hold. A create past a quota is refused, naming it; the operator sets the values.</p>
    <div class="table-wrap"><table id="quotas"><thead><tr><th>Quota</th><th class="num">Used</th><th class="num">Value</th><th class="num">Default</th><th>Use</th><th>What it counts</th></tr></thead><tbody>
    ${list.quotas.map((x) => `<tr data-quota="${esc(x.name)}"><td><code>${esc(x.name)}</code></td><td class="num">${esc(x.used)}</td><td class="num">${esc(x.value)}</td><td class="num">${esc(x.defaultValue)}</td>
      <td><meter min="0" max="100" low="70" high="90" optimum="0" value="${pct(x)}" aria-label="${esc(x.name)}: ${pct(x)}% used">${pct(x)}%</meter></td><td class="hint">${esc(x.description || '')}</td></tr>`).join('')}
    </tbody></table></div>
    ${session.operator && canWrite() ? `<h2>Set a quota</h2><form id="set-quota" class="panel" novalidate>
      <label for="sq-name">Quota</label><select id="sq-name">${list.quotas.map((x) => `<option>${esc(x.name)}</option>`).join('')}</select>
      <label for="sq-value">Value</label><input type="text" id="sq-value" inputmode="numeric" aria-describedby="sq-hint">
      <p class="hint" id="sq-hint">Empty puts the quota back to its default.</p>
      <p class="error" id="sq-error" role="alert"></p>
      <div class="actions"><button class="primary" type="submit">Set</button></div></form>` : ''}`);
  const pick = document.getElementById('qa');
  if (pick) pick.addEventListener('change', () => { location.hash = `#/quotas/${pick.value}`; });
  const form = document.getElementById('set-quota');
  if (form) {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const err = document.getElementById('sq-error');
      err.textContent = '';
      const text = document.getElementById('sq-value').value.trim();
      if (text !== '' && !/^\d+$/.test(text)) { err.textContent = 'A value is a whole number (or empty for the default).'; return; }
      try {
        await api('POST', '/v1/quotas', { accountId: who, quota: document.getElementById('sq-name').value, value: text === '' ? null : Number(text) });
        await quotasPage(account || who);
      } catch (e) {
        err.textContent = e.message;
      }
    });
  }
}
