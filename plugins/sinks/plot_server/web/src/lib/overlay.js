// Past runs drawn over the live curves: each keeps its points by series name, and maps them onto
// the chart's x axis with a clock of its own (its steps, its epochs, its time since its start).
import { Clock } from './series.js';
import { splitName, isConfusion, isModel, isProgress } from './grouping.js';

// The most past runs drawn at once, and how each one's lines are dashed.
export const MAX_OVERLAYS = 3;
const DASHES = [[7, 4], [2, 3], [10, 3, 2, 3]];

export function overlayDash(index) {
  return DASHES[index % DASHES.length];
}

// "12-03 09:14" from a start time in seconds since the Unix epoch (local time).
export function runLabel(run) {
  const d = new Date((run.start_time || 0) * 1000);
  const two = (n) => String(n).padStart(2, '0');
  return `${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

// The runs to offer: every run but the live one, the newest first; `pipeline` set: of that
// pipeline only.
export function pastRuns(runs, current, pipeline = '') {
  return (runs || []).filter((r) => r.id !== current && (!pipeline || r.name === pipeline));
}

// Which of a past run's series to fetch: those drawn as curves (not confusion counts, model
// statistics, progress or telemetry), the ones the live page has first, at most `limit`; and the
// trainer's epoch series for its clock.
export function seriesToFetch(pastNames, liveNames, trainer, limit = 60) {
  const live = new Set(liveNames);
  const curve = (n) => {
    const { metric } = splitName(n);
    return !isConfusion(metric) && !isModel(metric) && !isProgress(metric) && !metric.startsWith('telemetry/');
  };
  const wanted = pastNames.filter(curve);
  const out = [...wanted.filter((n) => live.has(n)), ...wanted.filter((n) => !live.has(n))].slice(0, limit);
  const epoch = `${trainer}:epoch`;
  if (trainer && pastNames.includes(epoch) && !out.includes(epoch)) out.push(epoch);
  return out;
}

export class PastRun {
  constructor(run, index) {
    this.id = run.id;
    this.run = run;
    this.index = index;
    this.label = runLabel(run);
    this.startTime = run.start_time || 0;
    this.clock = new Clock();
    this.series = new Map(); // name -> {steps, values, times}
  }

  // points: [[step, value, time], ...] as GET /api/runs/ID/series/NAME answers, in step order.
  add(name, points, trainer) {
    const steps = [];
    const values = [];
    const times = [];
    for (const [step, value, time] of points) {
      steps.push(step);
      values.push(value);
      times.push(time);
    }
    this.series.set(name, { steps, values, times });
    const { node, metric } = splitName(name);
    if (node === trainer && metric === 'epoch') for (const [step, value] of points) this.clock.addEpoch(step, value);
    if (node === trainer) for (const [step, , time] of points) this.clock.addTime(step, time);
  }

  has(name) {
    return this.series.has(name);
  }

  // x of a point on the axis the charts show: step, epoch, or seconds since this run's start
  // (the live run's time axis counts from its own start, so runs line up at their beginnings).
  xOf(step, time, axis) {
    if (axis === 'epoch') return this.clock.epochAt(step);
    if (axis === 'time') {
      const t = time ?? this.clock.timeAt(step);
      return t == null ? null : t - this.startTime;
    }
    return step;
  }
}
