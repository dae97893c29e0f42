// The model views: weight and gradient histograms over time (a heat map: step on x, value on y,
// count as colour), the gradient flow (per-layer grad abs_mean and norm, newest as bars or over
// the steps as lines, log scale) and the decision boundary (class regions, the points by label,
// the misclassified ones crossed). Fed by GET /api/model*, the `model` and `boundary` live
// messages, and the model/P/... series (see ../../API.md).
import uPlot from 'uplot';
import { h, s } from '../dom.js';
import { getJSON, fetchSeries, eachLimited } from '../api.js';
import { Series } from '../lib/series.js';
import {
  parseModelSeries, addSnapshot, heatmapGrid, columnSpans, viridis, intensity, classColor, hexRgb, regionAlpha,
  axisTitle, boundarySummary, canvasRow, gradientRows, logDomain, logPosition, shortNumber, niceTicks, over, parseColor,
} from '../lib/model.js';
import { formatValue } from '../lib/format.js';

const SETTINGS_KEY = 'tributary.model';

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function loadSettings() {
  const base = { of: 'weight', parameter: '', flow: 'bars', flowStat: 'abs_mean' };
  try {
    return { ...base, ...JSON.parse(localStorage.getItem(SETTINGS_KEY) || '{}') };
  } catch {
    return base;
  }
}

// A canvas sized to its box in CSS pixels, drawn at the screen's pixel density.
function fitCanvas(canvas, width, height) {
  const dpr = window.devicePixelRatio || 1;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

function code(text) {
  return h('code', text);
}

// An empty state that says what to link, or what the trainer sent wrong.
function emptyState(model, port, what) {
  const refused = model.refused.filter((r) => r.input === port);
  if (refused.length) {
    const r = refused[refused.length - 1];
    return h('div.empty.model-empty', { 'data-testid': `empty-${port}` },
      `The dashboard ignored ${r.count} ${port} packet${r.count === 1 ? '' : 's'}: ${r.what}`);
  }
  if (!model.linked(port)) {
    return h('div.empty.model-empty', { 'data-testid': `empty-${port}` }, 'Link ',
      code(`${model.trainer || 'train'}.${port} -> ${model.dash}.${port}`), ` to see ${what}.`);
  }
  return h('div.empty.model-empty', { 'data-testid': `empty-${port}` }, `Waiting for the trainer's first ${port} packet…`);
}

export class ModelViews {
  constructor(histCard, flowCard, boundaryCard) {
    this.settings = loadSettings();
    this.histograms = new HistogramView(histCard, this);
    this.flow = new GradientFlowView(flowCard, this);
    this.boundary = new BoundaryView(boundaryCard, this);
    this.reset(null, '');
  }

  save(change) {
    Object.assign(this.settings, change);
    try {
      localStorage.setItem(SETTINGS_KEY, JSON.stringify(this.settings));
    } catch { /* private mode */ }
  }

  // A new connection (hello): what the run's graph links, then what the server has.
  reset(graph, trainer) {
    this.generation = (this.generation || 0) + 1;
    this.graph = graph;
    this.trainer = trainer;
    const dashes = ((graph && graph.nodes) || []).filter((n) => n.type === 'plot_server');
    this.dash = dashes.length ? dashes[0].name : 'dash';
    this.parameters = [];
    this.refused = [];
    this.boundaries = [];
    this.latest = new Map();
    this.histograms.reset();
    this.flow.reset();
    this.boundary.reset();
    this.refresh(true);
  }

  linked(port) {
    return ((this.graph && this.graph.links) || []).some((l) => l.to === this.dash && l.to_port === port);
  }

  // GET /api/model: the parameters, the boundaries kept, the refusals.
  async refresh(first = false) {
    const generation = this.generation;
    let m;
    try {
      m = await getJSON('/api/model');
    } catch (e) {
      console.warn(e.message);
      return;
    }
    if (generation !== this.generation) return;
    this.parameters = m.parameters || [];
    this.refused = m.refused || [];
    this.boundaries = m.boundaries || [];
    this.histograms.setParameters(this.parameters);
    this.flow.setOrder(this.parameters.map((p) => p.name));
    this.boundary.setList(this.boundaries);
    if (first && m.boundary) this.boundary.load(null);
    if (!m.boundary) this.boundary.render();
  }

  refreshSoon() {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this.refresh();
    }, 300);
  }

  onModel(msg) {
    if (msg.parameters_changed) this.refreshSoon();
    for (const snap of msg.histograms || []) this.histograms.addLive(snap);
  }

  onBoundary(msg) {
    this.refreshSoon();
    this.boundary.load(null, msg.boundary);
  }

  // A model/P/... series' newest value (from hello) or live points [[step, epoch, time, value, seq]].
  onSeries(name, step, value, points) {
    if (!parseModelSeries(name)) return;
    this.latest.set(name, value);
    this.flow.changed(name, points);
  }

  redraw() {
    this.histograms.draw();
    this.flow.render(true);
    this.boundary.draw();
  }
}

