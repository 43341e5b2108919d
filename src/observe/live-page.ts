// The admin port's live page: one self-contained HTML document (no external assets) that polls /stats and
// /metrics every 2 s and shows links, sessions, top methods by mean latency, and bytes saved.

export function renderLivePage(role: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hypha-accel ${role}</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.3em}h2{font-size:1.05em;margin-top:1.4em}
table{border-collapse:collapse}td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}#status.ok{color:#070}#status.bad{color:#a00}
</style></head><body>
<h1>hypha-accel <span id="role">${role}</span> <small id="status">loading</small></h1>
<div>sessions: <b id="sessions">-</b> · pending calls: <b id="pending">-</b> · updated <span id="updated">-</span></div>
<h2>Links</h2><table id="links"><thead><tr><th>link</th><th>peer</th><th>RTT ms</th><th>pacing window KiB</th><th>streams</th><th>capabilities</th></tr></thead><tbody></tbody></table>
<h2>Top methods by mean latency</h2><table id="methods"><thead><tr><th>method</th><th>calls</th><th>calls/s</th><th>mean ms</th></tr></thead><tbody></tbody></table>
<h2>Bytes</h2><table id="bytes"><tbody></tbody></table>
<script>
const $ = (id) => document.getElementById(id);
let previous = new Map(), previousAt = 0;
function rows(table, list) { const body = $(table).tBodies[0]; body.replaceChildren(...list.map((cells) => { const tr = document.createElement('tr'); for (const c of cells) { const td = document.createElement('td'); td.textContent = String(c); if (typeof c === 'number') td.className = 'n'; tr.append(td); } return tr; })); }
function parseRpc(text) {
  const out = new Map();
  for (const line of text.split('\\n')) {
    const m = /^hypha_accel_rpc_duration_seconds_(sum|count)\\{([^}]*)\\} (\\S+)$/.exec(line);
    if (!m) continue;
    const method = /method="([^"]*)"/.exec(m[2])?.[1] ?? '?';
    const entry = out.get(method) ?? { sum: 0, count: 0 };
    entry[m[1]] += Number(m[3]);
    out.set(method, entry);
  }
  return out;
}
async function refresh() {
  try {
    const [stats, metrics] = await Promise.all([fetch('/stats').then((r) => r.json()), fetch('/metrics').then((r) => r.text())]);
    $('status').textContent = stats.ready ? 'ready' : 'not ready: ' + stats.readyReason;
    $('status').className = stats.ready ? 'ok' : 'bad';
    $('sessions').textContent = Object.entries(stats.sessions).map(([k, v]) => k + ' ' + v).join(', ') || '0';
    $('pending').textContent = stats.pendingCalls;
    rows('links', stats.links.map((l) => [l.linkId, l.peerId, l.rttMs ?? '-', l.pacingWindowBytes ? Math.round(l.pacingWindowBytes / 1024) : '-', l.streams, l.capabilities.join(' ')]));
    const now = performance.now(), rpc = parseRpc(metrics);
    const methods = [...rpc].map(([method, e]) => {
      const before = previous.get(method)?.count ?? e.count;
      const rate = previousAt ? (e.count - before) / ((now - previousAt) / 1000) : 0;
      return [method, e.count, Math.round(rate * 10) / 10, e.count ? Math.round((e.sum / e.count) * 1e5) / 100 : 0];
    }).sort((a, b) => b[3] - a[3]).slice(0, 15);
    previous = rpc; previousAt = now;
    rows('methods', methods);
    const b = stats.bytes;
    rows('bytes', [['link bytes sent', b.linkBytesSent], ['link bytes received', b.linkBytesReceived], ['codec: bytes in', b.codecBytesIn], ['codec: bytes out', b.codecBytesOut], ['codec: bytes saved', b.codecBytesIn - b.codecBytesOut], ['payload plane: blob bytes in', b.blobBytesIn], ['payload plane: bytes sent', b.payloadBytesSent], ['deduplicated bytes', b.dedupedBytes]]);
    $('updated').textContent = new Date().toLocaleTimeString();
  } catch (error) {
    $('status').textContent = 'unreachable'; $('status').className = 'bad';
  }
}
refresh(); setInterval(refresh, 2000);
</script></body></html>
`;
}
