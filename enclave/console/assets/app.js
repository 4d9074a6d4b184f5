// The enclave console. Plain JavaScript, no framework, no outside origin.
// Every action calls the same /v1 API as the CLI; the server decides what
// each person may see and do. Text from the server is only ever set with
// textContent, never parsed as HTML.
'use strict';

const state = { csrf: '', who: null, flash: '' };

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

// table draws rows in a wrapper that scrolls sideways inside the page, so
// that no table makes the page wider than the window (issue 21).
function table(headers, rows, id) {
  return el('div', { class: 'table-wrap' }, el('table', { id },
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows.map((r) => el('tr', { 'data-id': r.id }, r.cells.map((c) => el('td', {}, c)))))));
}

// marks: states and verdicts say what they are in a sign and a word as
// well as a colour (issue 21: never colour alone).
const marks = {
  pass: '✓', approved: '✓', released: '✓', complete: '✓', ok: '✓', closed: '✓',
  fail: '✗', failed: '✗', rejected: '✗', 'checks-failed': '✗', denied: '✗', revoked: '✗', cancelled: '⊘', stopped: '⊘', halted: '⊘',
  reject: '✗', approve: '✓', 'request-changes': '↺',
  review: '!', 'pending-review': '…', pending: '…', queued: '…', running: '▶', open: '!', 'changes-requested': '↺',
};

function badge(kind, v) {
  return el('span', { class: 'badge ' + kind + '-' + v }, el('span', { class: 'mark', 'aria-hidden': 'true' }, marks[v] || '•'), ' ' + v);
}

// person shows a person by name, with the id where it matters (hover,
// screen readers, and in the text when the server gave no name).
function person(id, name) {
  if (!id) return '';
  if (!name) return el('span', { class: 'person' }, el('code', {}, id));
  return el('span', { class: 'person', title: id }, name, ' ', el('code', { class: 'muted' }, id));
}

// say puts a message in the live region: messages only, not the view.
function say(text) {
  const live = document.getElementById('live');
  live.textContent = '';
  if (text) setTimeout(() => { live.textContent = text; }, 30);
}

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
  history: { title: 'Decided', roles: ['officer'], render: renderHistory },
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
    el('a', { href: '#' + k, id: 'nav-' + k, class: k === current ? 'current' : '', 'aria-current': k === current ? 'page' : null }, p.title)));
}

// settle finishes a navigation: the page's title in the tab, focus on the
// view's heading (not lost to the body when the old view goes), and a
// message kept across the re-render in the live region.
function settle(title) {
  document.title = title + ' · Enclave console';
  const h = document.getElementById('page-title');
  if (h) h.focus({ preventScroll: false });
  if (state.flash) { say(state.flash); state.flash = ''; }
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
  view.setAttribute('aria-busy', 'true');
  view.replaceChildren(el('h2', {}, page.title), el('p', { class: 'muted' }, 'Loading…'));
  const heading = () => el('h2', { id: 'page-title', tabindex: '-1' }, page.title);
  try {
    const body = await page.render(...rest.map(decodeURIComponent));
    view.replaceChildren(heading(), body);
  } catch (err) {
    if (!(err instanceof APIError)) throw err;
    view.replaceChildren(heading(), refused(err));
  }
  view.removeAttribute('aria-busy');
  settle(page.title + (rest.length ? ' ' + rest.map(decodeURIComponent).join('/') : ''));
  for (const c of drawLater.splice(0)) c();
}

// drawLater holds the charts of the view being built: Chart.js measures
// its canvas, so a chart is drawn once the view is in the page.
const drawLater = [];

// plot draws a Chart.js chart (vendored: chart.min.js) in a canvas with a
// text alternative; without the library the table beside it still says it.
function plot(id, config, alt, height) {
  const canvas = el('canvas', { id, role: 'img', 'aria-label': alt });
  const box = el('div', { class: 'plot' }, canvas);
  if (height) box.style.height = height + 'px'; // CSSOM, which the content security policy allows
  drawLater.push(() => {
    if (typeof Chart === 'undefined') { box.replaceChildren(el('p', { class: 'muted' }, alt)); return; }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    canvas.chart = new Chart(canvas, config);
  });
  return box;
}

const palette = ['#1f5fa8', '#c2571a', '#2e8540', '#8a3ea8', '#a8261f', '#0f7c8a', '#6b6b00', '#5b6570'];

// ---- officer

async function renderQueue() {
  const list = await api('GET', '/v1/exports');
  const open = list.filter((x) => x.state === 'pending-review' || x.state === 'checks-failed');
  if (!open.length) return el('p', { id: 'queue-empty' }, 'Nothing waits for review.');
  return table(['request', 'organisation', 'requested by', 'purpose', 'level', 'checks', 'state', 'approvals', 'requested'],
    open.map((x) => ({ id: x.id, cells: [
      el('a', { href: '#export/' + enc(x.id), class: 'export-link' }, x.id), x.org, person(x.requester, x.requester_name), short(x.purpose, 80), x.level,
      badge('verdict', x.checks.verdict), badge('state', x.state),
      approvals(x) + ' / ' + x.approvals_needed, fmtTime(x.created_at)] })), 'queue');
}

