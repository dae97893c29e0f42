// The confusion matrix from the latest values of NODE:SPLIT/confusion/<true>/<pred> series.

const RE = /^(?:[^:]*:)?(val|test|train)\/confusion\/([^/]+)\/([^/]+)$/;

export function parseConfusionName(name) {
  const m = RE.exec(name);
  return m ? { split: m[1], truth: m[2], predicted: m[3] } : null;
}

function compareClass(a, b) {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a.localeCompare(b);
}

// latest: Map name -> value. Returns {split -> {classes, counts[true][pred], total, correct}}.
export function confusionMatrices(latest) {
  const bySplit = new Map();
  for (const [name, value] of latest) {
    const p = parseConfusionName(name);
    if (!p) continue;
    if (!bySplit.has(p.split)) bySplit.set(p.split, new Map());
    bySplit.get(p.split).set(`${p.truth}\u0000${p.predicted}`, { ...p, value });
  }
  const result = {};
  for (const [split, cells] of bySplit) {
    const set = new Set();
    for (const c of cells.values()) {
      set.add(c.truth);
      set.add(c.predicted);
    }
    const classes = [...set].sort(compareClass);
    const index = new Map(classes.map((c, i) => [c, i]));
    const counts = classes.map(() => classes.map(() => 0));
    let total = 0;
    let correct = 0;
    for (const c of cells.values()) {
      const v = Number(c.value) || 0;
      counts[index.get(c.truth)][index.get(c.predicted)] = v;
      total += v;
      if (c.truth === c.predicted) correct += v;
    }
    result[split] = { classes, counts, total, correct };
  }
  return result;
}
