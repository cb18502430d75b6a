// The operator dashboard: plain ES module, no build step and no third-party code. Every number comes from the
// gateway's /api/v1 routes called with the operator's API key; live updates arrive as server-sent events.
const keyName = 'agenticflow.apiKey';
const colors = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#ca8a04'];
let streamAbort = null;
let lastRefresh = 0;

const $ = (selector) => document.querySelector(selector);
const esc = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const fmt = (n, digits = 2) => (n === null || n === undefined || Number.isNaN(n)) ? '–' : Number(n).toFixed(digits);
const pill = (status) => `<span class="pill ${esc(status)}">${esc(status)}</span>`;

async function api(path) {
  const response = await fetch(path, { headers: { 'X-Api-Key': sessionStorage.getItem(keyName) ?? '', Accept: 'application/json' } });
  let data = null;
  try { data = await response.json(); } catch { /* an empty or non-JSON answer */ }
  return { status: response.status, data };
}

function fill(id, html) { $(`#${id} .body`).innerHTML = html; }

/** A section whose service is missing answers 404 (no route) or 503/502 (route, no app): "not deployed". */
function notDeployed(status) { return status === 404 || status === 502 || status === 503; }

function table(headers, rows) {
  if (rows.length === 0) return '<p class="muted">none yet</p>';
  return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

async function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem(keyName, $('#apikey').value.trim());
  const probe = await api('/api/v1/health');
  if (probe.status === 401 || probe.status === 403) {
    sessionStorage.removeItem(keyName);
    $('#login-error').textContent = probe.status === 401 ? 'That key is not known.' : 'That key may not read the platform.';
    return;
  }
  show();
}

function show() {
  $('#login').hidden = true;
  $('#board').hidden = false;
  $('#signout').hidden = false;
  refreshAll();
  stream();
}

function signOut() {
  sessionStorage.removeItem(keyName);
  streamAbort?.abort();
  location.reload();
}

async function refreshAll() {
  lastRefresh = Date.now();
  await Promise.allSettled([health(), agentsAndQueues(), teams(), workflows(), neural(), spend(), genai(), alerts(), traces(), charts()]);
}

async function health(report) {
  if (!report) {
    const r = await api('/api/v1/health');
    if (notDeployed(r.status)) { fill('health', '<p class="not-deployed">monitoring: not deployed</p>'); return; }
    report = r.data;
  }
  if (!report) return;
  const overall = $('#overall');
  overall.textContent = report.status;
  overall.className = `pill ${report.status}`;
  const rows = [...report.services, ...report.dependencies].map((c) => [esc(c.name), pill(c.status), c.sidecar ? pill(c.sidecar) : '', `${fmt(c.durationMs, 1)} ms`, esc(c.detail)]);
  fill('health', table(['check', 'status', 'sidecar', 'took', 'detail'], rows));
}

async function agentsAndQueues() {
  const r = await api('/api/v1/agents?limit=100');
  if (notDeployed(r.status)) { fill('agents', '<p class="not-deployed">agents: not deployed</p>'); fill('queues', '<p class="not-deployed">not deployed</p>'); return; }
  const agents = r.data?.items ?? [];
  fill('agents', table(['agent', 'kind', 'status', 'health', 'load', 'tasks'], agents.map((a) => [
    `${esc(a.name || a.id)} <span class="muted">${esc(a.id)}</span>`, esc(a.kind), pill(a.status), pill(a.health), fmt(a.load), `${a.activeTasks}/${a.maxConcurrentTasks}`])));
  const stats = await Promise.all(agents.slice(0, 50).map((a) => api(`/api/v1/messages/queue/${encodeURIComponent(a.id)}/stats`)));
  if (stats.some((s) => notDeployed(s.status)) && stats.every((s) => s.status !== 200)) { fill('queues', '<p class="not-deployed">messaging: not deployed</p>'); return; }
  const rows = stats.filter((s) => s.status === 200).map((s) => s.data)
    .map((q) => [esc(q.agentId), String(q.depth), String(q.leased), q.deadLetters > 0 ? `<b class="error">${q.deadLetters}</b>` : '0']);
  fill('queues', table(['agent', 'depth', 'leased', 'dead letters'], rows));
}