// renderHistory lists the requests decided: released, rejected, sent back
// or withdrawn, with each officer's decision (issue 21).
async function renderHistory() {
  const list = await api('GET', '/v1/exports');
  const done = list.filter((x) => x.state !== 'pending-review' && x.state !== 'checks-failed');
  if (!done.length) return el('p', { id: 'history-empty' }, 'No request has been decided yet.');
  done.sort((p, q) => String(q.created_at).localeCompare(String(p.created_at)));
  return table(['request', 'organisation', 'purpose', 'checks', 'outcome', 'decisions'],
    done.map((x) => ({ id: x.id, cells: [el('a', { href: '#export/' + enc(x.id) }, x.id), x.org, short(x.purpose, 60),
      badge('verdict', x.checks.verdict), badge('state', x.state),
      el('ul', { class: 'plain' }, (x.reviews || []).map((r) => el('li', {}, person(r.person, r.person_name), ': ' + r.decision + ' (' + fmtTime(r.time) + ')')))] })), 'history');
}

function approvals(x) { return (x.reviews || []).filter((r) => r.decision === 'approve').length; }

// checkInfo says what each check of egress-review tests, with the
// thresholds in force (t: the export's thresholds, data.enclave.
// egress_thresholds as the server sends them; a deployer may have tuned
// them, so no figure is written here).
function checkInfo(name, t) {
  const pct = (v) => +(v * 100).toFixed(4) + '%';
  const bytes = (v) => v >= 1 << 30 && v % (1 << 30) === 0 ? v / (1 << 30) + ' GiB' : v >= 1 << 20 && v % (1 << 20) === 0 ? v / (1 << 20) + ' MiB' : v + ' bytes';
  const dom = 'N=' + t.dominance_n + ', K=' + pct(t.dominance_k);
  switch (name) {
    case 'contract': return 'Every file is a table whose rows stand for groups of at least ' + t.min_cell + ' input records, each cell a category label (at most ' + t.max_labels + ' a column) or a statistic traced to the inputs; N-K dominance ' + dom + ', p-ratio ' + pct(t.p_ratio) + '; text files within ' + t.text_budget_bits + ' bits of unexplained tokens.';
    case 'disclosure': return 'Statistical disclosure control on tables: cells of fewer than ' + t.min_cell + ' records, dominance (' + dom + '), p-ratio ' + pct(t.p_ratio) + ', at least ' + t.min_dof + ' degrees of freedom for models.';
    case 'small-cells': return 'Counts of groups: a group of fewer than ' + t.min_cell + ' records may single people out.';
    case 'dominance': return 'A cell dominated by its largest contributors (the ' + t.dominance_n + ' largest above ' + pct(t.dominance_k) + ' of the total) discloses them.';
    case 'differencing': return 'Differencing against earlier releases: a cell that moves by at most ' + t.diff_max_cell_delta + ' between releases of the same scenario may reveal one record.';
    case 'identifiers': return 'No identifier or personal value of any input appears in the outputs.';
    case 'raw-values': return 'No raw value of a marked input column (identity, contact) appears in an output, whatever its encoding.';
    case 'row-copy': return 'No output copies input rows: at most ' + pct(t.row_copy_fraction) + ' of rows may match an input row, ' + (t.row_copy_pi_threshold ? 'at most ' + t.row_copy_pi_threshold : 'none') + ' with personal information.';
    case 'marks': return 'Every output carries classification marks at least as high as its inputs.';
    case 'file-types': return 'Outputs are judged by content, not name: Arrow IPC, Parquet, CSV, text, PNG; ' + t.max_files + ' files, ' + bytes(t.max_file_bytes) + ' each, ' + bytes(t.max_total_bytes) + ' in all at most.';
    case 'limits': return 'The number and sizes of the files are within the limits of the request (' + t.max_files + ' files, ' + bytes(t.max_file_bytes) + ' each, ' + bytes(t.max_total_bytes) + ' in all).';
    case 'integrity': return 'The files reviewed are the files the job wrote (their sha256).';
  }
  return 'A check of the egress review.';
}

function verdictRank(v) { return v === 'fail' ? 0 : v === 'review' ? 1 : 2; }

