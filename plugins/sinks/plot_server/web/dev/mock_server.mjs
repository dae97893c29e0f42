// A stand-in for the plot_server sink, to work on the page without a C++ build:
// serves dist/ and the routes of ../API.md with a synthetic training run.
//   npm run build && node dev/mock_server.mjs [port]
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const port = Number(process.argv[2] ?? 8090);
const start = Date.now() / 1000;
const classes = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const stepsPerEpoch = 45;
const epochs = 30;
const series = new Map(); // name -> [[step, epoch, time, value, seq]]
const logs = [];
const clients = new Set();
let step = 0;
let epoch = 0;
let lr = 0.002;
let state = 'running';
let pending = [];
let controlId = 0;
const controls = [];
const tel = { rows: 0, scale: 0, train: 0, log: 0, ckpt: 0, dash: 0 };

function emit(metric, value) {
  const name = `train:${metric}`;
  if (!series.has(name)) series.set(name, []);
  const list = series.get(name);
  const p = [step, epoch, Date.now() / 1000, value, list.length + 1];
  list.push(p);
  pending.push({ name, points: [p] });
}

function log(level, node, message) {
  const line = { seq: logs.length + 1, time: Date.now() / 1000, node, level, message };
  logs.push(line);
  broadcast({ type: 'logs', lines: [line] });
}

function status() {
  const best = series.get('train:best/val/accuracy');
  return {
    id: 7, name: 'digits-mlp', title: 'digits-mlp', pipeline: 'pipelines/digits_mlp.toml', dir: 'runs/7', state, reason: '',
    start_time: start, elapsed_s: Date.now() / 1000 - start, epoch, epochs, step, progress: epoch / epochs,
    eta_s: epoch ? ((Date.now() / 1000 - start) / epoch) * (epochs - epoch) : null, samples_per_s: 2400 + Math.random() * 100,
    best: best ? { name: 'val/accuracy', value: best.at(-1)[3], step: best.at(-1)[0], epoch: best.at(-1)[1] } : null,
    checkpoints: { newest: epoch ? { path: `runs/7/checkpoints/step-${epoch * stepsPerEpoch}.pt`, step: epoch * stepsPerEpoch, epoch, time: Date.now() / 1000 } : null, best: null },
    process: { cpu_percent: 96 + Math.random() * 6, rss_bytes: 412e6 }, token_required: false, controls,
  };
}

const graph = {
  nodes: [
    { name: 'rows', type: 'table', family: 'sources', inputs: [], outputs: ['out'], concurrency: 'serial', source: true, line: 10 },
    { name: 'scale', type: 'standardize', family: 'transforms', inputs: ['in'], outputs: ['out'], concurrency: 1 },
    { name: 'train', type: 'trainer', family: 'models', inputs: ['in'], outputs: ['metrics', 'checkpoint', 'model_stats', 'boundary'], concurrency: 1 },
    { name: 'log', type: 'csv', family: 'sinks', inputs: ['in'], outputs: [] },
    { name: 'ckpt', type: 'checkpoint', family: 'sinks', inputs: ['in'], outputs: [] },
    { name: 'dash', type: 'plot_server', family: 'sinks', inputs: ['metrics', 'model_stats', 'boundary'], outputs: [] },
  ],
  links: [
    { from: 'rows', from_port: 'out', to: 'scale', to_port: 'in', policy: 'block', capacity: 64, text: 'rows -> scale' },
    { from: 'scale', from_port: 'out', to: 'train', to_port: 'in', policy: 'block', capacity: 64, text: 'scale -> train' },
    { from: 'train', from_port: 'metrics', to: 'log', to_port: 'in', policy: 'block', capacity: 64, text: 'train.metrics -> log' },
    { from: 'train', from_port: 'checkpoint', to: 'ckpt', to_port: 'in', policy: 'block', capacity: 64, text: 'train.checkpoint -> ckpt' },
    { from: 'train', from_port: 'metrics', to: 'dash', to_port: 'metrics', policy: 'leaky', capacity: 256, text: 'train.metrics -> dash.metrics' },
  ],
};

function telemetry() {
  const out = {};
  for (const [k, v] of Object.entries(tel)) out[k] = { packets_in: v, packets_out: v, drops: 0, queue_depth: k === 'train' ? 12 : 0, busy_s: 1, bus_drops: 0 };
  return out;
}

function seriesList() {
  return [...series.entries()].map(([name, pts]) => ({
    name, node: 'train', metric: name.slice(6), length: pts.length, first_step: pts[0][0], last_step: pts.at(-1)[0], last_value: pts.at(-1)[3], last_time: pts.at(-1)[2],
  }));
}

function tickTraining() {
  if (state !== 'running') return;
  step += 1;
  for (const k of Object.keys(tel)) tel[k] += 32;
  const noise = () => (Math.random() - 0.5);
  if (step % 5 === 0) {
    const base = 2.3 * Math.exp(-step / 300) + 0.08;
    emit('train/loss', base + noise() * 0.2 * base);
    emit('train/accuracy', Math.min(1, 1 - base / 2.5 + noise() * 0.05));
    emit('lr', lr);
    emit('grad_norm', 1.5 * Math.exp(-step / 500) + Math.random() * 0.2);
    emit('samples_per_s', 2400 + noise() * 300);
  }
  if (step % stepsPerEpoch === 0) {
    epoch += 1;
    const base = 2.3 * Math.exp(-step / 300) + 0.12;
    emit('val/loss', base);
    const acc = Math.min(0.99, 1 - base / 2.4);
    emit('val/accuracy', acc);
    emit('val/f1', acc - 0.01);
    emit('val/fpr', (1 - acc) / 9);
    emit('val/fnr', 1 - acc);
    for (const t of classes) for (const p of classes) emit(`val/confusion/${t}/${p}`, t === p ? Math.round(18 * acc) : Math.random() < (1 - acc) ? 1 : 0);
    emit('epoch', epoch);
    emit('progress', epoch / epochs);
    const prev = series.get('train:best/val/accuracy');
    if (!prev || acc > prev.at(-1)[3]) emit('best/val/accuracy', acc);
    log('info', 'train', `epoch ${epoch}/${epochs}: val/loss ${base.toFixed(4)} val/accuracy ${acc.toFixed(4)}`);
    broadcast({ type: 'run', run: status() });
    if (epoch >= epochs) {
      state = 'finished';
      broadcast({ type: 'run', run: status() });
    }
  }
}