// ---- weights and gradients over time ----
class HistogramView {
  constructor(root, model) {
    this.model = model;
    this.select = h('select', { 'aria-label': 'Parameter', 'data-testid': 'histogram-parameter', onchange: (e) => this.choose(e.target.value) });
    const seg = (of, label) => h('button.seg', { 'data-of': of, onclick: () => this.setOf(of), text: label });
    this.ofButtons = [seg('weight', 'Weights'), seg('grad', 'Gradients')];
    this.canvas = h('canvas', { 'data-testid': 'histogram-canvas', role: 'img', 'aria-label': 'histograms over the steps' });
    this.readout = h('div.hint.model-readout', ' ');
    this.plot = h('div.model-plot', this.canvas);
    this.body = h('div.model-body');
    this.toolbar = h('div.toolbar', this.select, h('div.segmented', { role: 'group', 'aria-label': 'weights or gradients' }, this.ofButtons));
    root.append(h('div.card-head', h('h2', 'Weights & gradients'), this.toolbar), this.body);
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => { this.readout.textContent = ' '; });
    new ResizeObserver(() => this.draw()).observe(this.body);
    this.syncButtons();
  }

  reset() {
    this.parameters = [];
    this.snapshots = [];
    this.key = '';
    this.loading = 0;
    this.render();
  }

  syncButtons() {
    for (const b of this.ofButtons) b.classList.toggle('active', b.dataset.of === this.model.settings.of);
  }

  setParameters(list) {
    this.parameters = list.filter((p) => p.weight || p.grad);
    const names = this.parameters.map((p) => p.name);
    const key = names.join('\u0000');
    if (key !== this.namesKey) {
      this.namesKey = key;
      this.select.replaceChildren(...names.map((n) => h('option', { value: n, text: n })));
    }
    const wanted = names.includes(this.model.settings.parameter) ? this.model.settings.parameter : names[0];
    if (wanted && `${wanted}\u0000${this.model.settings.of}` !== this.key) this.choose(wanted);
    else this.render();
  }

  setOf(of) {
    this.model.save({ of });
    this.syncButtons();
    this.choose(this.select.value || this.model.settings.parameter);
  }

  async choose(parameter) {
    if (!parameter) return;
    this.model.save({ parameter });
    this.select.value = parameter;
    const of = this.model.settings.of;
    this.key = `${parameter}\u0000${of}`;
    this.snapshots = [];
    const key = this.key;
    const generation = this.model.generation;
    this.loading++;
    try {
      const q = new URLSearchParams({ parameter, of });
      const r = await getJSON(`/api/model/histograms?${q}`);
      if (key !== this.key || generation !== this.model.generation) return;
      // Live snapshots that came while fetching are newer: keep them after the history.
      const live = this.snapshots;
      this.snapshots = r.snapshots || [];
      for (const snap of live) this.snapshots = addSnapshot(this.snapshots, snap);
    } catch (e) {
      if (!/HTTP 404/.test(e.message)) console.warn(e.message);
    } finally {
      this.loading--;
    }
    this.render();
  }

  addLive(snap) {
    if (`${snap.parameter}\u0000${snap.of}` !== this.key) {
      if (!this.key) this.model.refreshSoon();
      return;
    }
    this.snapshots = addSnapshot(this.snapshots, snap);
    this.scheduleDraw();
  }

  scheduleDraw() {
    if (this.drawTimer) return;
    this.drawTimer = setTimeout(() => {
      this.drawTimer = null;
      requestAnimationFrame(() => this.draw());
    }, 200);
  }

  render() {
    this.toolbar.hidden = this.parameters.length === 0;
    if (!this.parameters.length || (!this.snapshots.length && !this.loading)) {
      this.body.replaceChildren(this.parameters.length
        ? h('div.empty.model-empty', `No ${this.model.settings.of === 'grad' ? 'gradient' : 'weight'} histograms of this parameter yet`)
        : emptyState(this.model, 'model_stats', 'per-layer weight and gradient histograms over time'));
      return;
    }
    if (this.plot.parentNode !== this.body) this.body.replaceChildren(this.plot, this.readout);
    this.draw();
  }

  draw() {
    if (this.plot.parentNode !== this.body || !this.snapshots.length) return;
    const width = Math.max(200, this.body.clientWidth);
    const height = 260;
    const ctx = fitCanvas(this.canvas, width, height);
    const m = { left: 54, right: 8, top: 6, bottom: 30 };
    const pw = width - m.left - m.right;
    const ph = height - m.top - m.bottom;
    const rows = Math.max(16, Math.min(96, Math.floor(ph / 3)));
    const grid = heatmapGrid(this.snapshots, rows);
    this.grid = grid;
    this.layout = { m, pw, ph };
    ctx.clearRect(0, 0, width, height);
    if (!grid) return;
    const spans = columnSpans(grid.steps, pw);
    this.spans = spans;
    // Opaque cells on whole pixels: no seams where neighbours meet.
    const card = parseColor(cssVar('--card')) || [255, 255, 255];
    const rowY = (r) => Math.round(m.top + ph - (r * ph) / rows);
    for (let i = 0; i < grid.columns.length; i++) {
      const col = grid.columns[i];
      const x0 = Math.round(m.left + spans[i][0]);
      const x1 = Math.max(x0 + 1, Math.round(m.left + spans[i][1]));
      for (let r = 0; r < rows; r++) {
        const t = intensity(col[r], grid.max[i]);
        if (t <= 0) continue;
        const [cr, cg, cb] = over(viridis(0.1 + 0.9 * t), card, 0.45 + 0.55 * t);
        ctx.fillStyle = `rgb(${cr}, ${cg}, ${cb})`;
        const y1 = rowY(r);
        const y0 = rowY(r + 1);
        ctx.fillRect(x0, y0, x1 - x0, Math.max(1, y1 - y0));
      }
    }
    // Axes: value on y (lo at the bottom), step on x.
    const faint = cssVar('--text-faint');
    const gridColor = cssVar('--grid');
    ctx.strokeStyle = gridColor;
    ctx.fillStyle = faint;
    ctx.font = '11px system-ui, sans-serif';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const v of niceTicks(grid.lo, grid.hi, 5)) {
      const y = Math.round(m.top + ph - (ph * (v - grid.lo)) / (grid.hi - grid.lo)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(m.left, y);
      ctx.lineTo(m.left + pw, y);
      ctx.stroke();
      ctx.fillText(shortNumber(v), m.left - 6, y);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const first = grid.steps[0];
    const end = first + (grid.steps[grid.steps.length - 1] - first) * (pw / Math.max(1, spans[spans.length - 1][0] || pw));
    for (const v of niceTicks(first, end, Math.max(2, Math.floor(pw / 70)))) {
      const x = m.left + ((v - first) / Math.max(1e-9, end - first)) * pw;
      if (x > m.left + pw - 12) continue;
      ctx.fillText(formatValue(v), x, m.top + ph + 5);
    }
    ctx.fillText('step', m.left + pw / 2, m.top + ph + 18);
    this.readout.textContent = this.summary();
    this.canvas.setAttribute('aria-label', `${this.model.settings.of === 'grad' ? 'gradient' : 'weight'} histograms of ${this.select.value} over the steps: ${this.summary()}`);
  }

  summary() {
    const last = this.snapshots[this.snapshots.length - 1];
    const what = this.model.settings.of === 'grad' ? 'gradients' : 'weights';
    const edges = this.grid && this.grid.clipped ? ' · outliers at the edges' : '';
    return `${this.snapshots.length} snapshots · step ${last.step}: ${what} in [${shortNumber(last.lo)}, ${shortNumber(last.hi)}]${edges} · colour: log count in its step`;
  }

  hover(e) {
    if (!this.grid || !this.layout) return;
    const { m, pw, ph } = this.layout;
    const rect = this.canvas.getBoundingClientRect();
    const x = e.clientX - rect.left - m.left;
    const y = e.clientY - rect.top - m.top;
    if (x < 0 || x > pw || y < 0 || y > ph) {
      this.readout.textContent = this.summary();
      return;
    }
    const i = Math.max(0, this.spans.findIndex(([a, b]) => x >= a && x < b));
    const r = Math.min(this.grid.rows - 1, Math.floor(((ph - y) / ph) * this.grid.rows));
    const binW = (this.grid.hi - this.grid.lo) / this.grid.rows;
    const a = this.grid.lo + r * binW;
    const epoch = this.grid.epochs[i];
    this.readout.textContent = `step ${this.grid.steps[i]}${epoch != null && epoch >= 0 ? ` (epoch ${epoch})` : ''} · values ${shortNumber(a)} to ${shortNumber(a + binW)} · count ${shortNumber(this.grid.columns[i][r])}`;
  }
}