// stateText says where a request stands after the decisions so far, true
// for the final decision and a rejection too (issue 21).
function stateText(x) {
  const got = approvals(x);
  const mine = (x.reviews || []).find((r) => r.person === state.who.person.id);
  switch (x.state) {
    case 'released': return 'Released: approved by ' + got + ' of ' + x.approvals_needed + ' officers; the signed bundle is ready.';
    case 'approved': return 'Approved by every officer needed; the release is being signed.';
    case 'rejected': return 'Rejected. Nothing leaves the enclave; the decision is final.';
    case 'changes-requested': return 'Sent back to the requester for changes.';
    case 'pending-review': case 'checks-failed': {
      const left = Math.max(0, x.approvals_needed - got);
      if (mine) return 'You ' + (mine.decision === 'approve' ? 'approved' : 'decided: ' + mine.decision) + '; ' + left + ' more approval' + (left === 1 ? '' : 's') + ' by another officer of another organisation needed.';
      return got + ' of ' + x.approvals_needed + ' approvals so far; your decision is needed.';
    }
    default: return 'The request is ' + x.state + '.';
  }
}

async function renderExport(id) {
  const x = await api('GET', '/v1/exports/' + enc(id));
  const roles = state.who.person.roles;
  const out = el('div', { class: 'review' });
  const checks = (x.checks.checks || []).slice().sort((p, q) => verdictRank(p.verdict) - verdictRank(q.verdict));
  const findings = x.checks.findings || [];
  // 1. The request: what, who asked and why.
  out.append(el('section', { class: 'card', 'aria-labelledby': 'request-h' },
    el('h3', { id: 'request-h' }, 'Request ', el('span', { id: 'export-id' }, x.id), ' ', el('span', { id: 'export-state' }, badge('state', x.state))),
    el('p', { id: 'export-status', class: 'status-line' }, stateText(x)),
    el('dl', {},
      el('dt', {}, 'requested by'), el('dd', {}, person(x.requester, x.requester_name), ' · ' + x.org + ' · ' + fmtTime(x.created_at)),
      el('dt', {}, 'purpose'), el('dd', { id: 'export-purpose' }, x.purpose),
      el('dt', {}, 'scenario · level'), el('dd', {}, x.scenario + ' · ' + x.level),
      el('dt', {}, 'job'), el('dd', {}, el('a', { href: '#job/' + enc(x.job) }, x.job)),
      el('dt', {}, 'approvals'), el('dd', { id: 'export-approvals' }, approvals(x) + ' of ' + x.approvals_needed + ' needed'))));
  // 2. The checks, failed first, each with what it tests and its evidence count.
  const bad = checks.filter((c) => c.verdict !== 'pass');
  out.append(el('section', { class: 'card', 'aria-labelledby': 'checks-h' },
    el('h3', { id: 'checks-h' }, 'Checks ', el('span', { id: 'export-verdict' }, badge('verdict', x.checks.verdict)), ' ',
      el('span', { class: 'muted' }, bad.length ? bad.length + ' of ' + checks.length + ' need attention' : 'all ' + checks.length + ' passed')),
    el('ul', { id: 'checks', class: 'checks' }, checks.map((c) => {
      const n = findings.filter((f) => f.check === c.name && f.verdict !== 'pass').length;
      return el('li', { class: 'check check-' + c.verdict, 'data-check': c.name },
        badge('verdict', c.verdict), ' ', el('strong', {}, c.name), el('span', { class: 'muted' }, ' v' + c.version + (n ? ' · ' + n + ' finding' + (n === 1 ? '' : 's') : '')),
        el('div', { class: 'check-info' }, x.thresholds ? checkInfo(c.name, x.thresholds) : 'A check of the egress review.'));
    }))));
  // 3. Evidence per file.
  const files = (x.files || []).map((f) => f.name);
  for (const f of findings) if (f.file && !files.includes(f.file)) files.push(f.file);
  const evidence = el('section', { class: 'card', id: 'findings', 'aria-labelledby': 'evidence-h' }, el('h3', { id: 'evidence-h' }, 'Evidence by file'));
  const general = findings.filter((f) => !f.file);
  if (general.length) evidence.append(el('h4', {}, 'All files'), findingList(general));
  for (const name of files) {
    const f = (x.files || []).find((g) => g.name === name);
    evidence.append(el('h4', { class: 'file', 'data-file': name }, name + ' ',
      el('span', { class: 'muted' }, f ? (f.sha256 ? '' : '≤') + fmtBytes(f.size) : ''), f && f.sha256 ? el('code', { class: 'muted hash' }, ' ' + short(f.sha256, 16)) : ''),
      findingList(findings.filter((g) => g.file === name)));
  }
  out.append(evidence);
  // 4. Reviews so far.
  out.append(el('section', { class: 'card' }, el('h3', {}, 'Reviews'), (x.reviews || []).length
    ? table(['officer', 'organisation', 'decision', 'comment', 'justification', 'time'],
      x.reviews.map((r, i) => ({ id: String(i), cells: [person(r.person, r.person_name), r.org, badge('status', r.decision === 'approve' ? 'approved' : r.decision), r.comment || '', r.justification || '', fmtTime(r.time)] })), 'reviews')
    : el('p', { class: 'muted' }, 'No review yet.')));
  if (x.state === 'released') {
    out.append(el('p', {}, el('a', { href: '/v1/exports/' + enc(x.id) + '/download', id: 'download' }, 'Download the signed release bundle')));
  }
  // 5. Previews last.
  out.append(el('section', { class: 'card', 'aria-labelledby': 'previews-h' }, el('h3', { id: 'previews-h' }, 'Previews'), ...previews(x.previews || [])));
  const decided = (x.reviews || []).some((r) => r.person === state.who.person.id);
  if (roles.includes('officer') && !decided && (x.state === 'pending-review' || x.state === 'checks-failed')) {
    out.append(decisionForm(x));
  } else if (roles.includes('officer')) {
    out.append(el('div', { class: 'card decided', id: 'decided' }, el('strong', {}, 'Decision: '), stateText(x)));
  }
  return out;
}

