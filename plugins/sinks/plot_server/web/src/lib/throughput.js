// Per-node packets/s from successive telemetry snapshots ({NODE: {packets_out, ...}}).

export class Throughput {
  constructor(alpha = 0.5) {
    this.alpha = alpha; // weight of the newest rate in the shown (smoothed) rate
    this.last = new Map(); // node -> { t, out, in }
    this.rates = new Map(); // node -> { out, in }
  }

  // t in seconds. Returns the rates after this snapshot.
  update(nodes, t) {
    for (const [node, tel] of Object.entries(nodes || {})) {
      const prev = this.last.get(node);
      const out = Number(tel.packets_out) || 0;
      const inn = Number(tel.packets_in) || 0;
      if (prev && t > prev.t) {
        const dt = t - prev.t;
        // A counter that went back (a restarted node) starts over rather than going negative.
        const rOut = out >= prev.out ? (out - prev.out) / dt : 0;
        const rIn = inn >= prev.in ? (inn - prev.in) / dt : 0;
        const old = this.rates.get(node);
        this.rates.set(node, old
          ? { out: old.out + this.alpha * (rOut - old.out), in: old.in + this.alpha * (rIn - old.in) }
          : { out: rOut, in: rIn });
      }
      this.last.set(node, { t, out, in: inn });
    }
    return this.rates;
  }

  rate(node) {
    return this.rates.get(node) || null;
  }
}

// 1234.5 -> "1.23k"
export function formatRate(r) {
  if (r == null || !Number.isFinite(r)) return '–';
  if (r >= 1e6) return `${(r / 1e6).toFixed(2)}M`;
  if (r >= 1e4) return `${(r / 1e3).toFixed(1)}k`;
  if (r >= 1e3) return `${(r / 1e3).toFixed(2)}k`;
  if (r >= 100) return r.toFixed(0);
  if (r >= 10) return r.toFixed(1);
  return r.toFixed(2);
}
