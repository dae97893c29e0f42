// The model views' logic without the DOM: the model/P/... series' names, histograms re-binned
// onto one value axis for a heat map, colour ramps, the gradient flow's rows and log axis, and
// the decision boundary's colours, axis labels and summary.

// NODE:model/P/weight|grad/STAT -> { node, parameter, of, stat }; P may itself hold '/'.
const MODEL_RE = /^(?:([^:]*):)?model\/(.+)\/(weight|grad)\/([^/]+)$/;
export function parseModelSeries(name) {
  const m = MODEL_RE.exec(name);
  return m ? { node: m[1] || '', parameter: m[2], of: m[3], stat: m[4] } : null;
}

// The page's copy of one histogram over time stays at most `max` snapshots, as the server's
// does: every other one goes, the newest stays.
export const PAGE_SNAPSHOTS = 300;
export function thinSnapshots(list, max = PAGE_SNAPSHOTS) {
  if (list.length <= max) return list;
  const kept = list.filter((_, i) => i % 2 === 0);
  if (kept[kept.length - 1] !== list[list.length - 1]) kept.push(list[list.length - 1]);
  return kept;
}

// Adds a live snapshot in step order (a repeat of a step replaces it).
export function addSnapshot(list, snapshot, max = PAGE_SNAPSHOTS) {
  const n = list.length;
  if (n && list[n - 1].step === snapshot.step) list[n - 1] = snapshot;
  else if (!n || list[n - 1].step < snapshot.step) list.push(snapshot);
  else return list; // older than what is there: the history already has it or thinned it
  return thinSnapshots(list, max);
}

// The q-quantile (0..1) of numbers, by linear interpolation.
export function quantile(values, q) {
  const v = [...values].sort((a, b) => a - b);
  if (!v.length) return NaN;
  const x = (v.length - 1) * Math.max(0, Math.min(1, q));
  const i = Math.floor(x);
  return i + 1 < v.length ? v[i] + (v[i + 1] - v[i]) * (x - i) : v[i];
}

// Snapshots [{step, lo, hi, counts}] on one value axis of `rows` bins: { lo, hi, steps, columns }
// where columns[i] is a Float64Array of `rows` counts (a snapshot's bin spread over the rows it
// overlaps, in proportion), and max[i] its largest. A snapshot with lo == hi puts all in one row.
// The axis spans the snapshots' ranges but for the widest `clip` fraction at each end (a few
// outlying steps, gradients' usually, would squeeze all the others into a line); counts beyond
// it pile up in the edge rows, and `clipped` says whether any did.
export function heatmapGrid(snapshots, rows = 48, clip = 0.05) {
  const list = snapshots.filter((s) => s && s.counts && s.counts.length && Number.isFinite(s.lo) && Number.isFinite(s.hi));
  if (!list.length) return null;
  let lo = quantile(list.map((s) => s.lo), clip);
  let hi = quantile(list.map((s) => s.hi), 1 - clip);
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.05 || 0.5;
    lo -= pad;
    hi += pad;
  }
  const span = hi - lo;
  const columns = [];
  const max = [];
  let clipped = false;
  for (const s of list) {
    const col = new Float64Array(rows);
    const bins = s.counts.length;
    const width = (s.hi - s.lo) / bins;
    for (let b = 0; b < bins; b++) {
      const c = Number(s.counts[b]) || 0;
      if (c <= 0) continue;
      if (width <= 0) {
        const r = Math.floor(((s.lo - lo) / span) * rows);
        clipped = clipped || r < 0 || r >= rows;
        col[clampRow(r, rows)] += c;
        continue;
      }
      const a = ((s.lo + b * width - lo) / span) * rows;
      const z = ((s.lo + (b + 1) * width - lo) / span) * rows;
      // What falls beyond the axis goes to its edge row.
      if (a < 0) {
        col[0] += (c * (Math.min(z, 0) - a)) / (z - a);
        clipped = true;
      }
      if (z > rows) {
        col[rows - 1] += (c * (z - Math.max(a, rows))) / (z - a);
        clipped = true;
      }
      const first = clampRow(Math.floor(a), rows);
      const last = clampRow(Math.ceil(z) - 1, rows);
      for (let r = first; r <= last; r++) {
        const overlap = Math.min(z, r + 1) - Math.max(a, r);
        if (overlap > 0) col[r] += (c * overlap) / (z - a);
      }
    }
    columns.push(col);
    max.push(col.reduce((m, v) => (v > m ? v : m), 0));
  }
  return { lo, hi, rows, clipped, steps: list.map((s) => s.step), epochs: list.map((s) => s.epoch), columns, max };
}

function clampRow(r, rows) {
  return Math.max(0, Math.min(rows - 1, r));
}

// Column i of a heat map drawn over `width` pixels with step on x: [x0, x1) pixels. Columns
// touch (each reaches the next snapshot's step); the last gets the median spacing.
export function columnSpans(steps, width) {
  const n = steps.length;
  if (!n) return [];
  if (n === 1) return [[0, width]];
  const gaps = [];
  for (let i = 1; i < n; i++) gaps.push(steps[i] - steps[i - 1]);
  const sorted = [...gaps].sort((a, b) => a - b);
  const last = sorted[Math.floor(sorted.length / 2)] || 1;
  const first = steps[0];
  const end = steps[n - 1] + last;
  const x = (s) => ((s - first) / (end - first)) * width;
  return steps.map((s, i) => [x(s), i + 1 < n ? x(steps[i + 1]) : width]);
}