function findingList(list) {
  if (!list.length) return el('p', { class: 'muted' }, 'No finding.');
  return el('ul', { class: 'findings' }, list.sort((p, q) => verdictRank(p.verdict) - verdictRank(q.verdict)).map((f) =>
    el('li', { class: 'finding' }, badge('verdict', f.verdict), ' ', el('strong', {}, f.check), f.column ? ' · column ' + f.column : '',
      f.count ? ' · ' + f.count + ' cell' + (f.count === 1 ? '' : 's') : '', ': ', f.evidence)));
}

// previews shows each file's safe summary: shape and marks, and the sample
// rows of unmarked columns the server chose to show (never sensitive ones).
function previews(list) {
  if (!list.length) return [el('p', { class: 'muted' }, 'No preview.')];
  return list.map((p, k) => {
    const card = el('div', { class: 'preview', 'data-file': p.file },
      el('h4', {}, p.file + ' ', el('span', { class: 'muted' }, p.kind + (p.rows ? ', ' + p.rows + ' rows' : ''))));
    if (p.note) card.append(el('p', { class: 'muted' }, p.note));
    const cols = p.columns || [];
    if (cols.length) {
      card.append(table(['column', 'type', 'level', 'personal info', 'nulls'],
        cols.map((c) => ({ id: c.name, cells: [c.name, c.type, c.level || '', c.pi || '', String(c.nulls)] }))));
    }
    if ((p.sample || []).length) {
      // The chart: a numeric column against the first text column's labels
      // (not against row numbers), sorted, so that small groups stand out.
      const num = cols.findIndex((c) => /^(u?int|float|decimal)/.test(c.type));
      const lab = cols.findIndex((c) => !/^(u?int|float|decimal)/.test(c.type));
      if (num >= 0) {
        const pairs = p.sample.map((r, i) => [lab >= 0 ? r[lab] : 'row ' + (i + 1), Number(r[num])]).filter(([, v]) => Number.isFinite(v));
        pairs.sort((a, b) => a[1] - b[1]);
        card.append(el('p', { class: 'muted' }, cols[num].name + ' by ' + (lab >= 0 ? cols[lab].name : 'row') + ', the ' + pairs.length + ' sample rows shown, smallest first'),
          plot('preview-chart-' + k, { type: 'bar', data: { labels: pairs.map(([l]) => l), datasets: [{ label: cols[num].name, data: pairs.map(([, v]) => v), backgroundColor: palette[0] }] },
            options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true }, y: { ticks: { autoSkip: false } } } } },
          cols[num].name + ' of ' + pairs.length + ' sample rows: ' + pairs.map(([l, v]) => l + ' ' + v).join(', '), Math.max(120, 40 + 16 * pairs.length)));
      }
      card.append(el('details', {}, el('summary', {}, 'Sample rows (' + p.sample.length + ')'),
        table(cols.map((c) => c.name), p.sample.map((r, i) => ({ id: String(i), cells: r })))));
    }
    return card;
  });
}