// ---- gradient flow ----
class GradientFlowView {
  constructor(root, model) {
    this.model = model;
    const seg = (mode, label, title) => h('button.seg', { 'data-flow': mode, title, onclick: () => this.setMode(mode), text: label });
    this.modeButtons = [seg('bars', 'Newest', 'the newest step, as bars'), seg('lines', 'Steps', 'over the steps, a line per parameter')];
    this.statSelect = h('select', { 'aria-label': 'Statistic', onchange: (e) => { this.model.save({ flowStat: e.target.value }); this.lines = null; this.render(true); } },
      h('option', { value: 'abs_mean', text: '|grad|' }), h('option', { value: 'norm', text: 'norm' }));
    this.body = h('div.model-body.flow', { 'data-testid': 'gradient-flow' });
    this.hint = h('div.hint.model-readout', ' ');
    this.toolbar = h('div.toolbar', this.statSelect, h('div.segmented', { role: 'group', 'aria-label': 'newest or over steps' }, this.modeButtons));
    root.append(h('div.card-head', h('h2', 'Gradient flow'), this.toolbar), this.body, this.hint);
    new ResizeObserver(() => this.render(true)).observe(this.body);
    this.sync();
  }

  reset() {
    this.order = [];
    this.destroyLines();
    this.lines = null;
    this.render(true);
  }

