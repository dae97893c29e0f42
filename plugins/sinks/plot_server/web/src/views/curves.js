// Curves: one uPlot chart per metric group, against step, epoch or wall time, with smoothing,
// log scale, drag-zoom (refined from the server), shift-drag pan and double-click reset.
import uPlot from 'uplot';
import { h } from '../dom.js';
import { groupSeries, seriesLabel, splitName } from '../lib/grouping.js';
import { seriesTable } from '../lib/chartdata.js';
import { mergeRange } from '../lib/series.js';
import { formatValue, formatClock } from '../lib/format.js';
import { seriesRows, seriesCSV, seriesJSON, fileName } from '../lib/csv.js';
import { download } from '../dom.js';
import { fetchSeries } from '../api.js';
import { overlayDash } from '../lib/overlay.js';

const SPLIT_COLORS = { train: 0, val: 1, test: 2 };
const SETTINGS_KEY = 'tributary.curves';

function palette() {
  const css = getComputedStyle(document.documentElement);
  return Array.from({ length: 8 }, (_, i) => css.getPropertyValue(`--series-${i}`).trim() || '#888');
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function withAlpha(color, alpha) {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = parseInt(m[1], 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function loadSettings() {
  const base = { x: 'step', mode: 'ema', amount: 0.6, log: false, perClass: false };
  try {
    return { ...base, ...JSON.parse(localStorage.getItem(SETTINGS_KEY) || '{}') };
  } catch {
    return base;
  }
}

export class CurvesView {
  constructor(root, app) {
    this.app = app;
    this.settings = loadSettings();
    this.charts = new Map();
    this.overlays = []; // past runs drawn dashed over the live series (lib/overlay.js)
    this.layoutKey = '';
    this.dirty = new Set();
    this.scheduled = false;

    const seg = (value, label) => h('button.seg', {
      'data-x': value,
      onclick: () => this.set({ x: value }),
      text: label,
    });
    this.xButtons = [seg('step', 'Step'), seg('epoch', 'Epoch'), seg('time', 'Time')];
    this.modeSelect = h('select', { 'aria-label': 'Smoothing', onchange: (e) => this.set({ mode: e.target.value }) },
      h('option', { value: 'ema', text: 'EMA' }), h('option', { value: 'mean', text: 'Moving avg' }));
    this.slider = h('input', {
      type: 'range', min: '0', max: '0.99', step: '0.01', 'aria-label': 'Smoothing amount',
      oninput: (e) => this.set({ amount: Number(e.target.value) }),
    });
    this.amountLabel = h('span.amount');
    this.logBox = h('input', { type: 'checkbox', onchange: (e) => this.set({ log: e.target.checked }) });
    this.classBox = h('input', { type: 'checkbox', onchange: (e) => this.set({ perClass: e.target.checked }) });

    this.grid = h('div.chart-grid', { 'data-testid': 'curves' });
    this.empty = h('div.empty', 'Waiting for the first metrics…');
    root.append(
      h('div.card-head',
        h('h2', 'Curves'),
        h('div.toolbar',
          h('div.segmented', { role: 'group', 'aria-label': 'x axis' }, this.xButtons),
          h('label.tool', 'Smoothing', this.modeSelect, this.slider, this.amountLabel),
          h('label.tool.check', this.logBox, 'Log scale'),
          h('label.tool.check', this.classBox, 'Per class'))),
      this.empty,
      this.grid,
      h('div.hint.curves-hint', 'Drag to zoom · shift-drag to pan · double-click to reset · hover for values · ⤓ downloads a series as CSV or JSON'));
    this.syncControls();
  }

  set(change) {
    const rebuild = ('log' in change && change.log !== this.settings.log) || ('x' in change && change.x !== this.settings.x);
    Object.assign(this.settings, change);
    try {
      localStorage.setItem(SETTINGS_KEY, JSON.stringify(this.settings));
    } catch { /* private mode */ }
    this.syncControls();
    if ('perClass' in change) this.layout(true);
    else if (rebuild) this.rebuildAll();
    else this.redrawAll();
  }

  syncControls() {
    const st = this.settings;
    for (const b of this.xButtons) b.classList.toggle('active', b.dataset.x === st.x);
    this.modeSelect.value = st.mode;
    this.slider.value = String(st.amount);
    this.amountLabel.textContent = st.mode === 'mean'
      ? `${Math.max(1, Math.round(1 + st.amount * st.amount * 99))} pts`
      : st.amount.toFixed(2);
    this.logBox.checked = st.log;
    this.classBox.checked = st.perClass;
  }

  // The set of series changed: regroup the charts.
  layout(force = false) {
    const names = [...this.app.series.keys()];
    const groups = groupSeries(names).filter((g) => this.settings.perClass || !g.perClass);
    const key = groups.map((g) => `${g.key}=${g.names.join(',')}`).join('|');
    if (!force && key === this.layoutKey) return;
    this.layoutKey = key;
    const manyNodes = new Set(names.map((n) => splitName(n).node)).size > 1;
    const keep = new Set(groups.map((g) => g.key));
    for (const [k, c] of this.charts) {
      if (!keep.has(k)) {
        c.destroy();
        this.charts.delete(k);
      }
    }
    for (const g of groups) {
      let c = this.charts.get(g.key);
      if (!c) {
        c = new Chart(this, g);
        this.charts.set(g.key, c);
      }
      c.setGroup(g, manyNodes);
      this.grid.append(c.el); // in group order
    }
    this.empty.style.display = groups.length ? 'none' : '';
  }

  // A series got points: redraw its chart on the next frame.
  touch(name) {
    for (const c of this.charts.values()) if (c.names.includes(name)) this.dirty.add(c);
    this.schedule();
  }

  touchAll() {
    for (const c of this.charts.values()) this.dirty.add(c);
    this.schedule();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    // At most ten redraws a second, whatever the point rate.
    setTimeout(() => requestAnimationFrame(() => {
      this.scheduled = false;
      const list = [...this.dirty];
      this.dirty.clear();
      for (const c of list) c.redraw();
    }), 100);
  }

  redrawAll() {
    for (const c of this.charts.values()) c.redraw();
  }

  resetZoom() {
    for (const c of this.charts.values()) {
      c.zoomed = false;
      c.detail = null;
      c.generation++;
      c.redraw();
    }
  }

  panAll(min, max) {
    for (const c of this.charts.values()) {
      if (!c.plot) continue;
      c.zoomed = true;
      c.plot.setScale('x', { min, max });
    }
  }

  rebuildAll() {
    for (const c of this.charts.values()) c.rebuild();
  }

  // The past runs to draw beside the live one (at most a few; see views/runs.js).
  setOverlays(list) {
    this.overlays = list;
    this.rebuildAll();
  }

  // x of a point at a step, on the current axis.
  xOf(step, time) {
    const { clock } = this.app;
    if (this.settings.x === 'epoch') return clock.epochAt(step);
    if (this.settings.x === 'time') {
      const t = time ?? clock.timeAt(step);
      return t == null ? null : t - this.app.t0();
    }
    return step;
  }

  stepOf(x) {
    const { clock } = this.app;
    if (this.settings.x === 'epoch') return clock.stepAtEpoch(x);
    if (this.settings.x === 'time') return clock.stepAtTime(x + this.app.t0());
    return x;
  }
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];

function isPowerOfTen(v) {
  if (!(v > 0)) return false;
  const e = Math.log10(v);
  return Math.abs(e - Math.round(e)) < 1e-9;
}

// The most points one answer of GET /api/series/NAME gives.
const MAX_POINTS = 1000000;

// Every point of a series by step: a range the server would decimate is asked for in halves.
async function fetchAllPoints(name, from = null, to = null, depth = 0) {
  const r = await fetchSeries(name, { from, to, points: MAX_POINTS, x: 'step' });
  if (!r.decimated || depth > 12 || !r.points.length) return r.points;
  const lo = from ?? r.points[0][0];
  const hi = to ?? r.points[r.points.length - 1][0];
  const mid = Math.floor((lo + hi) / 2);
  if (mid <= lo || mid >= hi) return r.points;
  const left = await fetchAllPoints(name, lo, mid, depth + 1);
  const right = await fetchAllPoints(name, mid + 1, hi, depth + 1);
  return left.concat(right);
}

// The value at idx, or the nearest one before it when that series has no point there.
function lastDefined(arr, idx) {
  if (!arr) return null;
  for (let i = Math.min(idx, arr.length - 1); i >= 0; i--) if (arr[i] != null) return arr[i];
  return null;
}

class Chart {
  constructor(view, group) {
    this.view = view;
    this.key = group.key;
    this.names = [];
    this.detail = null; // {from, to, bySeries: Map name -> [[step, value]]} for a zoomed range
    this.zoomed = false;
    this.generation = 0;
    this.plot = null;
    this.title = h('h3');
    this.menu = h('div.menu', { hidden: true });
    const dl = h('button.icon', {
      title: 'Download the series (CSV or JSON)',
      'aria-label': 'Download',
      onclick: (e) => {
        e.stopPropagation();
        this.toggleMenu();
      },
    }, '⤓');
    this.body = h('div.chart-body');
    this.el = h('div.chart', { 'data-group': group.key },
      h('div.chart-head', this.title, h('div.chart-actions', dl, this.menu)),
      this.body);
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(this.body);
  }

  setGroup(group, manyNodes) {
    this.title.textContent = group.title;
    const same = group.names.join(',') === this.names.join(',') && manyNodes === this.manyNodes;
    this.names = group.names;
    this.manyNodes = manyNodes;
    if (!same || !this.plot) this.rebuild();
  }

  toggleMenu() {
    const open = this.menu.hidden;
    document.querySelectorAll('.menu').forEach((m) => { m.hidden = true; });
    if (!open) return;
    this.menu.replaceChildren(...this.names.map((name) => h('div.menu-row',
      h('span', seriesLabel(name, this.manyNodes)),
      h('button.link', { onclick: () => this.download(name, 'csv') }, 'CSV'),
      h('button.link', { onclick: () => this.download(name, 'json') }, 'JSON'))));
    this.menu.hidden = false;
    const close = (e) => {
      if (!this.menu.contains(e.target)) {
        this.menu.hidden = true;
        document.removeEventListener('click', close);
      }
    };
    setTimeout(() => document.addEventListener('click', close), 0);
  }

  // From the server's full data, not the decimated view the page holds.
  async download(name, ext) {
    const [steps, byTime] = await Promise.all([
      fetchAllPoints(name),
      fetchSeries(name, { points: MAX_POINTS, x: 'time' }).catch(() => null),
    ]);
    const times = byTime && !byTime.decimated ? byTime.points : null;
    const rows = seriesRows(steps, times);
    if (ext === 'csv') download(fileName(name, 'csv'), seriesCSV(rows), 'text/csv');
    else download(fileName(name, 'json'), seriesJSON(name, rows), 'application/json');
  }

  // train, val and test keep their colours across charts when each has one series there.
  color(name, i) {
    const colors = palette();
    const split = splitName(name).metric.split('/')[0];
    const plain = this.names.filter((n) => !splitName(n).metric.startsWith('best/'));
    const single = plain.filter((n) => splitName(n).metric.split('/')[0] === split).length === 1;
    if (split in SPLIT_COLORS && single && plain.length <= 3) return colors[SPLIT_COLORS[split]];
    return colors[i % colors.length];
  }

  rebuild() {
    if (this.plot) {
      this.plot.destroy();
      this.plot = null;
    }
    this.zoomed = false;
    this.detail = null;
    const st = this.view.settings;
    const axisColor = cssVar('--text-dim');
    const gridColor = cssVar('--grid');
    const series = [{
      label: st.x === 'step' ? 'step' : st.x === 'epoch' ? 'epoch' : 'time',
      value: (u, v, si, idx) => {
        const x = idx == null ? lastDefined(u.data[0], u.data[0].length - 1) : v;
        if (x == null) return '–';
        return st.x === 'step' ? String(Math.round(x)) : this.formatX(x);
      },
    }];
    const legendValue = (u, v, si, idx) => formatValue(lastDefined(u.data[si], idx == null ? u.data[si].length - 1 : idx));
    this.names.forEach((name, i) => {
      // best/... is the running best of a metric: a dashed step line in a neutral colour.
      const best = splitName(name).metric.startsWith('best/');
      const c = best ? cssVar('--text-faint') : this.color(name, i);
      const line = best ? { dash: [5, 4], paths: uPlot.paths.stepped({ align: 1 }) } : {};
      series.push({ label: `${seriesLabel(name, this.manyNodes)} (raw)`, stroke: withAlpha(c, 0.28), width: 1, spanGaps: true, points: { show: false }, value: legendValue, ...(best ? { show: false } : {}) });
      series.push({ label: seriesLabel(name, this.manyNodes), stroke: c, width: best ? 1.25 : 1.75, spanGaps: true, points: { show: false }, value: legendValue, ...line });
    });
    // Past runs: the same colours, dashed, smoothed alike; their raw lines start hidden.
    this.pastSeries = [];
    for (const past of this.view.overlays) {
      this.names.forEach((name, i) => {
        if (!past.has(name) || splitName(name).metric.startsWith('best/')) return;
        const c = this.color(name, i);
        const label = `${seriesLabel(name, this.manyNodes)} · ${past.label}`;
        const dash = overlayDash(past.index);
        series.push({ label: `${label} (raw)`, stroke: withAlpha(c, 0.2), width: 1, dash, spanGaps: true, points: { show: false }, value: legendValue, show: false });
        series.push({ label, stroke: withAlpha(c, 0.75), width: 1.25, dash, spanGaps: true, points: { show: false }, value: legendValue });
        this.pastSeries.push({ past, name });
      });
    }
    const width = Math.max(200, this.body.clientWidth || 400);
    const opts = {
      width,
      height: 190,
      series,
      cursor: {
        drag: { x: true, y: false, setScale: true },
        sync: { key: 'tributary-curves' },
        points: { size: 6 },
      },
      select: { show: true },
      legend: { live: true },
      scales: {
        x: { time: false },
        y: st.log ? { distr: 3, log: 10 } : { auto: true },
      },
      axes: [
        {
          stroke: axisColor,
          grid: { stroke: gridColor, width: 1 },
          ticks: { stroke: gridColor },
          values: (u, vals) => vals.map((v) => this.formatX(v)),
          // Wall time ticks on whole seconds, minutes and hours.
          ...(st.x === 'time' ? { incrs: TIME_STEPS } : {}),
          size: 32,
          font: '11px system-ui, sans-serif',
        },
        {
          stroke: axisColor,
          grid: { stroke: gridColor, width: 1 },
          ticks: { stroke: gridColor },
          // On a log scale only the powers of ten are labelled.
          values: (u, vals) => vals.map((v) => (st.log && !isPowerOfTen(v) ? '' : formatValue(v))),
          // As wide as the longest label, so 100000 is not cut.
          size: (u, values) => (values && values.length ? Math.max(40, Math.max(...values.map((v) => String(v).length)) * 7 + 20) : 48),
          font: '11px system-ui, sans-serif',
        },
      ],
      hooks: {
        setSelect: [(u) => {
          if (u.select.width > 2) this.userZoomed();
        }],
        setSeries: [(u, i, o) => this.mirrorShow(u, i, o)],
      },
    };
    this.plot = new uPlot(opts, this.data(), this.body);
    // The legend shows the smoothed series; the raw ones are drawn faint behind them.
    this.plot.root.querySelectorAll('.u-legend .u-series').forEach((row, i) => {
      if (i > 0 && i % 2 === 1) row.classList.add('raw');
    });
    this.bindPan();
  }

  mirrorShow(u, i, o) {
    if (this.mirroring || !o || !('show' in o) || i == null || i === 0) return;
    const partner = i % 2 === 0 ? i - 1 : i + 1;
    // A running best has no raw line to show.
    if (String(u.series[i].label).startsWith('best/') || String(u.series[i].label).includes(':best/')) return;
    this.mirroring = true;
    u.setSeries(partner, { show: o.show });
    this.mirroring = false;
  }

  bindPan() {
    const u = this.plot;
    const over = u.over;
    // The charts zoom together (uPlot's cursor sync passes the selection on); a reset and a
    // pan go to all of them too.
    over.addEventListener('dblclick', () => this.view.resetZoom());
    // In the capture phase, so uPlot's own drag-select does not start.
    u.root.addEventListener('mousedown', (e) => {
      if (!(e.shiftKey || e.button === 1) || !over.contains(e.target)) return;
      e.stopPropagation();
      e.preventDefault();
      const x0 = e.clientX;
      const { min, max } = u.scales.x;
      const perPx = (max - min) / over.clientWidth;
      const move = (ev) => {
        const d = (ev.clientX - x0) * perPx;
        this.view.panAll(min - d, max - d);
      };
      const up = () => {
        window.removeEventListener('mousemove', move);
        window.removeEventListener('mouseup', up);
        for (const c of this.view.charts.values()) if (c.zoomed) c.userZoomed();
      };
      window.addEventListener('mousemove', move);
      window.addEventListener('mouseup', up);
    }, true);
  }

  formatX(v) {
    const x = this.view.settings.x;
    if (x === 'time') return formatClock(v);
    if (x === 'epoch') return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 10 ? 2 : 1);
    return Math.abs(v) >= 1e5 ? `${(v / 1e3).toFixed(0)}k` : String(Math.round(v));
  }

  // The zoom changed by the user: fetch a finer view of the range (debounced).
  userZoomed() {
    this.zoomed = true;
    clearTimeout(this.refineTimer);
    this.refineTimer = setTimeout(() => this.refine(), 200);
  }

  async refine() {
    const u = this.plot;
    if (!u || !this.zoomed) return;
    const { min, max } = u.scales.x;
    const view = this.view;
    const from = Math.floor(view.stepOf(min));
    const to = Math.ceil(view.stepOf(max));
    if (!Number.isFinite(from) || !Number.isFinite(to)) return;
    const gen = ++this.generation;
    const points = Math.max(200, Math.round(u.over.clientWidth * 2));
    const bySeries = new Map();
    await Promise.all(this.names.map(async (name) => {
      try {
        const r = await fetchSeries(name, { from, to, points, x: 'step' });
        bySeries.set(name, r.points);
      } catch (e) {
        console.warn(e.message);
      }
    }));
    if (gen !== this.generation || !this.zoomed) return;
    this.detail = { from, to, bySeries };
    this.redraw();
  }

  data() {
    const st = this.view.settings;
    const tables = [];
    for (const name of this.names) {
      const s = this.view.app.series.get(name);
      let steps = s ? s.steps : [];
      let values = s ? s.values : [];
      let times = s ? s.times : [];
      const d = this.detail && this.detail.bySeries.get(name);
      if (d) {
        const m = mergeRange(steps, values, d, this.detail.from, this.detail.to);
        steps = m.steps;
        values = m.values;
        times = null;
      }
      const xOf = (step, time) => this.view.xOf(step, time);
      tables.push(seriesTable({ steps, values, times }, xOf, st, splitName(name).metric));
    }
    for (const { past, name } of this.pastSeries || []) {
      const xOf = (step, time) => past.xOf(step, time, st.x);
      tables.push(seriesTable(past.series.get(name), xOf, st, splitName(name).metric));
    }
    if (!tables.length) return [[]];
    if (tables.length === 1) return tables[0];
    return uPlot.join(tables);
  }

  redraw() {
    if (!this.plot) return;
    const data = this.data();
    if (this.zoomed) {
      const { min, max } = this.plot.scales.x;
      this.plot.setData(data, false);
      this.plot.setScale('x', { min, max });
    } else {
      this.plot.setData(data, true);
    }
  }

  fit() {
    if (!this.plot) return;
    const w = Math.floor(this.body.clientWidth);
    if (w > 0 && Math.abs(w - this.plot.width) > 1) this.plot.setSize({ width: w, height: 190 });
  }

  destroy() {
    this.resize.disconnect();
    if (this.plot) this.plot.destroy();
    this.el.remove();
  }
}