// decisionForm is the decision bar, kept in view at the foot of the window:
// a comment is required to reject or send back, approving asks to confirm,
// and overriding failed checks needs a justification (the server checks it
// too).
function decisionForm(x) {
  const comment = el('textarea', { id: 'comment', maxlength: 2000, rows: 2, 'aria-describedby': 'decision-help' });
  const justification = el('textarea', { id: 'justification', maxlength: 4000, rows: 2 });
  const msg = el('div', { id: 'decision-result' });
  const failed = x.state === 'checks-failed';
  const send = async (verb) => {
    try {
      const body = { comment: comment.value.trim() };
      if (justification.value.trim()) body.justification = justification.value.trim();
      const r = await api('POST', '/v1/exports/' + enc(x.id) + '/' + verb, body);
      state.flash = 'Recorded: you decided ' + verb + '; the request is now ' + r.state + '.';
      route();
    } catch (err) {
      if (!(err instanceof APIError)) throw err;
      msg.replaceChildren(refused(err));
    }
  };
  const needComment = (verb) => () => {
    if (!comment.value.trim()) {
      msg.replaceChildren(el('p', { class: 'error', id: 'decision-error' }, 'Write a comment saying why, to ' + (verb === 'reject' ? 'reject' : 'send back') + ' the request.'));
      say('A comment is required.');
      comment.focus();
      return;
    }
    send(verb);
  };
  const confirm = el('span', { class: 'confirm', id: 'confirm-box', hidden: true },
    el('strong', {}, failed ? 'Override failed checks and approve? ' : 'Approve this release? '),
    el('button', { type: 'button', id: 'confirm-approve', on: { click: () => send('approve') } }, 'Yes, approve'),
    el('button', { type: 'button', class: 'secondary', id: 'cancel-approve', on: { click: () => { confirm.hidden = true; } } }, 'Cancel'));
  return el('form', { class: 'decision-bar', id: 'decision', 'aria-label': 'decision', on: { submit: (ev) => ev.preventDefault() } },
    el('div', { class: 'decision-fields' },
      el('div', {}, el('label', { for: 'comment' }, 'Comment (required to reject or send back)'), comment),
      el('div', {}, el('label', { for: 'justification' }, failed ? 'Justification (at least 20 characters to approve despite failed checks)' : 'Justification (optional)'), justification)),
    el('p', { id: 'decision-help', class: 'muted' }, stateText(x)),
    el('div', { class: 'actions' },
      el('button', { type: 'button', id: 'approve', on: { click: () => { confirm.hidden = false; document.getElementById('confirm-approve').focus(); } } }, 'Approve…'),
      el('button', { type: 'button', id: 'request-changes', class: 'secondary', on: { click: needComment('request-changes') } }, 'Request changes'),
      el('button', { type: 'button', id: 'reject', class: 'danger', on: { click: needComment('reject') } }, 'Reject'),
      confirm),
    msg);
}