// Viridis, from 0 (dark purple) to 1 (yellow): readable on light and dark cards.
const VIRIDIS = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
];
export function viridis(t) {
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  return VIRIDIS[i].map((v, k) => Math.round(v + (VIRIDIS[i + 1][k] - v) * f));
}

// A count's colour intensity within its column, on a log scale (log(1 + count)), so the tails
// of a distribution with a sharp peak (gradients around 0) still show.
export function intensity(count, columnMax) {
  if (!(count > 0) || !(columnMax > 0)) return 0;
  return Math.min(1, Math.log1p(count) / Math.log1p(columnMax));
}

// Ten distinct class colours (Tableau 10), then they repeat a little darker.
const CLASSES = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
export function classColor(i) {
  const base = CLASSES[((i % CLASSES.length) + CLASSES.length) % CLASSES.length];
  if (i < CLASSES.length) return base;
  const [r, g, b] = hexRgb(base);
  return `#${[r, g, b].map((v) => Math.round(v * 0.7).toString(16).padStart(2, '0')).join('')}`;
}

export function hexRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

// A region's opacity from its class probability: a cell the model is unsure of (near 1/K) is
// faint, a sure one (1) strong.
export function regionAlpha(p, classes) {
  const k = Math.max(2, classes || 2);
  const floor = 1 / k;
  const t = Math.max(0, Math.min(1, (p - floor) / (1 - floor)));
  return 0.12 + 0.5 * t;
}

// Axis titles: "PC1 (43%)" for a pca projection, else "input 1".
export function axisTitle(projection, explained, axis) {
  if (projection === 'pca') {
    const e = explained && Number(explained[axis]);
    return Number.isFinite(e) ? `PC${axis + 1} (${Math.round(e * 100)}%)` : `PC${axis + 1}`;
  }
  return `input ${axis + 1}`;
}

// The boundary's points: how many, how many right, and which are wrong.
export function boundarySummary(b) {
  const n = Math.min(b.labels ? b.labels.length : 0, b.predictions ? b.predictions.length : 0);
  let correct = 0;
  for (let i = 0; i < n; i++) if (b.labels[i] === b.predictions[i]) correct++;
  return { points: n, correct, wrong: n - correct, accuracy: n ? correct / n : null };
}

// The cell of grid row r (0 at y0, the bottom) and column c, drawn with y up: the canvas row.
export function canvasRow(r, grid) {
  return grid - 1 - r;
}

// Gradient flow: per parameter (in `order`, then any others), the newest grad abs_mean and norm
// from latest values (a Map of series name -> value). [{ parameter, absMean, norm }]
export function gradientRows(latest, order = []) {
  const rows = new Map();
  for (const [name, value] of latest) {
    const p = parseModelSeries(name);
    if (!p || p.of !== 'grad' || (p.stat !== 'abs_mean' && p.stat !== 'norm')) continue;
    if (!rows.has(p.parameter)) rows.set(p.parameter, { parameter: p.parameter, absMean: null, norm: null, node: p.node });
    rows.get(p.parameter)[p.stat === 'abs_mean' ? 'absMean' : 'norm'] = Number(value);
  }
  const rank = new Map(order.map((p, i) => [p, i]));
  return [...rows.values()].sort((a, b) => (rank.has(a.parameter) ? rank.get(a.parameter) : 1e9) - (rank.has(b.parameter) ? rank.get(b.parameter) : 1e9));
}

// A log axis over positive values: { min, max, ticks: [powers of ten] } with whole decades.
export function logDomain(values) {
  const pos = values.filter((v) => Number.isFinite(v) && v > 0);
  if (!pos.length) return null;
  let lo = Math.floor(Math.log10(Math.min(...pos)));
  let hi = Math.ceil(Math.log10(Math.max(...pos)));
  if (hi === lo) hi = lo + 1;
  const ticks = [];
  for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
  return { min: 10 ** lo, max: 10 ** hi, ticks };
}

// Where v falls on a log axis from min to max, 0..1 (values at or below 0 fall at 0).
export function logPosition(v, min, max) {
  if (!(v > 0)) return 0;
  return Math.max(0, Math.min(1, (Math.log10(v) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))));
}

// 0.000123 -> "1.2e-4", 0.5 -> "0.5": short labels for small magnitudes.
export function shortNumber(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-2 && a < 1e4) return String(Number(v.toPrecision(3)));
  const [m, e] = v.toExponential(1).split('e');
  return `${m.replace(/\.0$/, '')}e${Number(e)}`;
}

// About `count` round ticks (1, 2 or 5 times a power of ten) within [lo, hi].
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) || 10 * mag;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

// `rgb` over the card colour `under` (both [r, g, b]) at opacity a: an opaque colour, so
// neighbouring cells never darken where they overlap.
export function over(rgb, under, a) {
  return rgb.map((v, i) => Math.round(under[i] + (v - under[i]) * a));
}

// '#rrggbb' or 'rgb(r, g, b)' -> [r, g, b]; null for anything else.
export function parseColor(text) {
  const t = String(text || '').trim();
  if (/^#[0-9a-f]{6}$/i.test(t)) return hexRgb(t);
  const m = /^rgba?\((\d+),\s*(\d+),\s*(\d+)/i.exec(t);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}
