// The server's routes (see ../API.md). The control token comes from the page's ?token=.

const token = new URLSearchParams(location.search).get('token');

function authHeaders() {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export async function getJSON(path) {
  const res = await fetch(path, { headers: authHeaders(), cache: 'no-store' });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

export function seriesPath(name, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return `/api/series/${encodeURIComponent(name)}${qs ? `?${qs}` : ''}`;
}

export function fetchSeries(name, params) {
  return getJSON(seriesPath(name, params));
}

// Answers {id, replies} or throws with the server's status and text (401/403 on a token).
export async function postControl(body) {
  const res = await fetch('/api/control', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...authHeaders() },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) {
    const hint = res.status === 401 || res.status === 403 ? ' (open the page with ?token=… from the run log)' : '';
    throw new Error(`HTTP ${res.status}${text ? `: ${text.trim().slice(0, 200)}` : ''}${hint}`);
  }
  return text ? JSON.parse(text) : {};
}

// The WebSocket /api/live with reconnection (0.5 s doubling up to 5 s). onState gets
// 'connecting' | 'live' | 'offline'.
export function connectLive(onMessage, onState) {
  let delay = 500;
  let ws = null;
  let closed = false;
  const open = () => {
    onState('connecting');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${proto}//${location.host}/api/live`);
    ws.onopen = () => {
      delay = 500;
      onState('live');
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      onMessage(msg);
    };
    ws.onclose = () => {
      if (closed) return;
      onState('offline');
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 5000);
    };
    ws.onerror = () => ws.close();
  };
  open();
  return () => {
    closed = true;
    if (ws) ws.close();
  };
}

// Runs fn over items, at most `limit` at a time.
export async function eachLimited(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        console.warn(e.message || e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// The run store's runs (GET /api/runs) and a past run's series, as ../API.md describes them.
export function fetchRuns(params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return getJSON(`/api/runs${qs ? `?${qs}` : ''}`);
}

export function fetchPastSeriesList(id) {
  return getJSON(`/api/runs/${encodeURIComponent(id)}/series`);
}

export function fetchPastSeries(id, name, points = 2000) {
  return getJSON(`/api/runs/${encodeURIComponent(id)}/series/${encodeURIComponent(name)}?points=${points}`);
}
