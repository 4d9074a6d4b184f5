// Services (issue 19), loaded after app.js and using its helpers: officers
// review services, custodians and operators create them, consumers
// subscribe and manage their systems' credentials and usage, the authority
// approves subscriptions, the bureau sees calls per service and consumer.
// Every action is a request to the API; the server decides.
'use strict';

pages.services = { title: 'Services', roles: ['officer', 'custodian', 'operator', 'consumer', 'authority', 'bureau'], render: renderServices };

async function renderServices() {
  const roles = state.who.person.roles;
  const out = el('div', {});
  const act = async (method, path, body) => {
    try { const r = await api(method, path, body); route(); return r; } catch (err) {
      if (!(err instanceof APIError)) throw err;
      out.prepend(refused(err));
    }
  };
  if (roles.includes('custodian') || roles.includes('operator')) {
    const f = (id, ph) => el('input', { id: 'svc-' + id, placeholder: ph });
    const name = f('name', 'name'), dataset = f('dataset', 'dataset'), key = f('key', 'key column (kept or keyed pseudonym)'),
      match = f('match', 'match columns, comma-separated'), scenario = f('scenario', 'scenario'), rate = f('rate', 'rate, e.g. 600/m');
    out.append(el('form', { class: 'card', id: 'service-create', on: { submit: (ev) => {
      ev.preventDefault();
      act('POST', '/v1/services', { name: name.value.trim(), mode: 'verify', dataset: dataset.value.trim(), key: key.value.trim(),
        match: match.value.trim() ? match.value.split(',').map((s) => s.trim()) : [], scenario: scenario.value, rate: rate.value.trim() });
    } } }, el('strong', {}, 'New verify service '), name, dataset, key, match, scenario, rate, el('button', { type: 'submit' }, 'Create')));
  }
  const list = await api('GET', '/v1/services');
  out.append(table(['service', 'dataset or export', 'key', 'match', 'scenario', 'organisation', 'state', 'approvals', 'running', 'request', ''],
    list.map((s) => {
      let actions = '';
      // An officer who has approved already sees no buttons (the server
      // would refuse a second decision by the same person).
      if (roles.includes('officer') && s.state === 'pending' && s.org !== state.who.org.name && !(s.approvers || []).includes(state.who.person.id)) {
        actions = el('span', { class: 'actions' },
          el('button', { type: 'button', class: 'approve-service', on: { click: () => act('POST', '/v1/services/' + enc(s.name) + '/approve', {}) } }, 'Approve'),
          el('button', { type: 'button', class: 'danger', on: { click: () => act('POST', '/v1/services/' + enc(s.name) + '/reject', {}) } }, 'Reject'));
      } else if (roles.includes('consumer') && s.state === 'approved') {
        const until = el('input', { type: 'date', class: 'until' });
        // A claim of public-interest use (001 art. 23): the authority sees it
        // and, by approving, makes the calls public-interest use.
        const pub = el('input', { type: 'checkbox', class: 'public-interest' });
        actions = el('span', { class: 'actions' }, until, el('label', {}, pub, ' public interest'), el('button', { type: 'button', class: 'subscribe',
          on: { click: () => act('POST', '/v1/services/' + enc(s.name) + '/subscriptions', { scenario: s.scenario, until: until.value, public_interest: pub.checked }) } }, 'Subscribe'));
      }
      // A ready-to-use request, generated from the definition (issue 19 item 5);
      // a client certificate (curl --cert, --key) does instead of the token on the TLS listener.
      const claims = (s.match || []).map((m) => '"' + m + '": "…"').join(', ');
      const base = 'curl -s -H "Authorization: Bearer $CREDENTIAL" ';
      let req = base + '-d \'{"key": "…"' + (claims ? ', "claims": {' + claims + '}' : '') + '}\' ' + location.origin + '/v1/services/' + s.name + '/verify';
      if (s.mode === 'query') req = base + '-d \'{"key": "…"}\' ' + location.origin + '/v1/services/' + s.name + '/query';
      if (s.mode === 'bulk') req = base + '-o bundle.tar ' + location.origin + '/v1/services/' + s.name + '/bulk/latest';
      const basis = s.export ? 'export ' + s.export + (s.file ? ' (' + s.file + ')' : '') : s.dataset + '@' + s.version;
      return { id: s.name, cells: [s.name, basis, s.key || '—', (s.match || []).join(', ') || '—', s.scenario, s.org,
        badge('state', s.state), (s.approvers || []).length + ' of ' + s.approvals_needed, s.running ? 'yes' : (s.stopped || 'no'),
        el('code', { class: 'request' }, req), actions] };
    }), 'service-list'));
  if (roles.includes('consumer') || roles.includes('authority') || roles.includes('bureau')) {
    const subs = await api('GET', '/v1/subscriptions');
    out.append(el('h3', {}, 'Subscriptions'));
    out.append(table(['subscription', 'service', 'organisation', 'scenario', 'public interest', 'until', 'state', ''], subs.map((s) => {
      let actions = '';
      if (roles.includes('authority') && s.state === 'pending') {
        actions = el('span', { class: 'actions' },
          el('button', { type: 'button', class: 'approve-subscription', on: { click: () => act('POST', '/v1/subscriptions/' + enc(s.id) + '/approve') } }, 'Approve'),
          el('button', { type: 'button', class: 'danger', on: { click: () => act('POST', '/v1/subscriptions/' + enc(s.id) + '/reject') } }, 'Reject'));
      } else if (roles.includes('consumer') && s.state === 'approved') {
        const system = el('input', { class: 'system', placeholder: 'system name' });
        const shown = el('code', { class: 'token' });
        actions = el('span', { class: 'actions' }, system, el('button', { type: 'button', class: 'issue-credential', on: { click: async () => {
          try {
            const c = await api('POST', '/v1/credentials', { subscription: s.id, system: system.value.trim() });
            shown.textContent = 'token (shown once): ' + c.token;
          } catch (err) { if (!(err instanceof APIError)) throw err; out.prepend(refused(err)); }
        } } }, 'Issue credential'), shown);
      }
      return { id: s.id, cells: [s.id, s.service, s.org, s.scenario, s.public_interest ? 'claimed' : 'no', s.until, badge('state', s.state), actions] };
    }), 'subscription-list'));
  }
  if (roles.includes('consumer')) {
    const creds = await api('GET', '/v1/credentials');
    out.append(el('h3', {}, 'Credentials'));
    out.append(table(['credential', 'service', 'system', 'kind', 'until', 'revoked', ''], creds.map((c) => ({ id: c.id,
      cells: [c.id, c.service, c.system, c.kind || 'token', c.until, c.revoked ? 'yes' : 'no', c.revoked ? '' : el('button', { type: 'button', class: 'danger revoke-credential',
        on: { click: () => act('POST', '/v1/credentials/' + enc(c.id) + '/revoke') } }, 'Revoke')] })), 'credential-list'));
  }
  if (roles.includes('consumer') || roles.includes('custodian') || roles.includes('bureau')) {
    const rows = [];
    for (const s of list) {
      try { rows.push(...await api('GET', '/v1/services/' + enc(s.name) + '/usage')); } catch (err) { if (!(err instanceof APIError)) throw err; }
    }
    out.append(el('h3', {}, 'Calls per service and consumer'));
    out.append(table(['day', 'service', 'subscription', 'consumer', 'calls', 'matches', 'misses', 'refused', 'price class', 'charge'],
      rows.map((u) => ({ id: u.service + u.subscription + u.day, cells: [u.day, u.service, u.subscription, u.org, u.calls, u.matches, u.misses, u.refused, u.class, u.charge.toFixed(2)] })),
      'service-usage'));
  }
  return out;
}