  sync() {
    for (const b of this.modeButtons) b.classList.toggle('active', b.dataset.flow === this.model.settings.flow);
    this.statSelect.value = this.model.settings.flowStat;
    this.statSelect.hidden = this.model.settings.flow !== 'lines';
  }

  setMode(flow) {
    this.model.save({ flow });
    this.sync();
    this.render(true);
  }

  setOrder(order) {
    this.order = order;
    this.render();
  }

  changed(name, points) {
    if (this.lines && points) {
      const s = this.lines.series.get(name);
      if (s) s.addLive(points);
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      requestAnimationFrame(() => this.render());
    }, 250);
  }

  render(force = false) {
    const rows = gradientRows(this.model.latest, this.order);
    this.toolbar.hidden = !rows.length;
    this.hint.hidden = !rows.length;
    if (!rows.length) {
      this.destroyLines();
      this.body.replaceChildren(emptyState(this.model, 'model_stats', 'the gradient flow through the layers'));
      this.hint.textContent = ' ';
      return;
    }
    if (this.model.settings.flow === 'lines') this.renderLines(rows, force);
    else this.renderBars(rows);
  }

  renderBars(rows) {
    this.destroyLines();
    const width = Math.max(220, this.body.clientWidth);
    const labelW = Math.min(170, Math.round(width * 0.38));
    const rowH = 22;
    const top = 18;
    const height = top + rows.length * rowH + 4;
    const dom = logDomain(rows.flatMap((r) => [r.absMean, r.norm]));
    const plotW = width - labelW - 12;
    const x = (v) => labelW + plotW * logPosition(v, dom ? dom.min : 1e-8, dom ? dom.max : 1);
    const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'flow-bars' });
    if (dom) {
      for (const t of dom.ticks) {
        const tx = x(t);
        svg.append(s('line', { x1: tx, x2: tx, y1: top - 4, y2: height, class: 'flow-grid' }),
          s('text', { x: tx, y: 10, class: 'flow-tick', 'text-anchor': 'middle' }, shortNumber(t)));
      }
    }
    rows.forEach((r, i) => {
      const y = top + i * rowH;
      const label = r.parameter.length > 24 ? `…${r.parameter.slice(-23)}` : r.parameter;
      const g = s('g', { class: 'flow-row', 'data-parameter': r.parameter });
      g.append(s('title', {}, `${r.parameter}: mean |grad| ${shortNumber(r.absMean)}, norm ${shortNumber(r.norm)}`),
        s('text', { x: labelW - 8, y: y + 11, class: 'flow-label', 'text-anchor': 'end' }, label));
      if (r.absMean > 0) g.append(s('rect', { x: labelW, y: y + 3, width: Math.max(1, x(r.absMean) - labelW), height: 7, rx: 1.5, class: 'flow-bar abs' }));
      if (r.norm > 0) g.append(s('rect', { x: labelW, y: y + 11, width: Math.max(1, x(r.norm) - labelW), height: 7, rx: 1.5, class: 'flow-bar norm' }));
      if (!(r.absMean > 0) && !(r.norm > 0)) g.append(s('text', { x: labelW + 4, y: y + 14, class: 'flow-tick' }, 'zero'));
      svg.append(g);
    });
    this.body.replaceChildren(h('div.flow-scroll', svg));
    this.hint.replaceChildren(h('span.key.abs'), 'mean |grad|  ', h('span.key.norm'), 'norm · newest step, log scale');
  }

  async renderLines(rows, force) {
    const stat = this.model.settings.flowStat;
    const node = rows[0].node;
    const names = rows.map((r) => `${node ? `${node}:` : ''}model/${r.parameter}/grad/${stat}`);
    const key = names.join(',');
    if (!this.lines || this.lines.key !== key) {
      this.destroyLines();
      this.lines = { key, series: new Map(names.map((n) => [n, new Series(n, 4000)])), plot: null };
      const lines = this.lines;
      const generation = this.model.generation;
      await eachLimited(names, 4, async (name) => {
        const r = await fetchSeries(name, { points: 1000, x: 'step' });
        if (generation !== this.model.generation || lines !== this.lines) return;
        lines.series.get(name).setHistory(r.points, r.last_seq ?? r.length ?? r.points.length);
      });
      if (lines !== this.lines) return;
      force = true;
    }
    const series = [...this.lines.series.values()];
    const steps = [...new Set(series.flatMap((x) => x.steps))].sort((a, b) => a - b);
    const data = [steps, ...series.map((x) => {
      const at = new Map(x.steps.map((st, i) => [st, x.values[i]]));
      return steps.map((st) => { const v = at.get(st); return v > 0 ? v : null; });
    })];
    if (this.lines.plot && !force) {
      this.lines.plot.setData(data);
      return;
    }
    this.destroyLines(false);
    const colors = Array.from({ length: 8 }, (_, i) => cssVar(`--series-${i}`));
    const axisColor = cssVar('--text-faint');
    const gridColor = cssVar('--grid');
    const width = Math.max(220, this.body.clientWidth);
    const wrap = h('div.flow-lines');
    this.body.replaceChildren(wrap);
    this.lines.plot = new uPlot({
      width,
      height: 210,
      series: [{ label: 'step' }, ...rows.map((r, i) => ({ label: r.parameter, stroke: i < 8 ? colors[i] : classColor(i), width: 1.5, spanGaps: true, points: { show: false }, value: (u, v) => shortNumber(v) }))],
      scales: { x: { time: false }, y: { distr: 3, log: 10 } },
      legend: { live: true },
      axes: [
        { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor }, font: '11px system-ui, sans-serif', size: 30 },
        { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor }, font: '11px system-ui, sans-serif', size: 52, values: (u, vals) => vals.map((v) => shortNumber(v)) },
      ],
    }, data, wrap);
    this.hint.textContent = `${stat === 'norm' ? 'gradient norm' : 'mean |grad|'} per parameter over the steps, log scale`;
  }

  destroyLines(forget = true) {
    if (this.lines && this.lines.plot) {
      this.lines.plot.destroy();
      this.lines.plot = null;
    }
    if (forget) this.lines = null;
  }
}

