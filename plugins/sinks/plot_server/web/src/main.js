// The plot_server dashboard: the run's history over HTTP, then the live stream over the
// WebSocket /api/live (see ../API.md).
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { h } from './dom.js';
import { connectLive, fetchSeries, eachLimited } from './api.js';
import { Series, Clock } from './lib/series.js';
import { splitName, isConfusion, isModel } from './lib/grouping.js';
import { toSeconds } from './lib/format.js';
import { CurvesView } from './views/curves.js';
import { StatusView } from './views/status.js';
import { GraphView } from './views/graph.js';
import { LogView } from './views/logs.js';
import { ConfusionView } from './views/confusion.js';
import { ControlsView } from './views/controls.js';
import { RunsView } from './views/runs.js';
import { ModelViews } from './views/model.js';

const THEME_KEY = 'tributary.theme';

const app = {
  series: new Map(), // curve series: name -> Series
  latest: new Map(), // every series: name -> newest value (the confusion matrix reads it)
  clock: new Clock(),
  run: null,
  graph: null,
  trainer: '',
  generation: 0, // bumped on each hello, so answers for an older connection are dropped
  t0() {
    const t = toSeconds(this.run && this.run.start_time);
    if (t != null) return t;
    const first = this.clock.timeAnchors[0];
    return first ? first[1] : 0;
  },
};

// ---- layout ----
const logo = h('span.logo', { 'aria-hidden': 'true' });
logo.innerHTML = '<svg viewBox="0 0 24 24" width="20" height="20"><path d="M3 6c4 0 5 4 9 4s5-4 9-4M3 12c4 0 5 4 9 4s5-4 9-4M3 18c4 0 5 4 9 4" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>';
const runHead = h('div.run-head');
const conn = h('span.conn', { 'data-testid': 'connection', title: 'live connection' }, h('span.dot'), h('span.conn-text', 'connecting'));
const themeBtn = h('button.icon.theme', { 'aria-label': 'Toggle dark and light theme', title: 'Toggle theme', 'data-testid': 'theme', onclick: () => toggleTheme() });
const strip = h('section.strip', { 'aria-label': 'status' });
const curvesCard = h('section.card.curves-card');
const logsCard = h('section.card.logs-card');
const controlsCard = h('section.card.controls-card');
const graphCard = h('section.card.graph-card');
const confusionCard = h('section.card.confusion-card');
const runsCard = h('section.card.runs-card');
const histogramCard = h('section.card.histogram-card', { 'data-testid': 'model-histograms' });
const flowCard = h('section.card.flow-card', { 'data-testid': 'model-flow' });
const boundaryCard = h('section.card.boundary-card', { 'data-testid': 'model-boundary' });
document.getElementById('app').replaceChildren(
  h('header.topbar', h('div.brand', logo, 'Tributary'), runHead, h('div.spacer'), conn, themeBtn),
  strip,
  h('main.layout',
    h('div.col-main', curvesCard, logsCard),
    h('aside.col-side', controlsCard, graphCard, confusionCard, runsCard)),
  h('section.model-views', { 'aria-label': 'model', 'data-testid': 'model-views' }, histogramCard, flowCard, boundaryCard));

const status = new StatusView(runHead, strip);
const curves = new CurvesView(curvesCard, app);
const logs = new LogView(logsCard);
const controls = new ControlsView(controlsCard);
const graph = new GraphView(graphCard);
const confusion = new ConfusionView(confusionCard);
const runs = new RunsView(runsCard, app, (list) => curves.setOverlays(list));
const model = new ModelViews(histogramCard, flowCard, boundaryCard);

// ---- theme ----
function renderThemeButton() {
  themeBtn.textContent = document.documentElement.dataset.theme === 'dark' ? '☀' : '☾';
}
function toggleTheme() {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  try {
    localStorage.setItem(THEME_KEY, next);
  } catch { /* private mode */ }
  renderThemeButton();
  curves.rebuildAll();
  model.redraw();
}
renderThemeButton();

// ---- data ----
function isTrainerSeries(name) {
  const { node } = splitName(name);
  return !app.trainer || node === app.trainer;
}

function addSeries(name, withHistory) {
  if (isConfusion(splitName(name).metric) || isModel(splitName(name).metric)) return null;
  let s = app.series.get(name);
  if (!s) {
    s = new Series(name);
    if (!withHistory) s.setHistory([], 0); // new since hello: the live points are all of it
    app.series.set(name, s);
  }
  return s;
}

let confusionTimer = null;
function confusionChanged() {
  if (confusionTimer) return;
  confusionTimer = setTimeout(() => {
    confusionTimer = null;
    confusion.update(app.latest);
  }, 250);
}

function noteValue(name, step, value) {
  app.latest.set(name, value);
  const { metric } = splitName(name);
  if (isConfusion(metric)) {
    confusionChanged();
    return;
  }
  if (!isTrainerSeries(name)) return;
  if (metric === 'epoch') app.clock.addEpoch(step, value);
  if (metric === 'lr') controls.showLr(value);
  const live = { step };
  if (metric === 'samples_per_s') live.samplesPerS = value;
  if (metric === 'eta_s') live.etaS = value;
  if (metric === 'progress') live.progress = value;
  status.setLive(live);
}