function broadcast(msg) {
  const frame = wsFrame(JSON.stringify(msg));
  for (const c of clients) c.write(frame);
}

function wsFrame(text) {
  const data = Buffer.from(text);
  const n = data.length;
  const head = n < 126 ? Buffer.from([0x81, n]) : n < 65536 ? Buffer.from([0x81, 126, n >> 8, n & 255]) : Buffer.concat([Buffer.from([0x81, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
  return Buffer.concat([head, data]);
}

function decimate(points, from, to, max, x) {
  const xi = x === 'time' ? 2 : 0;
  const sel = points.filter((p) => (from == null || p[xi] >= from) && (to == null || p[xi] <= to)).map((p) => [p[xi], p[3]]);
  if (sel.length <= max) return { decimated: false, points: sel };
  const per = Math.ceil(sel.length / (max / 4));
  const out = [];
  for (let i = 0; i < sel.length; i += per) {
    const b = sel.slice(i, i + per);
    let mn = b[0];
    let mx = b[0];
    for (const p of b) { if (p[1] < mn[1]) mn = p; if (p[1] > mx[1]) mx = p; }
    const keep = [...new Set([b[0], mn, mx, b.at(-1)])].sort((a, c) => a[0] - c[0]);
    out.push(...keep);
  }
  return { decimated: true, points: out };
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const json = (obj, code = 200) => { res.writeHead(code, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(obj)); };
  if (url.pathname === '/api/run') return json(status());
  if (url.pathname === '/api/graph') return json({ ...graph, telemetry: telemetry() });
  if (url.pathname === '/api/series') return json({ series: seriesList() });
  if (url.pathname.startsWith('/api/series/')) {
    const name = decodeURIComponent(url.pathname.slice('/api/series/'.length));
    const pts = series.get(name);
    if (!pts) return json({ error: 'no such series' }, 404);
    const num = (k) => (url.searchParams.get(k) ? Number(url.searchParams.get(k)) : null);
    const x = url.searchParams.get('x') || 'step';
    const d = decimate(pts, num('from'), num('to'), num('points') || 2000, x);
    return json({ name, x, length: pts.length, ...d });
  }
  if (url.pathname === '/api/logs') {
    const lv = ['trace', 'debug', 'info', 'warn', 'error'];
    const min = lv.indexOf(url.searchParams.get('level') || 'trace');
    const search = url.searchParams.get('search') || '';
    const lines = logs.filter((l) => lv.indexOf(l.level) >= min && l.message.includes(search)).slice(-(Number(url.searchParams.get('limit')) || 1000));
    return json({ lines, next: logs.length });
  }
  if (url.pathname === '/api/control' && req.method === 'POST') {
    let body = '';
    for await (const chunk of req) body += chunk;
    const r = JSON.parse(body);
    const id = ++controlId;
    const reply = { id, node: r.target || 'runtime', accepted: true, step, text: '' };
    if (r.verb === 'pause') state = 'paused';
    if (r.verb === 'resume') state = 'running';
    if (r.verb === 'stop') {
      state = 'stopped';
      setTimeout(() => process.exit(0), 300);
    }
    if (r.verb === 'set') { lr = r.value; reply.text = `lr ${r.value} from step ${step + 1}`; emit('lr', lr); }
    if (r.verb === 'checkpoint') reply.text = `runs/7/checkpoints/step-${step}.pt`;
    controls.push({ id, time: Date.now() / 1000, ...r, sender: '127.0.0.1', replies: [reply] });
    broadcast({ type: 'control', request: { id, ...r, sender: '127.0.0.1' }, reply });
    broadcast({ type: 'run', run: status() });
    log('info', r.target || 'runtime', `control ${r.verb} accepted at step ${step}`);
    return json({ id, replies: [reply] });
  }
  const file = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
  if (file.includes('..')) return json({ error: 'bad path' }, 400);
  try {
    const data = await readFile(join(dist, file));
    const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
    res.writeHead(200, { 'Content-Type': types[extname(file)] || 'application/octet-stream' });
    res.end(data);
  } catch {
    json({ error: 'not found' }, 404);
  }
});

server.on('upgrade', (req, socket) => {
  const key = req.headers['sec-websocket-key'];
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  socket.write(wsFrame(JSON.stringify({ type: 'hello', run: status(), graph: { ...graph, telemetry: telemetry() }, series: seriesList() })));
  clients.add(socket);
  socket.on('close', () => clients.delete(socket));
  socket.on('error', () => clients.delete(socket));
  socket.on('data', () => {});
});

// Some history before the first viewer.
for (let i = 0; i < stepsPerEpoch * 6; i++) tickTraining();
pending = [];
setInterval(tickTraining, 40);
setInterval(() => {
  if (pending.length) broadcast({ type: 'points', series: pending });
  pending = [];
}, 50);
setInterval(() => broadcast({ type: 'telemetry', nodes: telemetry() }), 1000);
server.listen(port, '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}/`;
  log('info', 'dash', `dashboard at ${url}`);
  console.log(`[dash] dashboard at ${url}`);
});