async function renderImages() {
  const list = await api('GET', '/v1/images');
  const out = el('div', {});
  const rows = list.map((im) => {
    const cells = [im.name, el('code', {}, short(im.digest, 23)), im.org, fmtBytes(im.size), badge('status', im.status),
      [fmtTime(im.imported_at), im.imported_by ? el('br') : '', person(im.imported_by, im.imported_by_name)]];
    if (im.status === 'pending') {
      const act = (verb) => async () => {
        try { await api('POST', '/v1/images/' + enc(im.digest) + '/' + verb, { comment: '' }); route(); } catch (err) { out.prepend(refused(err)); }
      };
      cells.push(el('span', { class: 'actions' }, el('button', { type: 'button', class: 'approve-image', on: { click: act('approve') } }, 'Approve'),
        el('button', { type: 'button', class: 'danger reject-image', on: { click: act('reject') } }, 'Reject')));
    } else {
      cells.push(person(im.decided_by, im.decided_by_name));
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

// chargeCell is a usage row's charge and, when some of its use was priced
// as public-interest (an application the authority approved as such, 001
// art. 23), that part and the applications it rests on (issue 20 item 3).
function chargeCell(r, currency) {
  const cell = el('span', { class: 'charge' }, (r.charge.total || 0).toFixed(2) + ' ' + (currency || ''));
  const pi = (r.classes || []).find((c) => c.class === 'public-interest');
  if (pi && pi.jobs + pi.exports_requested > 0) {
    cell.append(el('div', { class: 'muted public-interest-charge', title: pi.why || '' },
      'public interest: ' + (pi.charge.total || 0).toFixed(2) + ' for ' + pi.jobs + ' job(s) under ' +
      (pi.applications || []).map((b) => b.application).join(', ')));
  }
  return cell;
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
      // Issue 20: the authority sees the purpose class (public interest is
      // priced as such once approved) and the conditions of conditional data.
      const purpose = el('div', { class: 'purpose' }, short(a.purpose, 60));
      if (a.public_interest) purpose.append(el('div', { class: 'public-interest' }, 'public interest'));
      if (a.conditions) purpose.append(el('div', { class: 'conditions' }, 'conditions: ' + a.conditions));
      return { id: a.id, cells: [a.id, a.org, (a.datasets || []).map((d) => d.name || d.dataset || '').join(', '), purpose, a.scenario,
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
  return table(['job', 'organisation', 'owner', 'image', 'state', 'outcome', 'CPU s', 'peak memory', 'wall s', 'outputs', 'created'],
    list.map((j) => {
      const u = j.usage || {};
      const le = upTo(j);
      return { id: j.id, cells: [el('a', { href: '#job/' + enc(j.id), class: 'job-link' }, j.id), j.org, person(j.owner, j.owner_name), el('code', {}, short(j.image, 19)), badge('state', j.state), ended(j),
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

// meter draws use against its limit on a track (a native meter element,
// which has one and which screen readers read), with the figures in text.
function meter(label, used, limit, fmt, prefix = '') {
  const pct = limit > 0 ? Math.min(100, (used / limit) * 100) : null;
  return [el('dt', {}, label), el('dd', { class: 'meter' },
    limit > 0 ? el('meter', { min: 0, max: limit, value: Math.min(used, limit), low: limit * 0.7, high: limit * 0.9, optimum: 0, 'aria-label': label }) : '',
    ' ' + prefix + fmt(used) + (limit > 0 ? ' of ' + fmt(limit) + ' (' + (prefix ? '≤' : '') + pct.toFixed(0) + '%)' : ' (no limit)'))];
}

// jobChart draws each resource as a share of its limit (Chart.js).
function jobChart(u, l) {
  const rows = [['CPU', u.cpu_seconds || 0, (l.cpus || 0) * (l.timeout_seconds || 0)], ['memory', u.peak_memory_bytes || 0, l.memory_bytes || 0],
    ['wall time', u.wall_seconds || 0, l.timeout_seconds || 0], ['outputs', u.output_bytes || 0, l.out_bytes || 0]].filter(([, , lim]) => lim > 0);
  if (!rows.length) return '';
  const pct = rows.map(([, v, lim]) => Math.min(100, Math.round((v / lim) * 1000) / 10));
  return plot('job-chart', { type: 'bar', data: { labels: rows.map(([n]) => n), datasets: [
    { label: '% of the limit used', data: pct, backgroundColor: pct.map((v) => v >= 90 ? '#a8261f' : v >= 70 ? '#8a5a00' : '#1f5fa8') }] },
  options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { min: 0, max: 100, title: { display: true, text: '% of the limit' } } } } },
  'Share of each limit used: ' + rows.map(([n], i) => n + ' ' + pct[i] + '%').join(', '), 60 + 32 * rows.length);
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
      el('dt', {}, 'organisation'), el('dd', {}, j.org + ' · ', person(j.owner, j.owner_name)),
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
      le ? el('p', { class: 'muted' }, '≤: rounded up to a power of two; exact figures are for officers of another organisation and the bureau.') : '',
      jobChart(u, l)),
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

// renderUsage is the dashboard of use (issue 21): a range picker, use over
// time (CPU-hours a day, by organisation for the bureau), and use by
// organisation, person, dataset and service, drawn with Chart.js beside the
// tables that say the same in figures. Operators see their own
// organisation's (the server's default without org).
async function renderUsage(range) {
  const bureau = state.who.person.roles.includes('bureau');
  const today = new Date().toISOString().slice(0, 10);
  const ago = (d) => new Date(Date.now() - d * 86400000).toISOString().slice(0, 10);
  let [from, to] = String(range || '').split('..');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(from || '')) from = ago(90);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(to || '')) to = today;
  const span = '&from=' + enc(from) + '&to=' + enc(to);
  const get = (by, org) => api('GET', '/v1/usage?by=' + by + span + (org ? '&org=' + enc(org) : ''));
  const [byOrg, byDay, byPerson, byDataset] = await Promise.all([get('org'), get('day'), get('person'), get('dataset')]);
  const fromIn = el('input', { type: 'date', id: 'usage-from', value: from, max: today });
  const toIn = el('input', { type: 'date', id: 'usage-to', value: to, max: today });
  const go = (f, t) => { location.hash = '#usage/' + enc(f + '..' + t); };
  const preset = (label, days) => el('button', { type: 'button', class: 'secondary', on: { click: () => go(ago(days), today) } }, label);
  const out = el('div', { class: 'dashboard' },
    el('form', { class: 'card filters', id: 'usage-range', on: { submit: (ev) => { ev.preventDefault(); go(fromIn.value, toIn.value); } } },
      el('label', { for: 'usage-from' }, 'from'), fromIn, el('label', { for: 'usage-to' }, 'to'), toIn,
      el('button', { type: 'submit', id: 'usage-go' }, 'Show'), preset('30 days', 30), preset('90 days', 90), preset('1 year', 365),
      el('span', { class: 'muted' }, (bureau ? 'every organisation' : 'organisation ' + state.who.org.name) + ', ' + from + ' to ' + to + ' (UTC, inclusive)')));
  // Use over time: one line per organisation (the bureau; the five largest),
  // or the caller's own.
  const days = [];
  for (let d = new Date(from + 'T00:00:00Z'); d <= new Date(to + 'T00:00:00Z') && days.length < 1100; d = new Date(d.getTime() + 86400000)) days.push(d.toISOString().slice(0, 10));
  const series = [];
  if (bureau) {
    const top = byOrg.rows.slice().sort((p, q) => q.cpu_hours - p.cpu_hours).slice(0, 5);
    const per = await Promise.all(top.map((r) => get('day', r.key)));
    top.forEach((r, i) => series.push({ label: r.key, rows: per[i].rows }));
  } else {
    series.push({ label: byDay.org || state.who.org.name, rows: byDay.rows });
  }
  const perDay = (rows) => { const m = new Map(rows.map((r) => [r.key, r.cpu_hours])); return days.map((d) => m.get(d) || 0); };
  out.append(el('section', { class: 'card', 'aria-labelledby': 'over-time-h' }, el('h3', { id: 'over-time-h' }, 'CPU-hours a day'),
    plot('usage-time', { type: 'line', data: { labels: days, datasets: series.map((x, i) => ({ label: x.label, data: perDay(x.rows), borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length], pointRadius: 0, tension: 0.2 })) },
      options: { interaction: { mode: 'index', intersect: false }, scales: { y: { beginAtZero: true, title: { display: true, text: 'CPU-hours' } } } } },
    'CPU-hours a day from ' + from + ' to ' + to + ', in all ' + byDay.total.cpu_hours.toFixed(3))));
  const view = (rep, id, label) => {
    const rows = rep.rows.slice().sort((p, q) => q.cpu_hours - p.cpu_hours);
    const top = rows.slice(0, 12);
    return el('section', { class: 'card', 'aria-labelledby': id + '-h' }, el('h3', { id: id + '-h' }, 'By ' + label),
      top.length ? plot(id + '-chart', { type: 'bar', data: { labels: top.map((r) => r.name || r.key), datasets: [
        { label: 'CPU-hours', data: top.map((r) => r.cpu_hours), backgroundColor: palette[0], maxBarThickness: 28 }] },
      options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, title: { display: true, text: 'CPU-hours (' + from + ' to ' + to + ')' } } } } },
      'CPU-hours by ' + label + ': ' + top.map((r) => (r.name || r.key) + ' ' + r.cpu_hours.toFixed(3)).join(', ')) : el('p', { class: 'muted' }, 'No use in this range.'),
      table([label, 'jobs', 'CPU-hours', 'peak memory', 'data read', 'outputs', 'exports (approved / rejected)', 'charge'],
        rows.map((r) => ({ id: r.key, cells: [r.name ? person(r.key, r.name) : r.key, String(r.jobs), r.cpu_hours.toFixed(3), fmtBytes(r.peak_memory_bytes),
          fmtBytes(r.input_bytes), fmtBytes(r.output_bytes), r.exports_requested + ' (' + r.exports_approved + ' / ' + r.exports_rejected + ')',
          chargeCell(r, rep.currency)] })), id));
  };
  out.append(el('div', { class: 'grid2' }, view(byOrg, 'usage-org', 'organisation'), view(byPerson, 'usage-person', 'person')),
    el('div', { class: 'grid2' }, view(byDataset, 'usage-dataset', 'dataset'), bureau ? await serviceUse(from, to) : ''));
  if (bureau) {
    // Incidents: the latest refusals and failures on the audit log.
    const recent = await api('GET', '/v1/audit?order=newest&limit=500');
    const bad = recent.filter((e) => e.outcome === 'denied' || e.outcome === 'failed');
    out.append(el('section', { class: 'card' }, el('h3', {}, 'Refused or failed (latest 500 entries)'), bad.length
      ? table(['#', 'time', 'actor', 'org', 'action', 'objects', 'outcome', 'reason'],
        bad.slice(0, 50).map((e) => ({ id: String(e.index), cells: [String(e.index), fmtTime(e.time), person(e.actor, e.actor_name), e.org || '', e.action,
          short((e.objects || []).join(' '), 80), badge('outcome', e.outcome), e.reason || ''] })), 'incidents')
      : el('p', { id: 'incidents' }, 'No refusal or failure.')));
  }
  return out;
}

// serviceUse is the calls of each data service by day in the range (issue
// 19's services), for those who may read it; others see why not.
async function serviceUse(from, to) {
  const box = el('section', { class: 'card', 'aria-labelledby': 'usage-service-h' }, el('h3', { id: 'usage-service-h' }, 'By service'));
  try {
    const list = await api('GET', '/v1/services');
    const per = await Promise.all((list || []).slice(0, 8).map((sv) => api('GET', '/v1/services/' + enc(sv.name) + '/usage').catch(() => [])));
    const rows = [];
    (list || []).slice(0, 8).forEach((sv, i) => {
      const u = (per[i] || []).filter((r) => r.day >= from && r.day <= to);
      rows.push({ name: sv.name, calls: u.reduce((n, r) => n + r.calls, 0), matches: u.reduce((n, r) => n + r.matches, 0), refused: u.reduce((n, r) => n + r.refused, 0) });
    });
    if (!rows.length) { box.append(el('p', { class: 'muted', id: 'usage-service' }, 'No data service.')); return box; }
    box.append(plot('usage-service-chart', { type: 'bar', data: { labels: rows.map((r) => r.name), datasets: [
      { label: 'calls', data: rows.map((r) => r.calls), backgroundColor: palette[0] }, { label: 'matches', data: rows.map((r) => r.matches), backgroundColor: palette[2] },
      { label: 'refused', data: rows.map((r) => r.refused), backgroundColor: palette[4] }] }, options: { scales: { y: { beginAtZero: true } } } },
    'Calls by service: ' + rows.map((r) => r.name + ' ' + r.calls).join(', ')),
    table(['service', 'calls', 'matches', 'refused'], rows.map((r) => ({ id: r.name, cells: [r.name, String(r.calls), String(r.matches), String(r.refused)] })), 'usage-service'));
  } catch (err) {
    if (!(err instanceof APIError)) throw err;
    box.append(el('p', { class: 'muted', id: 'usage-service' }, 'Service use is not shown to your role.'));
  }
  return box;
}

// auditActions are the actions offered in the audit search's list; any
// other action (or a prefix ending in ".") may be typed.
const auditActions = ['console.signin', 'console.signout', 'dataset.', 'dataset.import', 'dataset.destroy', 'application.', 'application.approve',
  'application.revoke', 'job.', 'job.run', 'job.halt', 'export.', 'export.request', 'export.approve', 'export.reject', 'export.download',
  'image.', 'image.approve', 'person.', 'person.add', 'org.', 'incident.', 'service.', 'audit.list', 'audit.export', 'usage.report'];

// apiPage is api for a list that pages: it answers the list and the next
// page's cursor (the X-Next-Cursor header, issue 21).
async function apiPage(path) {
  const res = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new APIError(res.status, data);
  return { list: data || [], next: res.headers.get('X-Next-Cursor') || '' };
}

async function renderAudit() {
  const pageSize = 50;
  const inputs = {
    actor: el('input', { id: 'audit-actor', name: 'actor', placeholder: 'name or person id', spellcheck: 'false' }),
    org: el('input', { id: 'audit-org', name: 'org', placeholder: 'organisation' }),
    action: el('input', { id: 'audit-action', name: 'action', list: 'audit-actions', placeholder: 'any action' }),
    object: el('input', { id: 'audit-object', name: 'object', placeholder: 'dataset:penalties' }),
    since: el('input', { id: 'audit-since', name: 'since', type: 'date' }),
    until: el('input', { id: 'audit-until', name: 'until', type: 'date' }),
  };
  const results = el('div', { id: 'audit-results' });
  const cursors = ['']; // cursors[i] starts page i
  let pageNo = 0;
  const query = () => {
    const q = new URLSearchParams({ limit: String(pageSize), order: 'newest' });
    for (const f of ['actor', 'org', 'action', 'object']) if (inputs[f].value.trim()) q.set(f, inputs[f].value.trim());
    if (inputs.since.value) q.set('since', inputs.since.value + 'T00:00:00Z');
    if (inputs.until.value) q.set('until', new Date(Date.parse(inputs.until.value + 'T00:00:00Z') + 86400000).toISOString().replace('.000', ''));
    if (cursors[pageNo]) q.set('cursor', cursors[pageNo]);
    return q;
  };
  const show = async () => {
    try {
      const { list, next } = await apiPage('/v1/audit?' + query().toString());
      cursors[pageNo + 1] = next;
      const pager = el('nav', { class: 'pager', 'aria-label': 'audit pages' },
        el('button', { type: 'button', class: 'secondary', id: 'audit-newer', disabled: pageNo === 0, on: { click: () => { pageNo--; show(); } } }, '← Newer'),
        el('span', { id: 'audit-page' }, 'page ' + (pageNo + 1) + ' · ' + list.length + ' entries' + (next ? '' : ' · the last page')),
        el('button', { type: 'button', class: 'secondary', id: 'audit-older', disabled: !next, on: { click: () => { pageNo++; show(); } } }, 'Older →'));
      results.replaceChildren(pager,
        table(['#', 'time', 'actor', 'org', 'action', 'objects', 'outcome', 'reason'],
          list.map((e) => ({ id: String(e.index), cells: [String(e.index), fmtTime(e.time), person(e.actor, e.actor_name), e.org || '', e.action,
            el('span', { class: 'objects' }, (e.objects || []).join(' ')), badge('outcome', e.outcome), e.reason || ''] })), 'audit'));
      say(list.length + ' audit entries, page ' + (pageNo + 1));
    } catch (err) {
      if (!(err instanceof APIError)) throw err;
      results.replaceChildren(refused(err));
    }
  };
  const search = (ev) => { if (ev) ev.preventDefault(); cursors.length = 1; pageNo = 0; show(); };
  const field = (f, label) => el('div', { class: 'field' }, el('label', { for: 'audit-' + f }, label), inputs[f]);
  const form = el('form', { class: 'card filters', id: 'audit-search', on: { submit: search } },
    field('actor', 'actor'), field('org', 'organisation'), field('action', 'action'), field('object', 'object'),
    field('since', 'from (UTC)'), field('until', 'to (UTC, inclusive)'),
    el('datalist', { id: 'audit-actions' }, auditActions.map((a) => el('option', { value: a }))),
    el('div', { class: 'field' }, el('button', { type: 'submit', id: 'audit-go' }, 'Search')));
  await show();
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