async function loadHistories(list, generation) {
  const names = list.map((x) => x.name).filter((n) => !isConfusion(splitName(n).metric) && !isModel(splitName(n).metric));
  // Wall times for history points come from the trainer's densest series.
  const ref = list.filter((x) => isTrainerSeries(x.name) && !isConfusion(splitName(x.name).metric) && !isModel(splitName(x.name).metric))
    .sort((a, b) => (b.length || 0) - (a.length || 0))[0];
  const first = ['loss', 'accuracy', 'lr', 'epoch'];
  names.sort((a, b) => {
    const ia = first.findIndex((k) => splitName(a).metric.endsWith(k));
    const ib = first.findIndex((k) => splitName(b).metric.endsWith(k));
    return (ia < 0 ? 9 : ia) - (ib < 0 ? 9 : ib);
  });
  if (ref) {
    try {
      const [bySteps, byTime] = await Promise.all([
        fetchSeries(ref.name, { points: 4000, x: 'step' }),
        fetchSeries(ref.name, { points: 4000, x: 'time' }),
      ]);
      if (generation !== app.generation) return;
      if (bySteps.points.length === byTime.points.length) {
        bySteps.points.forEach((p, i) => app.clock.addTime(p[0], byTime.points[i][0]));
      }
    } catch (e) {
      console.warn(e.message);
    }
  }
  await eachLimited(names, 4, async (name) => {
    const r = await fetchSeries(name, { points: 2000, x: 'step' });
    if (generation !== app.generation) return;
    const s = app.series.get(name);
    if (!s) return;
    if (splitName(name).metric === 'epoch' && isTrainerSeries(name)) {
      for (const [step, v] of r.points) app.clock.addEpoch(step, v);
    }
    s.setHistory(r.points, r.last_seq ?? r.length ?? r.points.length);
    if (splitName(name).metric === 'epoch') curves.touchAll();
    else curves.touch(name);
  });
}

function onHello(msg) {
  app.generation++;
  app.series.clear();
  app.latest.clear();
  app.clock = new Clock();
  app.run = msg.run || null;
  app.graph = msg.graph || null;
  const trainer = app.graph && (app.graph.nodes || []).find((n) => n.type === 'trainer');
  app.trainer = trainer ? trainer.name : '';
  controls.setTrainer(app.trainer);
  status.reset();
  if (app.run) {
    status.setRun(app.run);
    controls.setState(app.run.state);
    controls.setPast(app.run.controls);
  }
  graph.setGraph(app.graph);
  model.reset(app.graph, app.trainer);
  const list = msg.series || [];
  for (const info of list) {
    addSeries(info.name, true);
    if (info.last_value != null) noteValue(info.name, info.last_step, info.last_value);
    if (info.last_value != null) model.onSeries(info.name, info.last_step, info.last_value, null);
  }
  curves.layout();
  confusion.update(app.latest);
  logs.reset();
  logs.refetch();
  loadHistories(list, app.generation);
  runs.reset();
}

function onPoints(msg) {
  let added = false;
  for (const { name, points } of msg.series || []) {
    if (!points || !points.length) continue;
    const isNew = !app.series.has(name) && !app.latest.has(name);
    const s = addSeries(name, false);
    if (isNew && s) added = true;
    if (isTrainerSeries(name)) for (const p of points) app.clock.addTime(p[0], p[2]);
    const last = points[points.length - 1];
    model.onSeries(name, last[0], last[3], points);
    if (splitName(name).metric === 'epoch') for (const p of points) noteValue(name, p[0], p[3]);
    else noteValue(name, last[0], last[3]);
    if (s) {
      s.addLive(points);
      curves.touch(name);
    }
  }
  if (added) curves.layout();
}

function onMessage(msg) {
  switch (msg.type) {
    case 'hello': return onHello(msg);
    case 'points': return onPoints(msg);
    case 'logs': return logs.add(msg.lines || []);
    case 'telemetry': return graph.setTelemetry(msg.nodes || {});
    case 'run':
      // A run that ended has its end and best metric in the store now.
      if (app.run && app.run.state !== msg.run.state && msg.run.state !== 'running') runs.refresh();
      app.run = msg.run;
      status.setRun(msg.run);
      controls.setState(msg.run.state);
      controls.setPast(msg.run.controls);
      return undefined;
    case 'control': return controls.onControl(msg);
    case 'model': return model.onModel(msg);
    case 'boundary': return model.onBoundary(msg);
    default: return undefined;
  }
}

let wasLive = false;
connectLive(onMessage, (reported) => {
  // Each retry reports 'connecting'; after a first connection that is still offline.
  const state = reported === 'connecting' && wasLive ? 'offline' : reported;
  if (state === 'live') wasLive = true;
  conn.dataset.state = state;
  // A run that is over closes its server: say so, while still trying (a next run may come).
  const over = app.run && ['finished', 'failed', 'stopped', 'stopping'].includes(app.run.state);
  const text = { live: 'live', connecting: 'connecting' }[state] || (over ? 'run ended · waiting' : 'reconnecting');
  conn.querySelector('.conn-text').textContent = text;
  conn.title = state === 'live' ? 'live updates over /api/live' : 'no connection to the run: retrying';
});

// Read-only access for scripts and the browser test: what the page holds, not the server's copy.
window.tributaryDashboard = Object.freeze({
  seriesNames: () => [...app.series.keys()],
  seriesLength: (name) => (app.series.get(name) ? app.series.get(name).length : 0),
  lastValue: (name) => (app.latest.has(name) ? app.latest.get(name) : null),
  trainer: () => app.trainer,
  state: () => (app.run ? app.run.state : null),
});
