// The log console: a live tail with a level filter and a search box.
import { h } from '../dom.js';
import { getJSON } from '../api.js';
import { formatTimeOfDay } from '../lib/format.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
const KEEP = 3000;

function levelIndex(l) {
  const i = LEVELS.indexOf(String(l).toLowerCase().replace('warning', 'warn').replace('critical', 'error'));
  return i < 0 ? 2 : i;
}

export class LogView {
  constructor(root) {
    this.lines = [];
    this.seen = new Set();
    this.level = 'info';
    this.search = '';
    this.follow = true;
    this.levelSelect = h('select', { 'aria-label': 'Level', 'data-testid': 'log-level', onchange: (e) => { this.level = e.target.value; this.refetch(); } },
      LEVELS.map((l) => h('option', { value: l, text: l === 'trace' ? 'all (trace)' : `${l}+` })));
    this.levelSelect.value = this.level;
    this.searchBox = h('input', { type: 'search', placeholder: 'Search logs', 'aria-label': 'Search logs', 'data-testid': 'log-search', oninput: (e) => { this.search = e.target.value; this.renderAll(); clearTimeout(this.searchTimer); this.searchTimer = setTimeout(() => this.refetch(), 300); } });
    this.followBox = h('input', { type: 'checkbox', checked: true, onchange: (e) => { this.follow = e.target.checked; if (this.follow) this.scrollEnd(); } });
    this.count = h('span.hint');
    this.list = h('div.log-list', { 'data-testid': 'logs', role: 'log' });
    this.list.addEventListener('scroll', () => {
      const atEnd = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 24;
      if (this.follow !== atEnd) {
        this.follow = atEnd;
        this.followBox.checked = atEnd;
      }
    });
    root.append(
      h('div.card-head', h('h2', 'Log'),
        h('div.toolbar', this.levelSelect, this.searchBox, h('label.tool.check', this.followBox, 'Follow'), this.count)),
      this.list);
  }

  matches(line) {
    if (levelIndex(line.level) < levelIndex(this.level)) return false;
    if (this.search && !`${line.node} ${line.message}`.toLowerCase().includes(this.search.toLowerCase())) return false;
    return true;
  }

  reset() {
    this.lines = [];
    this.seen.clear();
    this.list.replaceChildren();
  }

  // Older lines from the server for the current filter (the page keeps only the newest).
  async refetch() {
    const q = new URLSearchParams({ level: this.level, limit: '500' });
    if (this.search) q.set('search', this.search);
    try {
      const r = await getJSON(`/api/logs?${q}`);
      this.add(r.lines || []);
    } catch (e) {
      console.warn(e.message);
    }
  }

  add(lines) {
    let added = false;
    for (const line of lines) {
      if (this.seen.has(line.seq)) continue;
      this.seen.add(line.seq);
      this.lines.push(line);
      added = true;
    }
    if (!added) return;
    // Older lines fetched after live ones go in their place.
    this.lines.sort((a, b) => a.seq - b.seq);
    if (this.lines.length > KEEP) {
      for (const l of this.lines.splice(0, this.lines.length - KEEP)) this.seen.delete(l.seq);
    }
    this.renderAll();
  }

  renderAll() {
    const shown = this.lines.filter((l) => this.matches(l)).slice(-800);
    this.list.replaceChildren(...shown.map((l) => this.row(l)));
    this.count.textContent = `${shown.length} line${shown.length === 1 ? '' : 's'}`;
    if (!shown.length) this.list.append(h('div.empty', this.lines.length ? 'No line matches' : 'No log lines yet'));
    if (this.follow) this.scrollEnd();
  }

  row(l) {
    const lvl = LEVELS[levelIndex(l.level)];
    const msg = h('span.log-msg');
    if (this.search) {
      const text = String(l.message);
      const i = text.toLowerCase().indexOf(this.search.toLowerCase());
      if (i >= 0) msg.append(text.slice(0, i), h('mark', text.slice(i, i + this.search.length)), text.slice(i + this.search.length));
      else msg.textContent = text;
    } else {
      msg.textContent = l.message;
    }
    return h('div.log-line', { class: `lvl-${lvl}` },
      h('span.log-time', formatTimeOfDay(l.time, true)), h('span.log-level', lvl), h('span.log-node', l.node || ''), msg);
  }

  scrollEnd() {
    this.list.scrollTop = this.list.scrollHeight;
  }
}
