// Which chart a series goes on. A series is named NODE:METRIC; the chart is chosen from the
// metric: losses together, accuracies together, FPR/FNR/F1 together, then lr, samples/s, and
// the rest by the part of the metric before its first `/`.

const SPLITS = new Set(['train', 'val', 'test']);
const RATES = new Set(['fpr', 'fnr', 'f1']);
const PR = new Set(['precision', 'recall']);

export function splitName(name) {
  const colon = name.indexOf(':');
  if (colon < 0) return { node: '', metric: name };
  return { node: name.slice(0, colon), metric: name.slice(colon + 1) };
}

// Confusion counts are shown as a matrix, not as curves.
export function isConfusion(metric) {
  return /^(val|test|train)\/confusion\//.test(metric);
}

// Per-parameter weight and gradient statistics (model/P/weight|grad/STAT) go to the model views.
export function isModel(metric) {
  return metric.startsWith('model/');
}

// The run's own progress is shown in the status, not as curves.
const PROGRESS = new Set(['epoch', 'epochs', 'progress', 'eta_s']);
export function isProgress(metric) {
  return PROGRESS.has(metric);
}

// { key, title, order, perClass }; order sorts the charts (smaller first).
export function groupOf(metric) {
  // best/val/accuracy goes on the chart of val/accuracy.
  if (metric.startsWith('best/') && metric.split('/').length > 2) {
    const g = groupOf(metric.slice(5));
    if (!g.key.startsWith('p:')) return g;
  }
  const parts = metric.split('/');
  const last = parts[parts.length - 1];
  if (parts.length === 3 && SPLITS.has(parts[0])) {
    const m = parts[1];
    return { key: `class:${m}`, title: `${m} per class`, order: 100, perClass: true };
  }
  if (last === 'loss' && parts.length <= 2) return { key: 'loss', title: 'Loss', order: 0, perClass: false };
  if (last === 'accuracy' && parts.length <= 2 && parts[0] !== 'best') {
    return { key: 'accuracy', title: 'Accuracy', order: 1, perClass: false };
  }
  if (RATES.has(last) && parts.length <= 2) return { key: 'rates', title: 'FPR · FNR · F1', order: 2, perClass: false };
  if (PR.has(last) && parts.length <= 2) {
    return { key: 'pr', title: 'Precision · Recall', order: 3, perClass: false };
  }
  if (metric === 'lr' || last === 'lr') return { key: 'lr', title: 'Learning rate', order: 4, perClass: false };
  if (metric === 'samples_per_s' || last === 'samples_per_s') {
    return { key: 'samples_per_s', title: 'Samples / s', order: 5, perClass: false };
  }
  if (parts.length === 1) return { key: `m:${metric}`, title: metric, order: 20, perClass: false };
  return { key: `p:${parts[0]}`, title: parts[0], order: 10, perClass: false };
}

// Groups series names into charts: [{ key, title, perClass, names: [...] }] in display order.
export function groupSeries(names) {
  const groups = new Map();
  for (const name of names) {
    const { metric } = splitName(name);
    if (isConfusion(metric) || isProgress(metric) || isModel(metric)) continue;
    const g = groupOf(metric);
    if (!groups.has(g.key)) groups.set(g.key, { ...g, names: [] });
    groups.get(g.key).names.push(name);
  }
  const list = [...groups.values()];
  for (const g of list) g.names.sort(compareSeries);
  list.sort((a, b) => a.order - b.order || a.title.localeCompare(b.title));
  return list;
}

const SPLIT_ORDER = { train: 0, val: 1, test: 2, best: 3 };

// train before val before test, then by name.
export function compareSeries(a, b) {
  const ma = splitName(a).metric.split('/')[0];
  const mb = splitName(b).metric.split('/')[0];
  const oa = ma in SPLIT_ORDER ? SPLIT_ORDER[ma] : 4;
  const ob = mb in SPLIT_ORDER ? SPLIT_ORDER[mb] : 4;
  return oa - ob || a.localeCompare(b, undefined, { numeric: true });
}

// The label of a series in a chart: its metric, with the node when several nodes report.
export function seriesLabel(name, manyNodes) {
  const { node, metric } = splitName(name);
  return manyNodes && node ? `${node}:${metric}` : metric;
}
