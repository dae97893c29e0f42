// The page's copy of one series: the history fetched over HTTP, then the live points of the
// WebSocket on top. Live points carry a per-series seq; the ones the history already covered
// (seq <= its length) and repeats are dropped.

// Past this many points the page thins a series (the server keeps them all; zooming in fetches
// the full detail of a range), so a long run keeps the tab's memory and redraws bounded.
export const PAGE_POINTS = 20000;

export class Series {
  constructor(name, limit = PAGE_POINTS) {
    this.limit = limit;
    this.name = name;
    this.steps = [];
    this.values = [];
    this.times = []; // wall time of the point when known (live points), else null
    this.covered = -1; // seq up to which the history answered; -1: no history yet
    this.lastSeq = -Infinity;
    this.pending = []; // live points that came before the history
  }

  // points: [[step, value], ...] from GET /api/series/NAME; length: the points the server held.
  setHistory(points, length) {
    this.steps = points.map((p) => p[0]);
    this.values = points.map((p) => p[1]);
    this.times = points.map(() => null);
    this.covered = length;
    const pending = this.pending;
    this.pending = [];
    this.lastSeq = length;
    return this.addLive(pending);
  }

  // points: [[step, epoch, time, value, seq], ...]; returns how many were taken.
  addLive(points) {
    if (this.covered < 0) {
      this.pending.push(...points);
      return 0;
    }
    let taken = 0;
    for (const p of points) {
      const seq = p[4];
      if (seq != null && seq <= this.lastSeq) continue;
      if (seq != null) this.lastSeq = seq;
      this.push(p[0], p[3], p[2]);
      taken++;
    }
    if (this.steps.length > this.limit) this.thin();
    return taken;
  }

  // Halves the older half of the points, keeping each bucket's first, min, max and last point
  // (as the server decimates), so spikes stay.
  thin() {
    const n = this.steps.length;
    const old = Math.floor(n / 2);
    const idx = thinIndices(this.values, 0, old, 8);
    const keep = [...idx];
    for (let i = old; i < n; i++) keep.push(i);
    this.steps = keep.map((i) => this.steps[i]);
    this.values = keep.map((i) => this.values[i]);
    this.times = keep.map((i) => this.times[i]);
  }

  push(step, value, time) {
    const n = this.steps.length;
    // Keeps the arrays in step order: a point older than the last goes in its place.
    if (n === 0 || step >= this.steps[n - 1]) {
      this.steps.push(step);
      this.values.push(value);
      this.times.push(time);
      return;
    }
    let i = n;
    while (i > 0 && this.steps[i - 1] > step) i--;
    this.steps.splice(i, 0, step);
    this.values.splice(i, 0, value);
    this.times.splice(i, 0, time);
  }

  get length() {
    return this.steps.length;
  }

  lastValue() {
    return this.values.length ? this.values[this.values.length - 1] : null;
  }
}

// Indices in [from, to) keeping the first, min, max and last of each bucket of `bucket` points.
export function thinIndices(values, from, to, bucket) {
  const out = [];
  for (let b = from; b < to; b += bucket) {
    const end = Math.min(b + bucket, to);
    let lo = b;
    let hi = b;
    for (let i = b; i < end; i++) {
      const v = values[i];
      if (v == null || !Number.isFinite(v)) continue;
      if (!Number.isFinite(values[lo]) || v < values[lo]) lo = i;
      if (!Number.isFinite(values[hi]) || v > values[hi]) hi = i;
    }
    for (const i of [...new Set([b, lo, hi, end - 1])].sort((x, y) => x - y)) out.push(i);
  }
  return out;
}

// Replaces the points of (steps, values) with step in [from, to] by the detail points
// [[step, value], ...] (a finer answer for a zoomed range). Returns new arrays.
export function mergeRange(steps, values, detail, from, to) {
  const outS = [];
  const outV = [];
  let i = 0;
  while (i < steps.length && steps[i] < from) {
    outS.push(steps[i]);
    outV.push(values[i]);
    i++;
  }
  for (const p of detail) {
    if (p[0] < from || p[0] > to) continue;
    outS.push(p[0]);
    outV.push(p[1]);
  }
  while (i < steps.length && steps[i] <= to) i++;
  while (i < steps.length) {
    outS.push(steps[i]);
    outV.push(values[i]);
    i++;
  }
  return { steps: outS, values: outV };
}

// Maps steps to epochs and to wall time by piecewise-linear interpolation between known
// anchors, so every series can be drawn against step, epoch or time on one x axis.
export class Clock {
  constructor() {
    this.epochAnchors = [[0, 0]]; // [step, epochs done], from the trainer's `epoch` series
    this.timeAnchors = []; // [step, time]
  }

  addEpoch(step, epochsDone) {
    insertAnchor(this.epochAnchors, step, epochsDone);
  }

  addTime(step, time) {
    if (time == null || !Number.isFinite(time)) return;
    insertAnchor(this.timeAnchors, step, time);
  }

  epochAt(step) {
    return interpolate(this.epochAnchors, step);
  }

  timeAt(step) {
    return interpolate(this.timeAnchors, step);
  }

  // The step at a given x (the inverse, for zoom requests that ask the server by step).
  stepAtEpoch(epoch) {
    return interpolate(this.epochAnchors.map(([s, e]) => [e, s]), epoch);
  }

  stepAtTime(time) {
    return interpolate(this.timeAnchors.map(([s, t]) => [t, s]), time);
  }
}

function insertAnchor(anchors, x, y) {
  const n = anchors.length;
  if (n === 0 || x > anchors[n - 1][0]) {
    anchors.push([x, y]);
    return;
  }
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (anchors[mid][0] < x) lo = mid + 1;
    else hi = mid;
  }
  if (lo < n && anchors[lo][0] === x) anchors[lo][1] = y;
  else anchors.splice(lo, 0, [x, y]);
}

// anchors sorted by x; outside them, the nearest segment's slope goes on.
export function interpolate(anchors, x) {
  const n = anchors.length;
  if (n === 0) return null;
  if (n === 1) return anchors[0][1];
  let lo = 0;
  let hi = n - 1;
  if (x <= anchors[0][0]) {
    hi = 1;
  } else if (x >= anchors[n - 1][0]) {
    lo = n - 2;
    hi = n - 1;
  } else {
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (anchors[mid][0] <= x) lo = mid;
      else hi = mid;
    }
  }
  const [x0, y0] = anchors[lo];
  const [x1, y1] = anchors[hi];
  if (x1 === x0) return y1;
  return y0 + ((x - x0) * (y1 - y0)) / (x1 - x0);
}
