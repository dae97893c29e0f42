// CSV and JSON renderings of a series for download.

function cell(v) {
  if (v == null) return '';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
    return String(v);
  }
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// rows: arrays of cells; RFC 4180 with \n line ends and a header line.
export function toCSV(header, rows) {
  const lines = [header.map(cell).join(',')];
  for (const row of rows) lines.push(row.map(cell).join(','));
  return lines.join('\n') + '\n';
}

// Joins the server's step-indexed and time-indexed answers for one series into rows
// {step, time, value}. Both come in the same order; time is left out when the lengths differ.
export function seriesRows(stepPoints, timePoints) {
  const withTime = timePoints && timePoints.length === stepPoints.length;
  return stepPoints.map((p, i) => ({
    step: p[0],
    time: withTime ? timePoints[i][0] : null,
    value: p[1],
  }));
}

export function seriesCSV(rows) {
  return toCSV(['step', 'time', 'value'], rows.map((r) => [r.step, r.time, r.value]));
}

export function seriesJSON(name, rows) {
  const clean = (v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);
  return JSON.stringify({ name, points: rows.map((r) => ({ step: r.step, time: r.time, value: clean(r.value) })) }, null, 1);
}

// A file name for a series: train:val/loss -> train_val_loss.csv
export function fileName(name, ext) {
  return `${name.replace(/[^A-Za-z0-9._-]+/g, '_')}.${ext}`;
}
