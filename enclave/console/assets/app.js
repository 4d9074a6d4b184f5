// The enclave console. Plain JavaScript, no framework, no outside origin.
// Every action calls the same /v1 API as the CLI; the server decides what
// each person may see and do. Text from the server is only ever set with
// textContent, never parsed as HTML.
'use strict';

const state = { csrf: '', who: null };

// el makes an element: el('a', {href: '#x', class: 'c', on: {click: f}}, 'text', child).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on') {
      for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
    } else if (k === 'class') {
      e.className = v;
    } else {
      e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

class APIError extends Error {
  constructor(status, body) {
    const d = (body && body.error) || {};
    super(d.message || ('HTTP ' + status));
    this.status = status;
    this.klass = d.class || '';
    this.reasons = d.reasons || [];
    this.requestID = d.request_id || '';
  }
}

// apiText reads a plain-text answer (job logs).
async function apiText(path) {
  const res = await fetch(path, { credentials: 'same-origin', cache: 'no-store' });
  if (!res.ok) throw new APIError(res.status, await res.json().catch(() => null));
  return res.text();
}

async function api(method, path, body) {
  const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' };
  if (method !== 'GET' && method !== 'HEAD') {
    opts.headers['X-CSRF-Token'] = state.csrf;
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
  }
  const res = await fetch(path, opts);
  let data = null;
  if (res.status !== 204) data = await res.json().catch(() => null);
  if (!res.ok) throw new APIError(res.status, data);
  return data;
}

const enc = encodeURIComponent;

function fmtTime(s) { return s ? String(s).replace('T', ' ').replace(/\.\d+/, '').replace('Z', ' UTC') : ''; }
function fmtBytes(n) {
  n = Number(n || 0);
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
}
function short(s, n) { s = String(s || ''); return s.length > n ? s.slice(0, n) + '…' : s; }

function table(headers, rows, id) {
  return el('table', { id },
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
    el('tbody', {}, rows.map((r) => el('tr', { 'data-id': r.id }, r.cells.map((c) => el('td', {}, c))))));
}

function badge(kind, v) { return el('span', { class: kind + '-' + v }, v); }

// refused shows what the server said when it would not answer.
function refused(err) {
  if (err.status === 401) { showSignIn('Your session ended; sign in again.'); return el('p', {}, ''); }
  const box = el('div', { class: err.status === 403 ? 'refused' : 'error', id: 'refused', role: 'alert' },
    el('strong', {}, err.status === 403 ? 'Refused: ' : 'Failed: '), err.message);
  if (err.reasons.length) box.append(el('ul', {}, err.reasons.map((r) => el('li', {}, r))));
  if (err.requestID) box.append(el('p', { class: 'muted' }, 'request ' + err.requestID));
  return box;
}

// Pages: what each role sees in the navigation. The server still decides.
const pages = {
  queue: { title: 'Review queue', roles: ['officer'], render: renderQueue },
  images: { title: 'Images', roles: ['officer'], render: renderImages },
  catalogue: { title: 'Catalogue', roles: ['operator', 'custodian', 'authority'], render: renderCatalogue },
  applications: { title: 'Applications', roles: ['operator', 'authority', 'bureau'], render: renderApplications },
  jobs: { title: 'Jobs', roles: ['operator', 'officer', 'bureau'], render: renderJobs },
  exports: { title: 'Exports', roles: ['operator', 'bureau'], render: renderExports },
  releases: { title: 'Releases', roles: ['operator', 'officer', 'bureau'], render: renderReleases },
  orgs: { title: 'Organisations', roles: ['authority', 'bureau', 'admin'], render: renderOrgs },
  usage: { title: 'Use', roles: ['bureau', 'operator'], render: renderUsage },
  audit: { title: 'Audit', roles: ['bureau'], render: renderAudit },
  incidents: { title: 'Incidents', roles: ['officer', 'bureau', 'authority'], render: renderIncidents },
  export: { title: 'Export', roles: [], render: renderExport },
  job: { title: 'Job', roles: [], render: renderJob },
};

function allowedPages() {
  const roles = (state.who && state.who.person.roles) || [];
  return Object.entries(pages).filter(([, p]) => p.roles.some((r) => roles.includes(r)));
}

function renderNav(current) {
  const nav = document.getElementById('nav');
  nav.replaceChildren(...allowedPages().map(([k, p]) =>
    el('a', { href: '#' + k, id: 'nav-' + k, class: k === current ? 'current' : '' }, p.title)));
}

async function route() {
  if (!state.who) return;
  const [name, ...rest] = location.hash.replace(/^#/, '').split('/');
  const allowed = allowedPages();
  const key = pages[name] ? name : (allowed[0] ? allowed[0][0] : '');
  renderNav(key);
  const view = document.getElementById('view');
  if (!key) { view.replaceChildren(el('p', {}, 'Your role has no console pages.')); return; }
  const page = pages[key];
  view.replaceChildren(el('h2', {}, page.title), el('p', { class: 'muted' }, 'Loading…'));
  try {
    const body = await page.render(...rest.map(decodeURIComponent));
    view.replaceChildren(el('h2', { id: 'page-title' }, page.title), body);
  } catch (err) {
    if (!(err instanceof APIError)) throw err;
    view.replaceChildren(el('h2', { id: 'page-title' }, page.title), refused(err));
  }
}

// ---- officer

async function renderQueue() {
  const list = await api('GET', '/v1/exports');
  const open = list.filter((x) => x.state === 'pending-review' || x.state === 'checks-failed');
  if (!open.length) return el('p', { id: 'queue-empty' }, 'Nothing waits for review.');
  return table(['request', 'organisation', 'purpose', 'level', 'checks', 'state', 'approvals', 'requested'],
    open.map((x) => ({ id: x.id, cells: [
      el('a', { href: '#export/' + enc(x.id), class: 'export-link' }, x.id), x.org, short(x.purpose, 80), x.level,
      badge('verdict', x.checks.verdict), badge('state', x.state),
      (x.reviews || []).filter((r) => r.decision === 'approve').length + ' / ' + x.approvals_needed, fmtTime(x.created_at)] })), 'queue');
}

async function renderExport(id) {
  const x = await api('GET', '/v1/exports/' + enc(id));
  const roles = state.who.person.roles;
  const out = el('div', {});
  out.append(el('div', { class: 'card' }, el('dl', {},
    el('dt', {}, 'request'), el('dd', { id: 'export-id' }, x.id),
    el('dt', {}, 'state'), el('dd', { id: 'export-state' }, badge('state', x.state)),
    el('dt', {}, 'organisation'), el('dd', {}, x.org + ' (' + x.requester + ')'),
    el('dt', {}, 'job'), el('dd', {}, x.job),
    el('dt', {}, 'purpose'), el('dd', { id: 'export-purpose' }, x.purpose),
    el('dt', {}, 'scenario'), el('dd', {}, x.scenario),
    el('dt', {}, 'level'), el('dd', {}, x.level),
    el('dt', {}, 'checks'), el('dd', { id: 'export-verdict' }, badge('verdict', x.checks.verdict)),
    el('dt', {}, 'approvals'), el('dd', { id: 'export-approvals' },
      (x.reviews || []).filter((r) => r.decision === 'approve').length + ' of ' + x.approvals_needed + ' needed'))));
  // Until the release, operators see sizes rounded up and no hashes.
  out.append(el('h3', {}, 'Files'), table(['name', 'size', 'sha256'],
    (x.files || []).map((f) => ({ id: f.name, cells: [f.name, (f.sha256 ? '' : '≤') + fmtBytes(f.size), f.sha256 ? el('code', {}, f.sha256) : '—'] }))));
  out.append(el('h3', {}, 'Previews'), ...previews(x.previews || []));
  out.append(el('h3', {}, 'Checks'), table(['check', 'version', 'verdict'],
    (x.checks.checks || []).map((c) => ({ id: c.name, cells: [c.name, c.version, badge('verdict', c.verdict)] })), 'checks'));
  out.append(el('h3', {}, 'Evidence'), table(['check', 'verdict', 'file', 'column', 'count', 'evidence'],
    (x.checks.findings || []).map((f, i) => ({ id: String(i), cells: [f.check, badge('verdict', f.verdict), f.file || '', f.column || '', f.count || '', f.evidence] })), 'findings'));
  out.append(el('h3', {}, 'Reviews'), (x.reviews || []).length
    ? table(['officer', 'organisation', 'decision', 'comment', 'justification', 'time'],
      x.reviews.map((r, i) => ({ id: String(i), cells: [r.person, r.org, r.decision, r.comment || '', r.justification || '', fmtTime(r.time)] })), 'reviews')
    : el('p', { class: 'muted' }, 'No review yet.'));
  if (x.state === 'released') {
    out.append(el('p', {}, el('a', { href: '/v1/exports/' + enc(x.id) + '/download', id: 'download' }, 'Download the signed release bundle')));
  }
  const decided = (x.reviews || []).some((r) => r.person === state.who.person.id);
  if (roles.includes('officer') && !decided && (x.state === 'pending-review' || x.state === 'checks-failed')) {
    out.append(decisionForm(x));
  } else if (decided) {
    out.append(el('p', { id: 'decided', class: 'muted' }, 'You have decided on this request; another officer must decide next.'));
  }
  return out;
}

// previews shows each file's safe summary: shape and marks, and the sample
// rows of unmarked columns the server chose to show (never sensitive ones).
function previews(list) {
  if (!list.length) return [el('p', { class: 'muted' }, 'No preview.')];
  return list.map((p) => {
    const card = el('div', { class: 'card preview', 'data-file': p.file },
      el('h4', {}, p.file + ' ', el('span', { class: 'muted' }, p.kind + (p.rows ? ', ' + p.rows + ' rows' : ''))));
    if (p.note) card.append(el('p', { class: 'muted' }, p.note));
    const cols = p.columns || [];
    if (cols.length) {
      card.append(table(['column', 'type', 'level', 'personal info', 'nulls'],
        cols.map((c) => ({ id: c.name, cells: [c.name, c.type, c.level || '', c.pi || '', String(c.nulls)] }))));
    }
    if ((p.sample || []).length) {
      card.append(el('p', {}, 'First rows:'),
        table(cols.map((c) => c.name), p.sample.map((r, i) => ({ id: String(i), cells: r }))));
      const num = cols.findIndex((c) => /^(u?int|float|decimal)/.test(c.type));
      if (num > 0) card.append(chart(p.sample.map((r) => [r[0], Number(r[num])]), cols[num].name));
    }
    return card;
  });
}

// chart draws a horizontal bar chart of [label, value] pairs.
function chart(pairs, title) {
  const max = Math.max(1e-9, ...pairs.map(([, v]) => Math.abs(v) || 0));
  const out = el('div', { class: 'chart' }, el('p', { class: 'muted' }, title + ' (first rows)'));
  for (const [label, v] of pairs) {
    const bar = el('span', { class: 'bar' });
    bar.style.width = Math.round(((Math.abs(v) || 0) / max) * 300) + 'px';
    out.append(el('div', { class: 'chart-row' }, el('span', { class: 'chart-label' }, label), bar, ' ' + v));
  }
  return out;
}

function decisionForm(x) {
  const comment = el('textarea', { id: 'comment', maxlength: 2000 });
  const justification = el('textarea', { id: 'justification', maxlength: 4000 });
  const msg = el('p', { id: 'decision-result', role: 'status' });
  const decide = (verb) => async (ev) => {
    ev.preventDefault();
    try {
      const body = { comment: comment.value };
      if (justification.value) body.justification = justification.value;
      const r = await api('POST', '/v1/exports/' + enc(x.id) + '/' + verb, body);
      msg.replaceChildren('Recorded: the request is now ' + r.state + '.');
      msg.className = '';
      setTimeout(route, 0);
    } catch (err) {
      if (!(err instanceof APIError)) throw err;
      msg.replaceChildren(refused(err));
    }
  };
  const failed = x.state === 'checks-failed';
  return el('form', { class: 'card', id: 'decision' },
    el('h3', {}, 'Decision'),
    el('label', { for: 'comment' }, 'Comment'), comment,
    el('label', { for: 'justification' }, failed ? 'Justification (required to approve despite failed checks)' : 'Justification (optional)'), justification,
    el('div', { class: 'actions' },
      el('button', { type: 'submit', id: 'approve', on: { click: decide('approve') } }, 'Approve'),
      el('button', { type: 'button', id: 'request-changes', class: 'secondary', on: { click: decide('request-changes') } }, 'Request changes'),
      el('button', { type: 'button', id: 'reject', class: 'danger', on: { click: decide('reject') } }, 'Reject')),
    msg);
}

async function renderImages() {
  const list = await api('GET', '/v1/images');
  const out = el('div', {});
  const rows = list.map((im) => {
    const cells = [im.name, el('code', {}, short(im.digest, 23)), im.org, fmtBytes(im.size), badge('status', im.status), fmtTime(im.imported_at)];
    if (im.status === 'pending') {
      const act = (verb) => async () => {
        try { await api('POST', '/v1/images/' + enc(im.digest) + '/' + verb, { comment: '' }); route(); } catch (err) { out.prepend(refused(err)); }
      };
      cells.push(el('span', { class: 'actions' }, el('button', { type: 'button', class: 'approve-image', on: { click: act('approve') } }, 'Approve'),
        el('button', { type: 'button', class: 'danger reject-image', on: { click: act('reject') } }, 'Reject')));
    } else {
      cells.push(im.decided_by || '');
    }
    return { id: im.digest, cells };
  });
  out.append(table(['name', 'digest', 'organisation', 'size', 'status', 'imported', ''], rows, 'images'));
  return out;
}

// ---- operator

async function renderCatalogue() {
  const list = await api('GET', '/v1/datasets');
  const out = el('div', {});
  for (const d of list) {
    out.append(el('div', { class: 'card dataset', 'data-id': d.id },
      el('h3', {}, d.id + ' ', el('span', { class: 'muted' }, d.category)),
      el('p', {}, 'level ' + d.level + ', market ' + d.market + ', state ' + d.state + ', ' + d.rows + ' rows, ' + fmtBytes(d.bytes)),
      table(['column', 'type', 'level', 'personal info', 'rule'],
        (d.columns || []).map((c) => ({ id: c.name, cells: [c.name, c.type, c.level, c.pi || '', c.rule] })))));
  }
  if (!list.length) out.append(el('p', {}, 'The catalogue is empty.'));
  return out;
}

async function renderApplications() {
  const list = await api('GET', '/v1/applications');
  const authority = state.who.person.roles.includes('authority');
  const out = el('div', {});
  out.append(table(['application', 'organisation', 'datasets', 'purpose', 'scenario', 'period', 'status', 'grant', ''],
    list.map((a) => {
      let act = '';
      if (authority && a.status === 'pending') {
        const decide = (verb) => async () => {
          try { await api('POST', '/v1/applications/' + enc(a.id) + '/' + verb, { comment: '' }); route(); } catch (err) { out.prepend(refused(err)); }
        };
        act = el('span', { class: 'actions' }, el('button', { type: 'button', class: 'approve-application', on: { click: decide('approve') } }, 'Approve'),
          el('button', { type: 'button', class: 'danger', on: { click: decide('reject') } }, 'Reject'));
      }
      if (authority && a.status === 'approved' && a.grant) {
        // Issue 18: the grant ends with a reason; jobs under it stop.
        const reason = el('input', { class: 'revoke-reason', placeholder: 'reason (recorded)' });
        act = el('span', { class: 'actions' }, reason, el('button', { type: 'button', class: 'danger revoke-grant', on: { click: async () => {
          try { await api('POST', '/v1/applications/' + enc(a.id) + '/revoke', { reason: reason.value }); route(); } catch (err) { out.prepend(refused(err)); }
        } } }, 'Revoke grant'));
      }
      return { id: a.id, cells: [a.id, a.org, (a.datasets || []).map((d) => d.name || d.dataset || '').join(', '), short(a.purpose, 60), a.scenario,
        a.from + ' – ' + a.until, badge('status', a.status), a.grant || '', act] };
    }), 'applications'));
  return out;
}

// ended says how a job ended: its outcome, and its exit status where the
// server shows it (officers of another organisation, the bureau).
function ended(j) {
  if (j.exit_code === undefined) return j.outcome || '';
  return (j.outcome || '') + ' (' + j.exit_code + (j.reason ? ', ' + j.reason : '') + ')';
}

// upTo marks the figures of a job's coarse view: rounded up to a power of two.
function upTo(j) { return j.view === 'coarse' ? '≤' : ''; }

async function renderJobs() {
  const list = await api('GET', '/v1/jobs');
  const maxCPU = Math.max(1, ...list.map((j) => (j.usage && j.usage.cpu_seconds) || 0));
  return table(['job', 'organisation', 'image', 'state', 'outcome', 'CPU s', 'peak memory', 'wall s', 'outputs', 'created'],
    list.map((j) => {
      const u = j.usage || {};
      const le = upTo(j);
      return { id: j.id, cells: [el('a', { href: '#job/' + enc(j.id), class: 'job-link' }, j.id), j.org, el('code', {}, short(j.image, 19)), badge('state', j.state), ended(j),
        cpuBar(u.cpu_seconds || 0, maxCPU, 2, le),
        le + fmtBytes(u.peak_memory_bytes), le + (u.wall_seconds || 0).toFixed(1), (j.outputs || []).length + ' (' + le + fmtBytes(u.output_bytes) + ')', fmtTime(j.created_at)] };
    }), 'jobs');
}

// cpuBar draws the job's CPU use against the largest in the list (CSSOM
// width, which the content security policy allows; no inline style).
function cpuBar(v, max, digits = 2, prefix = '') {
  const bar = el('span', { class: 'bar' });
  bar.style.width = Math.round((v / max) * 80) + 'px';
  return el('span', {}, bar, ' ' + prefix + v.toFixed(digits));
}

// meter draws use against its limit.
function meter(label, used, limit, fmt, prefix = '') {
  const bar = el('span', { class: 'bar' });
  bar.style.width = Math.round(Math.min(1, limit > 0 ? used / limit : 0) * 300) + 'px';
  return [el('dt', {}, label), el('dd', { class: 'meter' }, bar, ' ' + prefix + fmt(used) + (limit > 0 ? ' of ' + fmt(limit) : ''))];
}

async function renderJob(id) {
  const j = await api('GET', '/v1/jobs/' + enc(id));
  const u = j.usage || {};
  const l = j.limits || {};
  const secs = (v) => Number(v || 0).toFixed(1) + ' s';
  const le = upTo(j);
  const out = el('div', {},
    el('div', { class: 'card' }, el('dl', {},
      el('dt', {}, 'job'), el('dd', { id: 'job-id' }, j.id),
      el('dt', {}, 'state'), el('dd', {}, badge('state', j.state)),
      el('dt', {}, 'organisation'), el('dd', {}, j.org + ' (' + j.owner + ')'),
      el('dt', {}, 'image'), el('dd', {}, el('code', {}, j.image)),
      el('dt', {}, 'command'), el('dd', {}, el('code', {}, (j.args || []).join(' '))),
      el('dt', {}, 'inputs'), el('dd', {}, (j.inputs || []).map((i) => i.dataset + '@' + i.version + ' (' + i.level + ')').join(', ')),
      el('dt', {}, 'outcome'), el('dd', { id: 'job-outcome' }, ended(j)),
      el('dt', {}, 'declared outputs'), el('dd', {}, (j.declared_outputs || []).length ? j.declared_outputs.join(', ') : 'none: nothing is collected'),
      el('dt', {}, 'undeclared, dropped'), el('dd', { id: 'job-undeclared' }, le + String(j.undeclared_dropped || 0)))),
    el('h3', {}, 'Resource use'),
    el('div', { class: 'card' }, el('dl', { id: 'job-usage' },
      meter('CPU', u.cpu_seconds || 0, (l.cpus || 0) * (l.timeout_seconds || 0), secs, le),
      meter('peak memory', u.peak_memory_bytes || 0, l.memory_bytes || 0, fmtBytes, le),
      meter('wall time', u.wall_seconds || 0, l.timeout_seconds || 0, secs, le),
      meter('outputs', u.output_bytes || 0, l.out_bytes || 0, fmtBytes, le),
      meter('data read', u.input_bytes || 0, 0, fmtBytes, le)),
      le ? el('p', { class: 'muted' }, '≤: rounded up to a power of two; exact figures are for officers of another organisation and the bureau.') : ''),
    el('h3', {}, 'Outputs'),
    table(['name', 'size', 'sha256'], (j.outputs || []).map((o) => ({ id: o.name,
      cells: [o.name, (o.sha256 ? '' : '≤') + fmtBytes(o.size), o.sha256 ? el('code', {}, o.sha256) : '—'] })), 'job-outputs'),
    el('h3', {}, 'Log'));
  try {
    out.append(el('pre', { id: 'job-logs' }, await apiText('/v1/jobs/' + enc(id) + '/logs')));
  } catch (err) {
    if (!(err instanceof APIError)) throw err;
    out.append(refused(err));
  }
  return out;
}

async function renderExports() {
  const list = await api('GET', '/v1/exports');
  return table(['request', 'organisation', 'job', 'purpose', 'checks', 'state', 'requested'],
    list.map((x) => ({ id: x.id, cells: [el('a', { href: '#export/' + enc(x.id) }, x.id), x.org, x.job, short(x.purpose, 60),
      badge('verdict', x.checks.verdict), badge('state', x.state), fmtTime(x.created_at)] })), 'exports');
}

async function renderReleases() {
  const list = await api('GET', '/v1/releases');
  const mine = state.who.org.name;
  return table(['request', 'organisation', 'purpose', 'bundle sha256', 'released', ''],
    list.map((x) => ({ id: x.id, cells: [x.id, x.org, short(x.purpose, 60), el('code', {}, x.bundle_sha256), fmtTime(x.released_at),
      x.org === mine ? el('a', { href: '/v1/exports/' + enc(x.id) + '/download' }, 'download') : ''] })), 'releases');
}

// ---- authority and bureau

async function renderOrgs() {
  const list = await api('GET', '/v1/orgs');
  return table(['organisation', 'type', 'USCC', 'licence from', 'licence until', 'status', 'reason', 'security lead', 'principal'],
    list.map((o) => ({ id: o.name, cells: [o.name, o.type, o.uscc || '', o.licence_from, o.licence_until, badge('status', o.status),
      o.status_reason || '', o.security_lead || '', o.principal || ''] })), 'orgs');
}

// renderUsage is the dashboard of use: per organisation and per month, with
// bars of CPU-hours (CSSOM widths; no inline style).
async function renderUsage() {
  const [byOrg, byMonth] = await Promise.all([api('GET', '/v1/usage?by=org'), api('GET', '/v1/usage?by=month')]);
  const view = (rep, id, label) => {
    const max = Math.max(1e-9, ...rep.rows.map((r) => r.cpu_hours));
    return table([label, 'jobs', 'CPU-hours', 'peak memory', 'data read', 'outputs', 'exports (approved / rejected)', 'charge'],
      rep.rows.map((r) => ({ id: r.key, cells: [r.key, String(r.jobs), cpuBar(r.cpu_hours, max, 3), fmtBytes(r.peak_memory_bytes),
        fmtBytes(r.input_bytes), fmtBytes(r.output_bytes), r.exports_requested + ' (' + r.exports_approved + ' / ' + r.exports_rejected + ')',
        (r.charge.total || 0).toFixed(2) + ' ' + (rep.currency || '')] })), id);
  };
  const out = el('div', {}, el('h3', {}, 'By organisation'), view(byOrg, 'usage-org', 'organisation'),
    el('h3', {}, 'By month'), view(byMonth, 'usage-month', 'month'));
  if (state.who.person.roles.includes('bureau')) {
    // Incidents: the latest refusals and failures on the audit log.
    const recent = await api('GET', '/v1/audit?order=newest&limit=500');
    const bad = recent.filter((e) => e.outcome === 'denied' || e.outcome === 'failed');
    out.append(el('h3', {}, 'Incidents (refused or failed, latest 500 entries)'), bad.length
      ? table(['#', 'time', 'actor', 'org', 'action', 'objects', 'outcome', 'reason'],
        bad.map((e) => ({ id: String(e.index), cells: [String(e.index), fmtTime(e.time), e.actor, e.org || '', e.action,
          (e.objects || []).join(' '), badge('outcome', e.outcome), e.reason || ''] })), 'incidents')
      : el('p', { id: 'incidents' }, 'No incident.'));
  }
  return out;
}

async function renderAudit() {
  const fields = ['actor', 'org', 'action', 'object', 'since', 'until'];
  const inputs = Object.fromEntries(fields.map((f) => [f, el('input', { id: 'audit-' + f, name: f, placeholder: f === 'since' || f === 'until' ? '2026-01-01T00:00:00Z' : '' })]));
  const results = el('div', { id: 'audit-results' });
  const search = async (ev) => {
    if (ev) ev.preventDefault();
    const q = new URLSearchParams({ limit: '200', order: 'newest' });
    for (const f of fields) if (inputs[f].value.trim()) q.set(f, inputs[f].value.trim());
    try {
      const list = await api('GET', '/v1/audit?' + q.toString());
      results.replaceChildren(el('p', { class: 'muted' }, list.length + ' entries'),
        table(['#', 'time', 'actor', 'org', 'action', 'objects', 'outcome', 'reason'],
          list.map((e) => ({ id: String(e.index), cells: [String(e.index), fmtTime(e.time), e.actor, e.org || '', e.action,
            (e.objects || []).join(' '), badge('outcome', e.outcome), e.reason || ''] })), 'audit'));
    } catch (err) {
      if (!(err instanceof APIError)) throw err;
      results.replaceChildren(refused(err));
    }
  };
  const form = el('form', { class: 'card', id: 'audit-search', on: { submit: search } },
    fields.map((f) => [el('label', { for: 'audit-' + f }, f), inputs[f]]),
    el('button', { type: 'submit', id: 'audit-go' }, 'Search'));
  await search();
  return el('div', {}, form, results);
}

// ---- incidents (issue 18): the register, the authority's close, the bureau's halt

async function renderIncidents() {
  const list = await api('GET', '/v1/incidents');
  const roles = state.who.person.roles;
  const out = el('div', {});
  const act = async (method, path, body) => {
    try { await api(method, path, body); route(); } catch (err) {
      if (!(err instanceof APIError)) throw err;
      out.prepend(refused(err));
    }
  };
  if (roles.includes('bureau')) {
    const kind = el('select', { id: 'halt-kind' }, el('option', { value: 'org' }, 'organisation'), el('option', { value: 'dataset' }, 'dataset'));
    const target = el('input', { id: 'halt-target', placeholder: 'name' });
    const reason = el('input', { id: 'halt-reason', placeholder: 'reason (recorded)' });
    out.append(el('form', { class: 'card', id: 'halt-form', on: { submit: (ev) => {
      ev.preventDefault();
      act('POST', '/v1/jobs/halt', { [kind.value]: target.value.trim(), reason: reason.value });
    } } }, el('strong', {}, 'Halt every job of '), kind, target, reason, el('button', { type: 'submit', class: 'danger', id: 'halt-go' }, 'Halt and open an incident')));
  }
  const open = list.filter((i) => i.state === 'open').length;
  out.append(el('p', { class: 'muted', id: 'incident-count' }, list.length + ' incidents, ' + open + ' open'));
  out.append(table(['incident', 'on', 'reported', 'by', 'reason', 'affected data', 'jobs stopped', 'state', 'decision', ''],
    list.map((i) => {
      let close = '';
      if (roles.includes('authority') && i.state === 'open') {
        const decision = el('input', { class: 'decision', placeholder: 'decision (recorded)' });
        close = el('span', { class: 'actions' }, decision, el('button', { type: 'button', class: 'close-incident',
          on: { click: () => act('POST', '/v1/incidents/' + enc(i.id) + '/close', { decision: decision.value }) } }, 'Close'));
      }
      const a = i.affected || {};
      const affected = [].concat((a.datasets || []).map((d) => 'dataset ' + d), (a.grants || []).map((g) => 'grant ' + g),
        (a.orgs || []).map((o) => 'org ' + o)).join(', ');
      return { id: i.id, cells: [i.id, i.target.kind + ' ' + i.target.id, fmtTime(i.reported_at), i.reported_by + ' (' + i.reporter_org + ')',
        i.reason, affected, (i.stopped || []).join(' ') || '—', badge('state', i.state),
        i.decision ? i.decision + ' (' + i.closed_by + ', ' + fmtTime(i.closed_at) + ')' : '', close] };
    }), 'incident-register'));
  return out;
}

// ---- sessions

function showSignIn(message) {
  state.who = null;
  state.csrf = '';
  document.getElementById('nav').replaceChildren();
  document.getElementById('view').replaceChildren();
  document.getElementById('who').textContent = '';
  document.getElementById('signout').hidden = true;
  document.getElementById('signin').hidden = false;
  document.getElementById('signin-error').textContent = message || '';
}

async function start(info) {
  state.csrf = info.csrf_token;
  try {
    state.who = await api('GET', '/v1/whoami');
  } catch (err) {
    showSignIn(err.message);
    return;
  }
  document.getElementById('signin').hidden = true;
  document.getElementById('signout').hidden = false;
  document.getElementById('who').textContent = state.who.person.name + ' · ' + state.who.org.name + ' · ' + state.who.person.roles.join(', ');
  route();
}

async function signIn(ev) {
  ev.preventDefault();
  const input = document.getElementById('token');
  const body = new URLSearchParams({ token: input.value.trim() });
  input.value = '';
  const res = await fetch('session', { method: 'POST', credentials: 'same-origin', body, headers: { Accept: 'application/json' } });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    document.getElementById('signin-error').textContent = (data && data.error && data.error.message) || ('HTTP ' + res.status);
    return;
  }
  await start(data);
}

async function signOut() {
  await fetch('session', { method: 'DELETE', credentials: 'same-origin', headers: { 'X-CSRF-Token': state.csrf } }).catch(() => null);
  history.replaceState(null, '', location.pathname);
  showSignIn('Signed out.');
}

document.addEventListener('DOMContentLoaded', async () => {
  document.getElementById('signin').addEventListener('submit', signIn);
  document.getElementById('signout').addEventListener('click', signOut);
  window.addEventListener('hashchange', route);
  const res = await fetch('session', { credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (res.ok) await start(await res.json());
  else showSignIn('');
});