// ---- decision boundary ----
class BoundaryView {
  constructor(root, model) {
    this.model = model;
    this.select = h('select', { 'aria-label': 'Boundary of step', onchange: (e) => this.load(e.target.value === 'newest' ? null : Number(e.target.value)) });
    this.summary = h('span.hint');
    this.canvas = h('canvas', { 'data-testid': 'boundary-canvas', role: 'img', 'aria-label': 'decision boundary' });
    this.legend = h('div.boundary-legend', { 'data-testid': 'boundary-legend' });
    this.plot = h('div.model-plot.boundary-plot', this.canvas);
    this.body = h('div.model-body');
    this.sub = h('div.hint.model-sub', this.summary);
    root.append(h('div.card-head', h('h2', 'Decision boundary'), h('div.toolbar', this.select)), this.sub, this.body);
    new ResizeObserver(() => this.draw()).observe(this.body);
  }

  reset() {
    this.data = null;
    this.pinned = null;
    clearTimeout(this.pending);
    this.pending = null;
    this.list = [];
    this.render();
  }

  setList(list) {
    this.list = list;
    const key = list.map((b) => b.step).join(',');
    if (key !== this.listKey) {
      this.listKey = key;
      this.select.replaceChildren(h('option', { value: 'newest', text: 'newest' }),
        ...[...list].reverse().map((b) => h('option', { value: String(b.step), text: `epoch ${b.epoch} · step ${b.step}` })));
    }
    this.select.value = this.pinned == null ? 'newest' : String(this.pinned);
    this.select.hidden = list.length < 2;
  }

