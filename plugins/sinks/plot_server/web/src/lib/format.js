// Numbers, durations and sizes as the page shows them.

export function formatDuration(s) {
  if (s == null || !Number.isFinite(s) || s < 0) return '–';
  s = Math.round(s);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

export function formatBytes(b) {
  if (b == null || !Number.isFinite(b)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) {
    b /= 1024;
    i++;
  }
  return `${b.toFixed(b >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

// Significant digits that suit a metric value: 0.012345 -> 0.01235, 1234.5 -> 1234.5
export function formatValue(v) {
  if (v == null) return '–';
  if (typeof v !== 'number') return String(v);
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-4) return v.toExponential(3);
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}

// Elapsed seconds as an x-axis label: 0:42, 12:05, 1:02:03
export function formatClock(s) {
  if (s == null || !Number.isFinite(s)) return '';
  const neg = s < 0;
  s = Math.abs(Math.round(s));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  const body = h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
  return neg ? `-${body}` : body;
}

// A time from the server: seconds since the epoch, milliseconds, or an ISO string -> seconds.
export function toSeconds(t) {
  if (t == null) return null;
  if (typeof t === 'number') return t > 1e11 ? t / 1000 : t;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms / 1000;
}

// A server time as the local time of day: 14:02:56 (with milliseconds: 14:02:56.123).
export function formatTimeOfDay(t, withMs = false) {
  const sec = toSeconds(t);
  if (sec == null) return t == null ? '' : String(t);
  const d = new Date(sec * 1000);
  const hms = d.toLocaleTimeString([], { hour12: false });
  return withMs ? `${hms}.${String(d.getMilliseconds()).padStart(3, '0')}` : hms;
}
