// Controls: stop, pause/resume, learning rate, checkpoint; each request and its replies
// (accepted, the step it took effect at, text) in a history.
import { h } from '../dom.js';
import { postControl } from '../api.js';
import { formatValue, formatTimeOfDay } from '../lib/format.js';

export class ControlsView {
  constructor(root) {
    this.entries = new Map(); // key -> {request, replies, time, error, pending}
    this.trainer = '';
    this.state = null;
    this.pauseBtn = h('button.btn', { 'data-testid': 'pause', onclick: () => this.togglePause() }, 'Pause');
    this.ckptBtn = h('button.btn', { 'data-testid': 'checkpoint', onclick: () => this.send({ verb: 'checkpoint', target: this.trainer }) }, 'Checkpoint now');
    this.stopBtn = h('button.btn.danger', { 'data-testid': 'stop', onclick: () => this.stopClicked() }, 'Stop');
    this.lrInput = h('input', { type: 'number', step: 'any', min: '0', placeholder: 'learning rate', 'aria-label': 'Learning rate', 'data-testid': 'lr-input',
      onkeydown: (e) => { if (e.key === 'Enter') this.setLr(); } });
    this.lrBtn = h('button.btn', { 'data-testid': 'lr-set', onclick: () => this.setLr() }, 'Set');
    this.lrNow = h('span.hint');
    this.history = h('div.history', { 'data-testid': 'control-history' });
    root.append(
      h('div.card-head', h('h2', 'Controls')),
      h('div.controls-row', this.pauseBtn, this.ckptBtn, this.stopBtn),
      h('div.controls-row', h('label.tool', 'lr', this.lrInput), this.lrBtn, this.lrNow),
      this.history);
    this.renderHistory();
  }

  setTrainer(name) {
    this.trainer = name || '';
    this.lrBtn.disabled = !this.trainer;
  }

  // The learning rate in effect (the newest point of the trainer's lr series).
  showLr(value) {
    this.lrNow.textContent = value != null ? `now ${formatValue(value)}` : '';
  }

  setLr() {
    const v = Number(this.lrInput.value);
    if (!this.lrInput.value || !(v > 0)) {
      this.lrInput.classList.add('invalid');
      setTimeout(() => this.lrInput.classList.remove('invalid'), 1200);
      return;
    }
    this.send({ verb: 'set', target: this.trainer, key: 'lr', value: v });
  }

  setState(state) {
    this.state = state;
    const over = ['finished', 'failed', 'stopped'].includes(state);
    this.pauseBtn.textContent = state === 'paused' ? 'Resume' : 'Pause';
    this.pauseBtn.classList.toggle('primary', state === 'paused');
    for (const b of [this.pauseBtn, this.ckptBtn, this.stopBtn, this.lrBtn]) b.disabled = over;
    if (!this.trainer) this.lrBtn.disabled = true;
    if (over) this.disarmStop();
  }

  togglePause() {
    this.send({ verb: this.state === 'paused' ? 'resume' : 'pause', target: '' });
  }

  // Stop asks once more: a second click within 4 s sends it.
  stopClicked() {
    if (!this.stopArmed) {
      this.stopArmed = true;
      this.stopBtn.textContent = 'Confirm stop';
      this.stopBtn.classList.add('armed');
      this.stopTimer = setTimeout(() => this.disarmStop(), 4000);
      return;
    }
    this.disarmStop();
    this.send({ verb: 'stop', target: '' });
  }

  disarmStop() {
    clearTimeout(this.stopTimer);
    this.stopArmed = false;
    this.stopBtn.textContent = 'Stop';
    this.stopBtn.classList.remove('armed');
  }

  async send(body) {
    const key = `local-${Math.random()}`;
    const entry = { request: body, replies: [], time: Date.now() / 1000, pending: true };
    this.entries.set(key, entry);
    this.renderHistory();
    try {
      const r = await postControl(body);
      entry.pending = false;
      entry.id = r.id;
      entry.replies = r.replies || [];
      // The live `control` messages may have made an entry for this id already.
      if (r.id != null && this.entries.has(`id-${r.id}`)) {
        const other = this.entries.get(`id-${r.id}`);
        for (const rep of other.replies) if (!entry.replies.some((x) => x.node === rep.node)) entry.replies.push(rep);
        this.entries.delete(`id-${r.id}`);
      }
      if (r.id != null) {
        this.entries.delete(key);
        this.entries.set(`id-${r.id}`, entry);
      }
    } catch (e) {
      entry.pending = false;
      entry.error = e.message;
    }
    this.renderHistory();
  }

  // A `control` message of the live stream: a request (maybe from another viewer) and a reply.
  onControl(msg) {
    const req = msg.request || {};
    const key = req.id != null ? `id-${req.id}` : `live-${Math.random()}`;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { request: req, replies: [], time: req.time, pending: false, id: req.id };
      this.entries.set(key, entry);
    }
    const rep = msg.reply;
    if (rep && !entry.replies.some((x) => x.node === rep.node && x.step === rep.step && x.text === rep.text)) entry.replies.push(rep);
    this.renderHistory();
  }

  // The controls listed in the status (those made before this page opened).
  setPast(controls) {
    if (!Array.isArray(controls)) return;
    controls.forEach((c, i) => {
      const key = c.id != null ? `id-${c.id}` : `past-${c.time}-${c.verb}-${i}`;
      const known = this.entries.get(key);
      if (known) {
        known.time = c.time ?? known.time; // the server's clock, when it has the request
        if (!known.request.sender && c.sender) known.request = { ...known.request, sender: c.sender };
        if (!known.pending && (c.replies || []).length > known.replies.length) known.replies = c.replies;
        return;
      }
      if ([...this.entries.values()].some((e) => e.time === c.time && e.request.verb === c.verb && c.time != null)) return;
      this.entries.set(key, { request: c, replies: c.replies || [], time: c.time, pending: false, id: c.id });
    });
    this.renderHistory();
  }

  renderHistory() {
    const list = [...this.entries.values()].reverse().slice(0, 40);
    if (!list.length) {
      this.history.replaceChildren(h('div.empty', 'Requests and their replies show here'));
      return;
    }
    this.history.replaceChildren(...list.map((e) => {
      const r = e.request;
      const what = r.verb === 'set' ? `set ${r.target ? `${r.target}.` : ''}${r.key} = ${r.value}` : `${r.verb}${r.target ? ` ${r.target}` : ''}`;
      const replies = e.error
        ? [h('div.reply.rejected', e.error)]
        : e.pending
          ? [h('div.reply.pending', 'waiting for the reply…')]
          : e.replies.length
            ? e.replies.map((rep) => h('div.reply', { class: rep.accepted ? 'accepted' : 'rejected' },
              h('span.mark', rep.accepted ? '✓' : '✗'),
              h('span', `${rep.node || 'runtime'}${rep.step != null && rep.step >= 0 ? ` · step ${rep.step}` : ''}`),
              rep.text ? h('span.reply-text', rep.text) : null))
            : [h('div.reply.pending', 'no reply')];
      return h('div.history-item', { 'data-verb': r.verb },
        h('div.history-head', h('span.history-what', what), h('span.history-time', formatTimeOfDay(e.time ?? r.time ?? Date.now() / 1000)), r.sender ? h('span.hint', r.sender) : null),
        replies);
    }));
  }
}
