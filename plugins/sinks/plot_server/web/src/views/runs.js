// Past runs from the run store: pick up to three to draw over the live curves, dashed.
import { h, s as svg } from '../dom.js';
import { fetchRuns, fetchPastSeriesList, fetchPastSeries, eachLimited } from '../api.js';
import { PastRun, pastRuns, seriesToFetch, overlayDash, runLabel, MAX_OVERLAYS } from '../lib/overlay.js';
import { formatDuration, formatValue } from '../lib/format.js';

const REFRESH_MS = 30000;

export class RunsView {
  // app: the page's state (series names, trainer, run); onChange(list of PastRun) redraws.
  constructor(root, app, onChange) {
    this.app = app;
    this.onChange = onChange;
    this.selected = new Map(); // id -> PastRun
    this.loading = new Set();
    this.runs = [];
    this.current = null;
    this.allPipelines = false;
    this.note = h('div.hint.runs-note');
    this.list = h('div.runs', { 'data-testid': 'past-runs' });
    this.allBox = h('input', {
      type: 'checkbox',
      onchange: (e) => {
        this.allPipelines = e.target.checked;
        this.render();
      },
    });
    root.append(
      h('div.card-head', h('h2', 'Past runs'),
        h('div.toolbar', h('label.tool.check', { title: 'runs of every pipeline, not only this one' }, this.allBox, 'All pipelines'))),
      this.list,
      this.note);
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  async refresh() {
    let answer;
    try {
      answer = await fetchRuns({ limit: 50 });
    } catch (e) {
      this.note.textContent = `Past runs cannot be read: ${e.message}`;
      return;
    }
    this.available = answer.available;
    this.reason = answer.reason || '';
    this.current = answer.current;
    this.runs = answer.runs || [];
    this.render();
  }

  render() {
    if (this.available === false) {
      this.list.replaceChildren(h('div.empty', this.reason || 'No run store'));
      this.note.textContent = '';
      return;
    }
    const pipeline = this.allPipelines ? '' : (this.app.run && this.app.run.name) || '';
    const runs = pastRuns(this.runs, this.current, pipeline);
    if (!runs.length) {
      this.list.replaceChildren(h('div.empty', pipeline
        ? `No past runs of ${pipeline} yet: every tributary run is recorded in the run store.`
        : 'No past runs yet: every tributary run is recorded in the run store.'));
      this.note.textContent = '';
      return;
    }
    this.list.replaceChildren(...runs.map((r) => this.row(r)));
    this.note.textContent = `Tick up to ${MAX_OVERLAYS} to draw their curves over this run's, dashed.`;
  }

  row(run) {
    const picked = this.selected.get(run.id);
    const box = h('input', {
      type: 'checkbox',
      checked: !!picked,
      disabled: this.loading.has(run.id),
      'aria-label': `overlay run ${run.id}`,
      onchange: (e) => this.toggle(run, e.target.checked),
    });
    // How its lines are dashed in the curves.
    const swatch = picked
      ? svg('svg', { class: 'dash-swatch', width: 28, height: 8, viewBox: '0 0 28 8' },
        svg('line', { x1: 0, y1: 4, x2: 28, y2: 4, 'stroke-dasharray': overlayDash(picked.index).join(' ') }))
      : null;
    const headline = run.headline ? `${run.headline.name} ${formatValue(run.headline.value)}` : 'no metrics';
    const duration = run.duration_s != null ? formatDuration(run.duration_s) : 'running';
    return h('label.run-row', { 'data-run': run.id, title: run.id },
      box,
      h('span.run-when', runLabel(run)),
      h(`span.badge.small.state-${run.status}`, run.status),
      h('span.run-headline', headline),
      h('span.run-duration', duration),
      this.allPipelines ? h('span.past-name', run.name) : null,
      swatch);
  }

  async toggle(run, on) {
    if (!on) {
      this.selected.delete(run.id);
      this.changed();
      return;
    }
    if (this.selected.size >= MAX_OVERLAYS) {
      this.note.textContent = `At most ${MAX_OVERLAYS} past runs at once: untick one first.`;
      this.render();
      return;
    }
    const used = new Set([...this.selected.values()].map((p) => p.index));
    let index = 0;
    while (used.has(index)) index++;
    const past = new PastRun(run, index);
    this.loading.add(run.id);
    this.render();
    try {
      const list = await fetchPastSeriesList(run.id);
      const names = seriesToFetch((list.series || []).map((s) => s.name), [...this.app.series.keys()], this.app.trainer);
      await eachLimited(names, 4, async (name) => {
        const r = await fetchPastSeries(run.id, name);
        past.add(name, r.points || [], this.app.trainer);
      });
      this.selected.set(run.id, past);
      if (!names.length) this.note.textContent = `Run ${run.id} has none of this run's series.`;
    } catch (e) {
      this.note.textContent = `Run ${run.id} cannot be read: ${e.message}`;
    } finally {
      this.loading.delete(run.id);
    }
    this.changed();
  }

  changed() {
    this.render();
    this.onChange([...this.selected.values()].sort((a, b) => a.index - b.index));
  }

  // The live run (re)started: drop what was drawn, list again.
  reset() {
    this.selected.clear();
    this.onChange([]);
    this.refresh();
  }
}