  // step null: the newest (a live one only while no older one is pinned). Announced ones are
  // fetched at most once a second, however often the trainer draws.
  async load(step, announced) {
    if (announced) {
      if (this.pinned != null) return;
      const wait = 1000 - (Date.now() - (this.fetched || 0));
      if (wait > 0) {
        if (!this.pending) this.pending = setTimeout(() => { this.pending = null; this.load(null, true); }, wait);
        return;
      }
      this.fetched = Date.now();
    }
    this.pinned = step;
    const generation = this.model.generation;
    try {
      const b = await getJSON(`/api/model/boundary${step == null ? '' : `?step=${step}`}`);
      if (generation !== this.model.generation) return;
      this.data = b;
    } catch (e) {
      if (!/HTTP 404/.test(e.message)) console.warn(e.message);
    }
    this.render();
  }

  render() {
    const b = this.data;
    this.sub.hidden = !b;
    if (!b) {
      this.summary.textContent = '';
      this.body.replaceChildren(emptyState(this.model, 'boundary', 'the decision boundary with its points'));
      return;
    }
    const sum = boundarySummary(b);
    this.summary.textContent = `epoch ${b.epoch} · step ${b.step}${sum.points ? ` · ${sum.points} points, ${(100 * sum.accuracy).toFixed(1)}% correct` : ''}`;
    const classes = b.classes && b.classes.length ? b.classes : [...new Set([...b.cells, ...b.labels])].sort((x, y) => x - y).map(String);
    this.legend.replaceChildren(
      ...classes.map((name, i) => h('span.legend-item', { title: `class ${i}` }, h('span.swatch', { style: `background:${classColor(i)}` }), name)),
      h('span.legend-item.legend-key', h('span.dot-mark'), 'correct'),
      h('span.legend-item.legend-key', h('span.cross-mark', '✕'), 'misclassified'));
    if (this.plot.parentNode !== this.body) this.body.replaceChildren(this.plot, this.legend);
    this.draw();
  }

