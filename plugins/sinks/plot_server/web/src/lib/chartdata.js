// One series as a uPlot table [xs, raw ys, smoothed ys] on the chosen x axis.
import { smooth } from './smoothing.js';

// A learning rate or a running best is a step function: smoothing would only blur it.
export function isStepFunction(metric) {
  return metric === 'lr' || metric.endsWith('/lr') || metric.startsWith('best/');
}

// xOf(step, time) -> x or null. Points whose x is unknown or goes back are left out (uPlot
// wants x ascending); of points at the same x the last wins. Non-finite values, and on a log
// scale values <= 0, become gaps.
export function seriesTable({ steps, values, times }, xOf, { log = false, mode = 'ema', amount = 0 } = {}, metric = '') {
  const xs = [];
  const ys = [];
  for (let i = 0; i < steps.length; i++) {
    const x = xOf(steps[i], times ? times[i] : null);
    if (x == null || !Number.isFinite(x)) continue;
    if (xs.length && x < xs[xs.length - 1]) continue;
    let y = values[i];
    if (typeof y !== 'number' || !Number.isFinite(y)) y = null;
    if (log && y != null && y <= 0) y = null;
    if (xs.length && x === xs[xs.length - 1]) {
      ys[ys.length - 1] = y;
      continue;
    }
    xs.push(x);
    ys.push(y);
  }
  const smoothed = amount > 0 && !isStepFunction(metric) ? smooth(ys, mode, amount) : ys;
  return [xs, ys, smoothed];
}
