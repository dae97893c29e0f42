// The confusion matrix of the latest evaluation, as a heat-map table (rows: true class).
import { h } from '../dom.js';
import { confusionMatrices } from '../lib/confusion.js';

export class ConfusionView {
  constructor(root) {
    this.split = null;
    this.splitSelect = h('select', { 'aria-label': 'Split', onchange: (e) => { this.split = e.target.value; this.render(); } });
    this.summary = h('span.hint');
    this.body = h('div.confusion', { 'data-testid': 'confusion' });
    root.append(h('div.card-head', h('h2', 'Confusion matrix'), h('div.toolbar', this.splitSelect, this.summary)), this.body);
    this.matrices = {};
  }

  update(latest) {
    this.matrices = confusionMatrices(latest);
    this.render();
  }

  render() {
    const splits = Object.keys(this.matrices).sort((a, b) => ['test', 'val', 'train'].indexOf(a) - ['test', 'val', 'train'].indexOf(b));
    const key = splits.join(',');
    if (key !== this.splitKey) {
      this.splitKey = key;
      this.splitSelect.replaceChildren(...splits.map((sp) => h('option', { value: sp, text: sp })));
    }
    if (!this.split || !splits.includes(this.split)) this.split = splits[0] || null;
    this.splitSelect.value = this.split || '';
    this.splitSelect.hidden = splits.length < 2;
    const m = this.split && this.matrices[this.split];
    if (!m) {
      this.body.replaceChildren(h('div.empty', 'Shown after the first evaluation'));
      this.summary.textContent = '';
      return;
    }
    this.summary.textContent = `${this.split} · ${m.total} examples · ${m.total ? ((100 * m.correct) / m.total).toFixed(1) : 0}% correct`;
    const rowsMax = m.counts.map((row) => row.reduce((a, b) => a + b, 0));
    const head = h('tr', h('th.corner', { title: 'rows: true class, columns: predicted' }, 'true \\ pred'), m.classes.map((c) => h('th', { title: `predicted ${c}` }, c)));
    const rows = m.counts.map((row, i) => h('tr',
      h('th', { title: `true ${m.classes[i]}` }, m.classes[i]),
      row.map((v, j) => {
        const frac = rowsMax[i] ? v / rowsMax[i] : 0;
        const cell = h('td', { title: `true ${m.classes[i]}, predicted ${m.classes[j]}: ${v} (${(frac * 100).toFixed(1)}% of the row)` }, v ? String(v) : '');
        cell.style.setProperty('--heat', frac.toFixed(3));
        cell.classList.add(i === j ? 'diag' : 'off');
        if (frac > 0.55) cell.classList.add('strong');
        return cell;
      })));
    this.body.replaceChildren(h('table.matrix', h('thead', head), h('tbody', rows)));
  }
}
