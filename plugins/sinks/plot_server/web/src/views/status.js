// Status: the run's state, progress and resources.
import { h } from '../dom.js';
import { formatDuration, formatBytes, formatValue, toSeconds } from '../lib/format.js';

const STATES = ['starting', 'running', 'paused', 'stopping', 'finished', 'failed', 'stopped'];

function tile(label, testid) {
  const value = h('div.tile-value', { 'data-testid': testid }, '–');
  const sub = h('div.tile-sub');
  return { el: h('div.tile', h('div.tile-label', label), value, sub), value, sub };
}

function baseName(path) {
  if (!path) return '–';
  return path.split('/').pop();
}

export class StatusView {
  constructor(headEl, stripEl) {
    this.badge = h('span.badge', { 'data-testid': 'state' }, '…');
    this.runName = h('span.run-name', { 'data-testid': 'run-name' });
    this.runId = h('span.run-id');
    headEl.append(this.runName, this.runId, this.badge);

    this.epoch = tile('Epoch', 'epoch');
    this.bar = h('div.bar-fill');
    this.epoch.el.append(h('div.bar', this.bar));
    this.step = tile('Step', 'step');
    this.eta = tile('ETA', 'eta');
    this.elapsed = tile('Elapsed', 'elapsed');
    this.rate = tile('Samples/s', 'samples');
    this.best = tile('Best', 'best');
    this.ckpt = tile('Checkpoints', 'checkpoints');
    this.cpu = tile('CPU', 'cpu');
    this.mem = tile('Memory', 'memory');
    this.epoch.el.classList.add('wide');
    this.best.el.classList.add('wide');
    this.ckpt.el.classList.add('wide');
    stripEl.append(...[this.epoch, this.step, this.eta, this.elapsed, this.rate, this.best, this.ckpt, this.cpu, this.mem].map((t) => t.el));
    this.run = null;
    this.liveStep = null;
    this.receivedAt = 0;
    setInterval(() => this.tick(), 1000);
  }

  // A new connection: the values seen live belonged to the old one (maybe another run).
  reset() {
    this.liveStep = null;
    this.liveRate = null;
    this.liveEta = null;
    this.liveProgress = null;
  }

  setRun(run) {
    this.run = run;
    this.receivedAt = performance.now();
    this.render();
  }

  // The newest step and values seen in the live points (the status comes only on changes).
  setLive({ step, samplesPerS, etaS, progress }) {
    if (step != null) this.liveStep = Math.max(this.liveStep ?? step, step);
    if (samplesPerS != null) this.liveRate = samplesPerS;
    if (etaS != null) this.liveEta = etaS;
    if (progress != null) this.liveProgress = progress;
    this.render();
  }

  running() {
    return this.run && (this.run.state === 'running' || this.run.state === 'starting');
  }

  tick() {
    if (this.running()) this.renderElapsed();
  }

  renderElapsed() {
    const r = this.run;
    if (!r) return;
    const extra = this.running() ? (performance.now() - this.receivedAt) / 1000 : 0;
    this.elapsed.value.textContent = formatDuration((r.elapsed_s ?? 0) + extra);
    const t0 = toSeconds(r.start_time);
    this.elapsed.sub.textContent = t0 != null ? `since ${new Date(t0 * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false })}` : '';
  }

  render() {
    const r = this.run;
    if (!r) return;
    const state = STATES.includes(r.state) ? r.state : 'starting';
    this.badge.textContent = state;
    this.badge.className = `badge state-${state}`;
    this.badge.title = r.reason || '';
    this.runName.textContent = r.title || r.name || r.pipeline || 'run';
    document.title = `${this.runName.textContent} · ${state} · Tributary`;
    this.runId.textContent = r.id == null ? '' : /^\d+$/.test(String(r.id)) ? `#${r.id}` : String(r.id);
    this.runId.title = r.dir || '';

    const epochs = r.epochs;
    const epoch = r.epoch;
    this.epoch.value.textContent = epoch != null ? (epochs ? `${epoch} / ${epochs}` : String(epoch)) : '–';
    const progress = Math.max(0, Math.min(1, r.progress ?? this.liveProgress ?? 0));
    this.bar.style.width = `${(progress * 100).toFixed(1)}%`;
    this.epoch.sub.textContent = `${(progress * 100).toFixed(0)}% done`;

    const step = Math.max(r.step ?? 0, this.liveStep ?? 0);
    this.step.value.textContent = String(step);
    const eta = state === 'running' ? (this.liveEta ?? r.eta_s) : null;
    this.eta.value.textContent = state === 'running' ? formatDuration(eta) : state === 'finished' ? 'done' : '–';
    this.renderElapsed();
    const rate = this.liveRate ?? r.samples_per_s;
    this.rate.value.textContent = rate != null ? formatValue(Math.round(rate)) : '–';

    if (r.best) {
      this.best.value.textContent = formatValue(r.best.value);
      this.best.sub.textContent = `${r.best.name || ''} · epoch ${r.best.epoch ?? '–'}`;
      this.best.sub.title = `${r.best.name || ''} at epoch ${r.best.epoch ?? '–'}, step ${r.best.step ?? '–'}`;
    } else {
      this.best.value.textContent = '–';
      this.best.sub.textContent = '';
    }
    const ck = r.checkpoints || {};
    const newest = ck.newest;
    const best = ck.best;
    this.ckpt.value.textContent = newest ? `step ${newest.step ?? '–'}` : 'none yet';
    this.ckpt.value.title = newest ? `newest: ${newest.path}` : '';
    const parts = [];
    if (newest && newest.epoch != null) parts.push(`epoch ${newest.epoch}`);
    if (best) parts.push(best.path === (newest && newest.path) ? 'the best' : `best: step ${best.step ?? baseName(best.path)}`);
    this.ckpt.sub.textContent = parts.join(' · ');
    this.ckpt.sub.title = best ? `best: ${best.path} (step ${best.step}, epoch ${best.epoch})` : '';

    const p = r.process || {};
    this.cpu.value.textContent = p.cpu_percent != null ? `${p.cpu_percent.toFixed(0)}%` : '–';
    this.mem.value.textContent = formatBytes(p.rss_bytes);
    if (p.gpu_percent != null) this.cpu.sub.textContent = `GPU ${p.gpu_percent.toFixed(0)}%`;
  }
}
