// The pipeline graph: nodes and links as the file declares them, laid out by dagre, with each
// node's live packets/s, queue depth and drops.
import { Graph, layout } from '@dagrejs/dagre';
import { h, s } from '../dom.js';
import { Throughput, formatRate } from '../lib/throughput.js';

const NODE_W = 118;
const NODE_H = 64;

export class GraphView {
  constructor(root) {
    this.svgHost = h('div.graph', { 'data-testid': 'graph' });
    root.append(h('div.card-head', h('h2', 'Pipeline')), this.svgHost);
    this.throughput = new Throughput(0.5);
    this.graph = null;
    this.stats = new Map(); // node -> {rate, queue, drops, busy}
  }

  setGraph(graph) {
    this.graph = graph;
    if (graph && graph.telemetry) this.setTelemetry(graph.telemetry, false);
    this.render();
  }

  setTelemetry(nodes, draw = true) {
    const rates = this.throughput.update(nodes, performance.now() / 1000);
    for (const [name, tel] of Object.entries(nodes || {})) {
      const r = rates.get(name);
      this.stats.set(name, { rate: r ? r.out : null, rateIn: r ? r.in : null, ...tel });
    }
    if (draw) this.updateStats();
  }

  render() {
    const g = this.graph;
    this.svgHost.replaceChildren();
    if (!g || !g.nodes || !g.nodes.length) {
      this.svgHost.append(h('div.empty', 'No graph yet'));
      return;
    }
    const dg = new Graph({ multigraph: true });
    dg.setGraph({ rankdir: 'TB', nodesep: 12, ranksep: 30, marginx: 8, marginy: 8 });
    dg.setDefaultEdgeLabel(() => ({}));
    for (const n of g.nodes) dg.setNode(n.name, { width: NODE_W, height: NODE_H });
    (g.links || []).forEach((l, i) => {
      if (dg.hasNode(l.from) && dg.hasNode(l.to)) dg.setEdge(l.from, l.to, { link: l }, `e${i}`);
    });
    layout(dg);
    const { width, height } = dg.graph();
    const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': 'pipeline graph' });
    svg.style.maxHeight = `${Math.max(height, 120)}px`;
    svg.append(s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
      s('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow-head' }))));
    for (const e of dg.edges()) {
      const edge = dg.edge(e);
      const pts = edge.points;
      const l = edge.link;
      let d = `M ${pts[0].x} ${pts[0].y}`;
      for (let i = 1; i < pts.length - 1; i++) {
        const mx = (pts[i].x + pts[i + 1].x) / 2;
        const my = (pts[i].y + pts[i + 1].y) / 2;
        d += ` Q ${pts[i].x} ${pts[i].y} ${i === pts.length - 2 ? pts[i + 1].x : mx} ${i === pts.length - 2 ? pts[i + 1].y : my}`;
      }
      if (pts.length === 2) d += ` L ${pts[1].x} ${pts[1].y}`;
      const title = `${l.text || `${l.from}.${l.from_port} -> ${l.to}.${l.to_port}`}${l.policy ? ` · ${l.policy}` : ''}${l.capacity ? ` · capacity ${l.capacity}` : ''}`;
      const group = s('g', { class: 'edge' }, s('title', {}, title), s('path', { d, 'marker-end': 'url(#arrow)' }));
      const port = l.from_port && l.from_port !== 'out' ? l.from_port : '';
      if (port) {
        const mid = pts[Math.floor(pts.length / 2)];
        group.append(s('text', { x: mid.x + 4, y: mid.y - 2, class: 'edge-label' }, port));
      }
      svg.append(group);
    }
    this.nodeEls = new Map();
    for (const n of g.nodes) {
      const p = dg.node(n.name);
      const x = p.x - NODE_W / 2;
      const y = p.y - NODE_H / 2;
      const statText = s('text', { x: x + 10, y: y + 44, class: 'node-stats' }, '');
      const dropText = s('text', { x: x + 10, y: y + 57, class: 'node-stats' }, '');
      const rect = s('rect', { x, y, width: NODE_W, height: NODE_H, rx: 8, class: `node-box family-${n.family || 'other'}` });
      const el = s('g', { class: 'node', 'data-node': n.name },
        s('title', {}, `${n.name}: ${n.type}${n.family ? ` (${n.family})` : ''}\ninputs: ${(n.inputs || []).join(', ') || '–'}\noutputs: ${(n.outputs || []).join(', ') || '–'}${n.concurrency ? `\nconcurrency: ${n.concurrency}` : ''}${n.source === true ? '\na source' : ''}${n.line ? `\npipeline file line ${n.line}` : ''}`),
        rect,
        s('rect', { x, y, width: 4, height: NODE_H, rx: 2, class: `node-accent family-${n.family || 'other'}` }),
        s('text', { x: x + 10, y: y + 18, class: 'node-name' }, n.name),
        s('text', { x: x + 10, y: y + 32, class: 'node-type' }, n.type || ''),
        statText, dropText);
      this.nodeEls.set(n.name, { statText, dropText, rect });
      svg.append(el);
    }
    this.svgHost.append(svg);
    this.updateStats();
  }

  updateStats() {
    if (!this.nodeEls) return;
    for (const [name, { statText, dropText, rect }] of this.nodeEls) {
      const st = this.stats.get(name);
      if (!st) {
        statText.textContent = '';
        dropText.textContent = '';
        continue;
      }
      // Sinks send nothing on: their rate is what they take in.
      const rate = st.rate != null && st.rate > 0 ? st.rate : st.rateIn;
      statText.textContent = `${formatRate(rate)} pkt/s · q ${st.queue_depth ?? 0}`;
      const drops = (st.drops || 0) + (st.bus_drops || 0);
      dropText.textContent = `${drops} drop${drops === 1 ? '' : 's'}`;
      rect.classList.toggle('dropping', drops > 0);
      dropText.classList.toggle('warn', drops > 0);
    }
  }
}
