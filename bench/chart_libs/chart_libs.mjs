// uPlot against Chart.js (with its decimation plugin) at 1,000,000 points in headless Chromium:
// the time to the first render and to the redraw after a zoom to 1% of the x range.
//
//   cd bench/chart_libs && npm ci && node chart_libs.mjs [--points 1000000] [--repeat 5] [--chromium /usr/bin/chromium]
//
// Each library draws the same series (a noisy sine with a few one-point spikes) in a fresh page,
// 1200 x 500 CSS pixels, animations off. The data is made in the page before the clock starts, in
// the form each library wants (uPlot: two Float64Arrays; Chart.js: {x, y} objects with
// `parsing: false`, which its decimation plugin needs). Timed in the page with performance.now():
// from the constructor call to the end of the library's draw (uPlot's `draw` hook, Chart.js's
// `afterRender` plugin hook), then to the next animation frame (the frame on screen); the zoom is
// `setScale('x', ...)` for uPlot and new scale limits + `update('none')` for Chart.js.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const args = { points: 1_000_000, repeat: 5, chromium: '/usr/bin/chromium' };
for (let i = 2; i + 1 < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, '');
  if (!(key in args)) throw new Error(`unknown option ${process.argv[i]}`);
  args[key] = key === 'chromium' ? process.argv[i + 1] : Number(process.argv[i + 1]);
}

const read = (p) => readFileSync(join(here, 'node_modules', p), 'utf8');
const libs = {
  uplot: { version: JSON.parse(read('uplot/package.json')).version, js: read('uplot/dist/uPlot.iife.min.js'),
           css: read('uplot/dist/uPlot.min.css') },
  chartjs: { version: JSON.parse(read('chart.js/package.json')).version, js: read('chart.js/dist/chart.umd.min.js'),
             css: '' },
};

// Runs in the page: builds the data, draws, zooms; returns the times in ms.
async function measure({ lib, n }) {
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
  const y = new Float64Array(n);
  let seed = 1;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < n; i++) y[i] = Math.sin(i / 5000) + 0.2 * (random() - 0.5);
  for (const at of [0.1, 0.405, 0.77]) y[Math.floor(n * at)] = 5;  // one-point spikes
  const el = document.getElementById('chart');
  const zoom = [0.4 * n, 0.41 * n];
  let drawn = 0;
  let draws = 0;
  let wake = null;
  const onDraw = () => { drawn = performance.now(); draws++; if (wake) wake(); };
  // Resolves once the library has drawn k times (at once when it already has).
  const drawnTimes = (k) => new Promise((resolve) => {
    const check = () => { if (draws >= k) { wake = null; resolve(); } };
    wake = check;
    check();
  });
  let t0, first, firstFrame, zoomed, zoomFrame;
  let shown = n;
  if (lib === 'uplot') {
    const x = new Float64Array(n);
    for (let i = 0; i < n; i++) x[i] = i;
    await frame();
    t0 = performance.now();
    const u = new uPlot({ width: 1200, height: 500, scales: { x: { time: false } },
                          series: [{}, { stroke: 'blue', width: 1 }], hooks: { draw: [onDraw] } },
                        [x, y], el);
    await drawnTimes(1);
    first = drawn - t0;
    await frame();
    firstFrame = performance.now() - t0;
    const z0 = performance.now();
    u.setScale('x', { min: zoom[0], max: zoom[1] });
    await drawnTimes(2);
    zoomed = drawn - z0;
    await frame();
    zoomFrame = performance.now() - z0;
    u.destroy();
  } else {
    const data = new Array(n);
    for (let i = 0; i < n; i++) data[i] = { x: i, y: y[i] };
    await frame();
    t0 = performance.now();
    const chart = new Chart(el.appendChild(document.createElement('canvas')), {
      type: 'line',
      data: { datasets: [{ data, borderColor: 'blue', borderWidth: 1, pointRadius: 0, indexAxis: 'x' }] },
      options: { animation: false, responsive: false, parsing: false, normalized: true, spanGaps: true,
                 scales: { x: { type: 'linear' } },
                 plugins: { decimation: { enabled: true, algorithm: 'min-max' }, legend: { display: false },
                            tooltip: { enabled: false } } },
      plugins: [{ id: 'timing', afterRender: onDraw }],
    });
    await drawnTimes(1);
    first = drawn - t0;
    await frame();
    firstFrame = performance.now() - t0;
    const z0 = performance.now();
    chart.options.scales.x.min = zoom[0];
    chart.options.scales.x.max = zoom[1];
    chart.update('none');
    await drawnTimes(2);
    zoomed = drawn - z0;
    await frame();
    zoomFrame = performance.now() - z0;
    // What the decimation plugin left to draw (undefined when it did not run).
    shown = chart.data.datasets[0]._decimated ? chart.data.datasets[0].data.length : n;
    chart.destroy();
  }
  return { first, firstFrame, zoomed, zoomFrame, shown };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const browser = await chromium.launch({ executablePath: args.chromium, args: ['--no-sandbox'], headless: true });
const results = { uplot: [], chartjs: [] };
try {
  for (let r = 0; r < args.repeat + 1; r++) {  // the first round is a warm-up, not counted
    for (const lib of ['uplot', 'chartjs']) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.setContent(`<!doctype html><html><head><style>${libs[lib].css}</style></head>` +
                            `<body><div id="chart" style="width:1200px;height:500px"></div></body></html>`);
      await page.addScriptTag({ content: libs[lib].js });
      const t = await page.evaluate(measure, { lib, n: args.points });
      if (errors.length) throw new Error(`${lib}: ${errors.join('; ')}`);
      if (r > 0) results[lib].push(t);
      await page.close();
    }
  }
} finally {
  await browser.close();
}

console.log(`chart_libs: ${args.points} points, ${args.repeat} runs each after a warm-up, ` +
            `headless Chromium at ${args.chromium}`);
console.log(`uPlot ${libs.uplot.version}; Chart.js ${libs.chartjs.version} (decimation: min-max, parsing: false)`);
console.log('times in ms, median of the runs (all runs in brackets)\n');
const label = { uplot: 'uPlot', chartjs: 'Chart.js + decimation' };
const fmt = (xs) => `${median(xs).toFixed(1).padStart(8)} [${xs.map((x) => x.toFixed(0)).join(' ')}]`;
const cols = [['first render (drawn)', 'first'], ['first render (frame)', 'firstFrame'], ['zoom redraw (drawn)', 'zoomed'],
              ['zoom redraw (frame)', 'zoomFrame']];
for (const [title, key] of cols) {
  console.log(title);
  for (const lib of ['uplot', 'chartjs']) console.log(`  ${label[lib].padEnd(24)} ${fmt(results[lib].map((t) => t[key]))}`);
}
console.log(`points Chart.js drew after the zoom (its decimation): ${results.chartjs[0].shown}`);
console.log('');
for (const [title, key] of cols) {
  const ratio = median(results.chartjs.map((t) => t[key])) / median(results.uplot.map((t) => t[key]));
  console.log(`ratio Chart.js / uPlot, ${title}: ${ratio.toFixed(2)}`);
}