async function teams() {
  const r = await api('/api/v1/teams');
  if (notDeployed(r.status)) { fill('teams', '<p class="not-deployed">coordination: not deployed</p>'); return; }
  const list = r.data?.items ?? [];
  const tasks = await api('/api/v1/metrics?name=http.server.request.duration&service=coordination&agg=count&from=-15m&step=15m&tag=http.request.method%3DPOST&tag=http.route%3D%2Fapi%2Fv1%2Fteams%2F%7BteamId%7D%2Ftasks%2F');
  const submitted = tasks.data?.series?.flatMap((s) => s.points).reduce((sum, p) => sum + p.value, 0) ?? 0;
  fill('teams', `<p>Tasks submitted in the last 15 min: <b id="task-throughput">${fmt(submitted, 0)}</b></p>` +
    table(['team', 'strategy', 'status', 'members'], list.map((t) => [esc(t.name), esc(t.strategy), pill(t.status), String(t.members?.length ?? 0)])));
}

async function workflows() {
  const r = await api('/api/v1/workflows?limit=10');
  if (notDeployed(r.status)) { fill('workflows', '<p class="not-deployed">workflows: not deployed</p>'); return; }
  // The newest runs of the first definitions, each with its steps' states (read for the five newest).
  const definitions = (r.data?.items ?? []).slice(0, 10);
  const views = await Promise.all(definitions.map((d) => api(`/api/v1/workflows/${encodeURIComponent(d.id)}`)));
  const runs = views.flatMap((v) => (v.data?.recentRuns ?? []).map((run) => ({ ...run, name: v.data.name })))
    .sort((a, b) => String(b.startedAt).localeCompare(String(a.startedAt))).slice(0, 10);
  const details = await Promise.all(runs.slice(0, 5).map((run) => api(`/api/v1/workflows/${encodeURIComponent(run.runId)}/status`)));
  fill('workflows', table(['workflow', 'run', 'status', 'trigger', 'steps'], runs.map((run, i) => [
    esc(run.name), esc(run.runId), pill(run.status), esc(run.trigger),
    esc((details[i]?.data?.steps ?? []).map((step) => `${step.id}:${step.status}`).join(', '))])));
}

async function neural() {
  const r = await api('/api/v1/models');
  if (notDeployed(r.status)) { fill('neural', '<p class="not-deployed">neural: not deployed</p>'); return; }
  const models = r.data?.items ?? r.data ?? [];
  fill('neural', table(['model', 'task', 'versions', 'active', 'canary'], (Array.isArray(models) ? models : []).slice(0, 20).map((m) => [
    esc(m.id), esc(m.task), String(m.versions ?? 0),
    m.traffic?.active == null ? 'none' : `v${esc(String(m.traffic.active))} (${esc(String(m.traffic.activePercent))}%)`,
    m.traffic?.canary == null ? '' : `v${esc(String(m.traffic.canary))} (${esc(String(m.traffic.canaryPercent))}%)`])));
}

async function spend() {
  const groups = await Promise.all(['provider', 'model'].map((g) => api(`/api/v1/providers/costs?groupBy=${g}`)));
  if (notDeployed(groups[0].status)) { fill('spend', '<p class="not-deployed">providers: not deployed</p>'); return; }
  const [byProvider, byModel] = groups.map((g) => g.data);
  const rows = (report, kind) => (report?.groups ?? []).map((g) => [kind, esc(g.key), String(g.calls), `$${fmt(g.costUsd, 4)}`]);
  fill('spend', `<p>Total: <b>$${fmt(byProvider?.totalUsd ?? 0, 4)}</b> in ${byProvider?.calls ?? 0} calls</p>` +
    table(['by', 'name', 'calls', 'cost'], [...rows(byProvider, 'provider'), ...rows(byModel, 'model')]));
}

/**
 * Tokens and latency of the LLM calls the providers service made in the last hour, per agent and per model: its
 * gen_ai.client.token.usage and gen_ai.client.operation.duration histograms, summed and ranked by the metrics API's
 * groupBy (one step over the hour, so each group has one value).
 */
async function genaiBy(key) {
  const base = `/api/v1/metrics?service=providers&from=-1h&step=1h&groupBy=${encodeURIComponent(key)}`;
  const duration = `${base}&name=gen_ai.client.operation.duration&agg=`;
  const [tokens, calls, p50, p99] = await Promise.all([
    api(`${base},gen_ai.token.type&name=gen_ai.client.token.usage&agg=sum`), api(`${duration}count`), api(`${duration}p50`), api(`${duration}p99`)]);
  if (tokens.status !== 200) return { status: tokens.status, rows: [] };
  const rows = new Map();
  const row = (labels) => {
    const name = labels?.[key] ?? '';
    if (!rows.has(name)) rows.set(name, { name, input: 0, output: 0, calls: 0, p50: null, p99: null });
    return rows.get(name);
  };
  const total = (series) => series.points.reduce((sum, p) => sum + p.value, 0);
  for (const s of tokens.data?.series ?? []) {
    const type = s.labels?.['gen_ai.token.type'];
    if (type === 'input' || type === 'output') row(s.labels)[type] += total(s);
  }
  for (const s of calls.data?.series ?? []) row(s.labels).calls += total(s);
  for (const s of p50.data?.series ?? []) row(s.labels).p50 = s.points.at(-1)?.value ?? null;
  for (const s of p99.data?.series ?? []) row(s.labels).p99 = s.points.at(-1)?.value ?? null;
  return { status: 200, rows: [...rows.values()].sort((a, b) => (b.input + b.output) - (a.input + a.output) || a.name.localeCompare(b.name)) };
}

