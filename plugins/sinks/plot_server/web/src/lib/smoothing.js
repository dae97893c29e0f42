// Smoothing of a curve's values, as TensorBoard does it. Non-finite values pass through
// unchanged and do not disturb the smoothing of the others.

// Exponential moving average with TensorBoard's debiasing: the first values are not pulled
// towards 0 by the zero start of the average. weight in [0, 1); 0 leaves the values as they are.
export function emaDebiased(values, weight) {
  const out = new Array(values.length);
  if (!(weight > 0)) {
    for (let i = 0; i < values.length; i++) out[i] = values[i];
    return out;
  }
  const w = Math.min(weight, 0.999);
  let last = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const y = values[i];
    if (y == null || !Number.isFinite(y)) {
      out[i] = y;
      continue;
    }
    last = last * w + (1 - w) * y;
    count++;
    out[i] = last / (1 - Math.pow(w, count));
  }
  return out;
}

// Trailing moving average over the last `window` finite values (fewer at the start).
export function movingAverage(values, window) {
  const n = Math.max(1, Math.floor(window));
  const out = new Array(values.length);
  const kept = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const y = values[i];
    if (y == null || !Number.isFinite(y)) {
      out[i] = y;
      continue;
    }
    kept.push(y);
    sum += y;
    if (kept.length > n) sum -= kept.shift();
    out[i] = sum / kept.length;
  }
  return out;
}

// The slider goes 0..1; for the moving average it maps to a window of 1..100 points.
export function windowFromSlider(value) {
  return Math.max(1, Math.round(1 + Math.pow(value, 2) * 99));
}

export function smooth(values, mode, amount) {
  if (mode === 'mean') return movingAverage(values, windowFromSlider(amount));
  return emaDebiased(values, amount);
}