  draw() {
    const b = this.data;
    if (!b || this.plot.parentNode !== this.body) return;
    const avail = Math.max(220, this.body.clientWidth);
    const m = { left: 52, right: 10, top: 8, bottom: 36 };
    const side = Math.max(160, Math.min(avail - m.left - m.right, 330));
    const width = side + m.left + m.right;
    const height = side + m.top + m.bottom;
    const ctx = fitCanvas(this.canvas, width, height);
    ctx.clearRect(0, 0, width, height);
    const g = b.grid;
    const k = Math.max(2, (b.classes || []).length);
    // The regions: one pixel per cell, scaled up without smoothing (row 0 is y0, at the bottom).
    const cells = document.createElement('canvas');
    cells.width = g;
    cells.height = g;
    const cctx = cells.getContext('2d');
    const img = cctx.createImageData(g, g);
    const rgb = new Map();
    for (let r = 0; r < g; r++) {
      const row = canvasRow(r, g);
      for (let c = 0; c < g; c++) {
        const i = r * g + c;
        const cls = b.cells[i];
        if (!rgb.has(cls)) rgb.set(cls, hexRgb(classColor(cls)));
        const [cr, cg, cb] = rgb.get(cls);
        const o = (row * g + c) * 4;
        img.data[o] = cr;
        img.data[o + 1] = cg;
        img.data[o + 2] = cb;
        img.data[o + 3] = Math.round(255 * regionAlpha(b.probability[i], k));
      }
    }
    cctx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(cells, m.left, m.top, side, side);
    const px = (x) => m.left + ((x - b.x0) / (b.x1 - b.x0)) * side;
    const py = (y) => m.top + side - ((y - b.y0) / (b.y1 - b.y0)) * side;
    // The points: right ones as dots, misclassified ones as crosses, in their label's colour.
    const card = cssVar('--card');
    const text = cssVar('--text');
    ctx.save();
    ctx.beginPath();
    ctx.rect(m.left, m.top, side, side);
    ctx.clip();
    const n = Math.min(b.x.length, b.labels.length);
    const radius = n > 1500 ? 2 : 3;
    for (let i = 0; i < n; i++) {
      if (b.labels[i] !== b.predictions[i]) continue;
      ctx.beginPath();
      ctx.arc(px(b.x[i]), py(b.y[i]), radius, 0, 2 * Math.PI);
      ctx.fillStyle = classColor(b.labels[i]);
      ctx.fill();
      ctx.lineWidth = 0.8;
      ctx.strokeStyle = card;
      ctx.stroke();
    }
    for (let i = 0; i < n; i++) {
      if (b.labels[i] === b.predictions[i]) continue;
      const x = px(b.x[i]);
      const y = py(b.y[i]);
      const d = radius + 1.5;
      for (const [w, color] of [[3.2, card], [1.6, classColor(b.labels[i])]]) {
        ctx.beginPath();
        ctx.moveTo(x - d, y - d);
        ctx.lineTo(x + d, y + d);
        ctx.moveTo(x + d, y - d);
        ctx.lineTo(x - d, y + d);
        ctx.lineWidth = w;
        ctx.strokeStyle = color;
        ctx.stroke();
      }
    }
    ctx.restore();
    // Frame, ticks and axis titles.
    ctx.strokeStyle = cssVar('--border');
    ctx.lineWidth = 1;
    ctx.strokeRect(m.left + 0.5, m.top + 0.5, side - 1, side - 1);
    ctx.fillStyle = cssVar('--text-faint');
    ctx.font = '11px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const v of niceTicks(b.x0, b.x1, 5)) ctx.fillText(shortNumber(v), px(v), m.top + side + 4);
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const v of niceTicks(b.y0, b.y1, 5)) ctx.fillText(shortNumber(v), m.left - 5, py(v));
    ctx.fillStyle = text;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    ctx.fillText(axisTitle(b.projection, b.explained, 0), m.left + side / 2, height - 2);
    ctx.save();
    ctx.translate(9, m.top + side / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = 'middle';
    ctx.fillText(axisTitle(b.projection, b.explained, 1), 0, 0);
    ctx.restore();
    this.canvas.dataset.axes = `${axisTitle(b.projection, b.explained, 0)} | ${axisTitle(b.projection, b.explained, 1)}`;
    this.canvas.setAttribute('aria-label', `decision boundary over ${this.canvas.dataset.axes}: ${this.summary.textContent}`);
  }
}