async function genai() {
  const [byAgent, byModel] = await Promise.all([genaiBy('agenticflow.agent.id'), genaiBy('gen_ai.request.model')]);
  if (notDeployed(byAgent.status)) { fill('genai', '<p class="not-deployed">monitoring: not deployed</p>'); return; }
  const ms = (seconds) => (seconds === null ? '–' : `${fmt(seconds * 1000, 1)} ms`);
  const view = (title, id, rows) => `<div><h3>${esc(title)}</h3><div id="${id}">${table([title.replace('per ', ''), 'input tokens', 'output tokens', 'calls', 'p50', 'p99'],
    rows.map((r) => [esc(r.name || '(none)'), fmt(r.input, 0), fmt(r.output, 0), fmt(r.calls, 0), ms(r.p50), ms(r.p99)]))}</div></div>`;
  fill('genai', `<div class="genai">${view('per agent', 'genai-agents', byAgent.rows)}${view('per model', 'genai-models', byModel.rows)}</div>`);
}

async function alerts() {
  const [rules, events] = await Promise.all([api('/api/v1/alerts'), api('/api/v1/alerts/events?limit=10')]);
  if (notDeployed(rules.status)) { fill('alerts', '<p class="not-deployed">monitoring: not deployed</p>'); return; }
  fill('alerts', table(['rule', 'metric', 'condition', 'value', 'state', 'severity'], (rules.data ?? []).map((v) => [
    esc(v.rule.name), esc(v.rule.metric), esc(`${v.rule.aggregation} ${v.rule.comparator} ${v.rule.threshold} over ${v.rule.windowSeconds}s for ${v.rule.forSeconds}s`),
    fmt(v.lastValue), pill(v.rule.state), esc(v.rule.severity)])) +
    '<h3>Latest transitions</h3>' + table(['at', 'rule', 'event', 'value'], (events.data ?? []).map((e) => [
      esc(new Date(e.at).toLocaleTimeString()), esc(e.ruleName), pill(e.kind === 'firing' ? 'firing' : 'ok'), fmt(e.value)])));
}

async function traces() {
  const service = $('#trace-service').value.trim();
  const r = await api(`/api/v1/traces?limit=15${service ? `&service=${encodeURIComponent(service)}` : ''}`);
  if (notDeployed(r.status)) { fill('traces', '<p class="not-deployed">monitoring: not deployed</p>'); return; }
  // Traces name every agent's calls: admins, operators and viewers read them, an agent's key does not.
  if (r.status === 403) { fill('traces', '<p class="not-deployed">traces: not readable with this key (admins, operators, viewers)</p>'); return; }
  if (!Array.isArray(r.data)) { fill('traces', `<p class="error">traces: ${r.status}</p>`); return; }
  fill('traces', table(['trace', 'root', 'services', 'spans', 'duration', 'error'], (r.data ?? []).map((t) => [
    `<a class="trace" data-trace="${esc(t.traceId)}">${esc(t.traceId.slice(0, 12))}…</a>`, esc(`${t.rootService}: ${t.rootName}`),
    esc(t.services.join(' → ')), String(t.spans), `${fmt(t.durationMs, 1)} ms`, t.error ? '<b class="error">yes</b>' : ''])));
  document.querySelectorAll('a.trace').forEach((a) => a.addEventListener('click', () => openTrace(a.dataset.trace)));
}

async function openTrace(traceId) {
  const r = await api(`/api/v1/traces/${encodeURIComponent(traceId)}`);
  if (r.status !== 200) return;
  const view = r.data;
  $('#trace').hidden = false;
  $('#trace-id').textContent = traceId;
  const rows = [];
  const walk = (node, depth) => { rows.push({ node, depth }); node.children.forEach((c) => walk(c, depth + 1)); };
  view.roots.forEach((root) => walk(root, 0));
  const width = 900, label = 330, row = 20, total = Math.max(view.durationMs, 0.001);
  const bars = rows.map(({ node, depth }, i) => {
    const x = label + (node.offsetMs / total) * (width - label - 60);
    const w = Math.max(2, (node.durationMs / total) * (width - label - 60));
    return `<g class="span-row"><text x="${4 + depth * 12}" y="${i * row + 14}">${esc(`${node.service}: ${node.name}`)}</text>` +
      `<rect class="span-bar${node.error ? ' error' : ''}" x="${x}" y="${i * row + 4}" width="${w}" height="12"><title>${esc(node.kind)} ${fmt(node.durationMs, 2)} ms</title></rect>` +
      `<text x="${x + w + 4}" y="${i * row + 14}">${fmt(node.durationMs, 1)} ms</text></g>`;
  }).join('');
  fill('trace', `<p>${view.spanCount} spans across ${esc(view.services.join(', '))}, ${fmt(view.durationMs, 1)} ms</p>` +
    `<svg id="span-tree" width="100%" viewBox="0 0 ${width} ${rows.length * row + 8}" role="img" aria-label="span tree">${bars}</svg>`);
  $('#trace').scrollIntoView({ behavior: 'instant', block: 'start' });
}

function lineChart(title, series, unit) {
  const width = 420, height = 150, pad = 34;
  const points = series.flatMap((s) => s.points);
  if (points.length === 0) return `<div><h3>${esc(title)}</h3><p class="muted">no data yet</p></div>`;
  const times = points.map((p) => Date.parse(p.time));
  const t0 = Math.min(...times), t1 = Math.max(...times, t0 + 1);
  const max = Math.max(...points.map((p) => p.value), 1e-9);
  const x = (t) => pad + ((t - t0) / (t1 - t0)) * (width - pad - 8);
  const y = (v) => height - 18 - (v / max) * (height - 30);
  const lines = series.map((s, i) => `<polyline fill="none" stroke="${colors[i % colors.length]}" stroke-width="1.6" points="${s.points.map((p) => `${x(Date.parse(p.time)).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ')}"/>`).join('');
  const legend = series.map((s, i) => `<span><svg width="12" height="4"><rect width="12" height="4" fill="${colors[i % colors.length]}"/></svg>${esc(s.service)}</span>`).join('');
  return `<div><h3>${esc(title)}</h3><svg viewBox="0 0 ${width} ${height}" width="100%">` +
    `<line x1="${pad}" y1="${height - 18}" x2="${width}" y2="${height - 18}" stroke="#d1d5db"/><text x="0" y="12">${fmt(max, max < 10 ? 3 : 0)} ${esc(unit)}</text>` +
    `<text x="0" y="${height - 20}">0</text>${lines}</svg><div class="legend">${legend}</div></div>`;
}

async function charts() {
  const base = '/api/v1/metrics?name=http.server.request.duration&from=-15m&step=30s&agg=';
  const [rate, p50, p99] = await Promise.all(['rate', 'p50', 'p99'].map((agg) => api(base + agg)));
  if (notDeployed(rate.status)) { fill('charts', '<p class="not-deployed">monitoring: not deployed</p>'); return; }
  const ms = (r) => (r.data?.series ?? []).map((s) => ({ service: s.service, points: s.points.map((p) => ({ time: p.time, value: p.value * 1000 })) }));
  $('#charts .body').innerHTML = `<div class="charts">${lineChart('request rate', rate.data?.series ?? [], 'req/s')}${lineChart('p50 latency', ms(p50), 'ms')}${lineChart('p99 latency', ms(p99), 'ms')}</div>`;
}

/** Server-sent events read with fetch (EventSource cannot send the API key header); reconnects after a pause. */
async function stream() {
  streamAbort = new AbortController();
  for (;;) {
    try {
      const response = await fetch('/api/v1/monitoring/stream', { headers: { 'X-Api-Key': sessionStorage.getItem(keyName) ?? '' }, signal: streamAbort.signal });
      if (!response.ok) throw new Error(`stream answered ${response.status}`);
      $('#live').textContent = 'live';
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          if (data) onSnapshot(JSON.parse(data));
        }
      }
    } catch (error) {
      if (streamAbort.signal.aborted) return;
      $('#live').textContent = 'reconnecting…';
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

function onSnapshot(snapshot) {
  $('#live').textContent = `live · ${new Date(snapshot.at).toLocaleTimeString()} · ${snapshot.firingAlerts} firing · ${snapshot.tracesKept} traces`;
  health(snapshot.health);
  if (Date.now() - lastRefresh > 5000) refreshAll();
}

$('#login').addEventListener('submit', signIn);
$('#trace-open').addEventListener('submit', (event) => {
  event.preventDefault();
  const id = $('#trace-query').value.trim();
  if (id) openTrace(id); else traces();
});
$('#signout').addEventListener('click', signOut);
if (sessionStorage.getItem(keyName)) show();
