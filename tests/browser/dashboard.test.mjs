#!/usr/bin/env node
// The plot_server dashboard in a real headless Chromium, against a real run of
// pipelines/digits_mlp.toml:
//   node tests/browser/dashboard.test.mjs --bin build-dash/bin/tributary
// It checks: no console error; curves grow while the run goes on; the graph shows every node;
// a log line appears; Pause holds the step count still and Resume goes on; a learning-rate
// change shows in the lr curve; an earlier run in the same store is listed and its curves are
// drawn over the live ones when ticked; the model views draw the trainer's weight and gradient
// histograms, gradient flow and decision boundary (the run links train.model_stats and
// train.boundary to the dashboard; with a trainer that has no such outputs, the views say what to
// link); Stop stops the run and the CLI exits 0. Screenshots go to <build dir>/test-artifacts/
// (and to docs/dashboard.png and docs/dashboard-model.png with UPDATE_SCREENSHOT=1).
// Exit code 0 on pass; on failure, 1 with what failed and the tail of the run's log.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, copyFile, rm, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function parseArgs(argv) {
  const args = {
    bin: null,
    chromium: process.env.CHROMIUM || '/usr/bin/chromium',
    artifacts: null,
    headed: false,
    pipeline: join(repo, 'pipelines', 'digits_mlp.toml'),
    epochs: 2000,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--bin') args.bin = argv[++i];
    else if (a === '--chromium') args.chromium = argv[++i];
    else if (a === '--artifacts') args.artifacts = argv[++i];
    else if (a === '--headed') args.headed = true;
    else if (a === '--pipeline') args.pipeline = resolve(argv[++i]);
    else if (a === '--epochs') args.epochs = Number(argv[++i]);
    else {
      console.error(`unknown argument '${a}'; usage: dashboard.test.mjs --bin BUILD/bin/tributary [--chromium PATH] [--artifacts DIR] [--pipeline FILE] [--epochs N] [--headed]`);
      process.exit(2);
    }
  }
  if (!args.bin) {
    console.error('usage: dashboard.test.mjs --bin BUILD/bin/tributary [--chromium PATH] [--artifacts DIR] [--pipeline FILE] [--epochs N] [--headed]');
    process.exit(2);
  }
  args.bin = resolve(args.bin);
  args.artifacts = resolve(args.artifacts || join(dirname(dirname(args.bin)), 'test-artifacts'));
  return args;
}

const args = parseArgs(process.argv.slice(2));
const started = Date.now();
const log = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${msg}`);

class Failure extends Error {}
function check(cond, msg) {
  if (!cond) throw new Failure(msg);
}

async function waitFor(what, fn, timeoutMs, intervalMs = 200) {
  const until = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) {
      throw new Failure(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the run ----
for (const [path, what] of [
  [args.bin, 'no tributary binary at PATH: build it first (cmake --build BUILD)'],
  [args.chromium, 'no Chromium at PATH: apt-get install chromium (scripts/setup.sh), or pass --chromium PATH'],
  [args.pipeline, 'no pipeline file at PATH'],
]) {
  if (!existsSync(path)) {
    console.error(`FAIL: ${what.replace('PATH', path)}`);
    process.exit(1);
  }
}
const work = await mkdtemp(join(tmpdir(), 'tributary-dash-'));

// The model views need the trainer's model_stats and boundary outputs linked to the dashboard:
// when the trainer has them, the run uses a copy of the pipeline with those links added.
const describe = spawnSync(args.bin, ['describe', 'trainer'], { encoding: 'utf8' });
const trainerHasModelOutputs = /^\s+model_stats \[/m.test(describe.stdout || '') && /^\s+boundary \[/m.test(describe.stdout || '');
let pipeline = args.pipeline;
if (trainerHasModelOutputs) {
  let text = await readFile(args.pipeline, 'utf8');
  const extra = [['model_stats', '"train.model_stats -> dash.model_stats"'], ['boundary', '"train.boundary -> dash.boundary"']]
    .filter(([port]) => !new RegExp(`train\\.${port}\\s*->\\s*dash\\.${port}`).test(text)).map(([, link]) => link);
  if (extra.length) {
    const links = /(links\s*=\s*\[)([\s\S]*?)(\])/.exec(text);
    check(links, `no links = [...] in ${args.pipeline} to add the model views' links to`);
    text = text.replace(links[0], `${links[1]}${links[2].trimEnd()}, ${extra.join(', ')} ${links[3]}`);
    pipeline = join(work, basename(args.pipeline));
    await writeFile(pipeline, text);
  }
}
const runArgs = [
  'run', pipeline,
  '--set', 'dash.port=0',
  // A run that learns slowly enough to watch (plain SGD, a wider MLP) and lasts well past the
  // test (about 2 minutes here): the test ends it with the Stop button.
  '--set', `rows.epochs=${args.epochs}`,
  '--set', 'train.optimizer=sgd',
  '--set', 'train.lr=0.002',
  '--set', 'train.model={ kind = "mlp", hidden = [256, 256], dropout = 0.2 }',
  '--store', join(work, 'tributary.db'),
  '--run-dir', join(work, 'run'),
];
log(`${args.bin} ${runArgs.join(' ')}${pipeline !== args.pipeline ? ` (${args.pipeline} with the links ${trainerHasModelOutputs ? 'train.model_stats -> dash.model_stats, train.boundary -> dash.boundary' : ''})` : ''}`);
if (!trainerHasModelOutputs) log('the trainer has no model_stats and boundary outputs: the model views are checked for what they say to link');
// An earlier, short run of the same pipeline in the same store, for the past-runs card.
const prior = spawnSync(args.bin, ['run', pipeline, '--set', 'dash.port=0', '--set', 'rows.epochs=3', '--progress', 'off',
  '--store', join(work, 'tributary.db'), '--run-dir', join(work, 'prior')], { cwd: repo, encoding: 'utf8' });
if (prior.status !== 0) {
  console.error(`FAIL: the earlier run exited ${prior.status}:\n${prior.stdout}${prior.stderr}`);
  process.exit(1);
}
log('an earlier run of 3 epochs recorded in the same store');
const cli = spawn(args.bin, runArgs, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
let output = '';
cli.stdout.on('data', (d) => { output += d; });
cli.stderr.on('data', (d) => { output += d; });
let exit = null;
const exited = new Promise((res) => cli.on('exit', (code, signal) => { exit = { code, signal }; res(exit); }));

let browser = null;
let failed = null;
try {
  const url = await waitFor('the dashboard URL in the run log ("dashboard at http://...")', () => {
    check(!exit, `the run ended before the dashboard started (exit ${exit && (exit.code ?? exit.signal)})`);
    const m = /dashboard at (https?:\/\/\S+)/.exec(output);
    return m && m[1];
  }, 60000);
  log(`dashboard at ${url}`);
  const origin = new URL(url).origin;

  browser = await chromium.launch({ executablePath: args.chromium, args: ['--no-sandbox'], headless: !args.headed });
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 }, colorScheme: 'light' });
  const consoleErrors = [];
  let watchConsole = true;
  page.on('console', (m) => {
    if (watchConsole && m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => {
    if (watchConsole) consoleErrors.push(`page error: ${e.message}`);
  });
  await page.goto(url);
  await page.waitForSelector('[data-testid=connection][data-state=live]', { timeout: 15000 });
  log('page loaded, live connection open');

  const dash = (fn, ...a) => page.evaluate(([f, xs]) => window.tributaryDashboard[f](...xs), [fn, a]);
  const stepShown = async () => Number((await page.textContent('[data-testid=step]')).trim()) || 0;

  // Curves grow while the pipeline runs.
  const lossName = await waitFor('a train/loss series', async () => (await dash('seriesNames')).find((n) => n.endsWith(':train/loss')), 30000);
  await page.waitForSelector('.chart[data-group=loss] canvas', { timeout: 10000 });
  const len0 = await dash('seriesLength', lossName);
  await waitFor(`${lossName} to grow past ${len0} points`, async () => (await dash('seriesLength', lossName)) > len0 + 2, 20000);
  log(`curves grow: ${lossName} ${len0} -> ${await dash('seriesLength', lossName)} points`);

  // The graph shows every node of the pipeline.
  const graph = await (await fetch(`${origin}/api/graph`)).json();
  const names = graph.nodes.map((n) => n.name);
  for (const expected of ['rows', 'scale', 'train', 'log', 'ckpt', 'dash']) {
    check(names.includes(expected), `/api/graph lacks the node '${expected}' of pipelines/digits_mlp.toml (has ${names.join(', ')})`);
  }
  for (const n of names) {
    check(await page.$(`[data-testid=graph] [data-node="${n}"]`), `the graph view does not show the node '${n}'`);
  }
  log(`graph shows ${names.join(', ')}`);

  // A log line appears.
  await waitFor('a line in the log console', async () => (await page.$$('[data-testid=logs] .log-line')).length > 0, 20000);
  log(`log console: ${await page.textContent('[data-testid=logs] .log-line')}`);

  // Nothing scrolls sideways on a 1366x768 laptop screen.
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  check(widths[0] <= widths[1], `the page scrolls horizontally at 1366x768 (scrollWidth ${widths[0]} > ${widths[1]})`);

  // Pause holds the step count still; Resume goes on.
  await page.click('[data-testid=pause]');
  await waitFor('the paused state', async () => (await page.textContent('[data-testid=state]')).trim() === 'paused', 10000);
  // What was under way when the pause took effect finishes first, however slow the build: the
  // step is taken once it stood still for a second.
  let last = await stepShown();
  await waitFor('the step to stand still after the pause', async () => {
    await sleep(1000);
    const now = await stepShown();
    const still = now === last;
    last = now;
    return still;
  }, 30000, 0);
  const held = await stepShown();
  const heldLen = await dash('seriesLength', lossName);
  await sleep(4000);
  const after = await stepShown();
  check(after === held, `the step went on while paused: ${held} -> ${after}`);
  check((await dash('seriesLength', lossName)) === heldLen, `${lossName} grew while paused`);
  log(`paused: step held at ${held} for 4 s`);
  check((await page.textContent('[data-testid=pause]')).trim() === 'Resume', 'the Pause button does not offer Resume while paused');
  await page.click('[data-testid=pause]');
  await waitFor('the step to move on after Resume', async () => (await stepShown()) > held, 15000);
  log(`resumed: step ${await stepShown()}`);

  // A learning-rate change shows in the lr curve.
  const trainer = await dash('trainer');
  check(trainer === 'train', `the page's trainer node is '${trainer}', not 'train'`);
  const lrName = `${trainer}:lr`;
  const newLr = 0.0005;
  await page.fill('[data-testid=lr-input]', String(newLr));
  await page.click('[data-testid=lr-set]');
  await waitFor('an accepted reply to the lr change in the control history', async () => {
    const item = await page.$('[data-testid=control-history] .history-item[data-verb=set] .reply.accepted');
    return item != null;
  }, 15000);
  await waitFor(`${lrName} to reach ${newLr}`, async () => Math.abs((await dash('lastValue', lrName)) - newLr) < 1e-12, 15000);
  await page.waitForSelector('.chart[data-group=lr] canvas');
  await waitFor('the lr chart\'s legend to show the new rate', async () => {
    const shown = await page.$$eval('.chart[data-group=lr] .u-legend .u-series:not(.raw) .u-value', (els) => els.map((e) => e.textContent));
    return shown.includes(String(newLr));
  }, 5000);
  log(`lr curve at ${await dash('lastValue', lrName)}; history: ${(await page.textContent('[data-testid=control-history] .history-item')).trim()}`);

  // The model views: histograms over time, gradient flow and the decision boundary, drawn from
  // the trainer's packets (none of which the dashboard refused), or saying what to link.
  const inked = (sel) => page.evaluate((s) => {
    const c = document.querySelector(s);
    if (!c || !c.width || !c.height) return 0;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
    return n / (c.width * c.height);
  }, sel);
  const modelViews = await page.$('[data-testid=model-views]');
  check(modelViews, 'the page has no model views');
  if (trainerHasModelOutputs) {
    await waitFor('the weight histograms heat map to draw', async () => (await inked('[data-testid=histogram-canvas]')) > 0.05, 30000);
    const parameters = await page.$$eval('[data-testid=histogram-parameter] option', (os) => os.map((o) => o.value));
    check(parameters.length >= 2, `the histogram view offers ${parameters.length} parameters (${parameters.join(', ')})`);
    // The gradients' histograms stay on for the screenshot: more to see than the weights' early on.
    await page.click('[data-testid=model-histograms] [data-of=grad]');
    await waitFor('the gradient histograms heat map to draw', async () => (await page.textContent('[data-testid=model-histograms] .model-readout')).includes('gradients in')
      && (await inked('[data-testid=histogram-canvas]')) > 0.05, 10000);
    await waitFor('the gradient flow bars', async () => (await page.$$('[data-testid=gradient-flow] .flow-row rect.flow-bar')).length >= parameters.length, 20000);
    const flowRows = await page.$$eval('[data-testid=gradient-flow] .flow-row', (rows) => rows.map((r) => r.dataset.parameter));
    check(flowRows.join() === parameters.join(), `the gradient flow's layers (${flowRows.join(', ')}) are not the histograms' parameters in order (${parameters.join(', ')})`);
    await waitFor('the decision boundary to draw', async () => (await inked('[data-testid=boundary-canvas]')) > 0.3, 60000);
    const legend = await page.$$eval('[data-testid=boundary-legend] .legend-item:not(.legend-key)', (items) => items.map((i) => i.textContent));
    check(legend.length === 10, `the boundary's legend names ${legend.length} classes, not the 10 digits (${legend.join(', ')})`);
    const axes = await page.getAttribute('[data-testid=boundary-canvas]', 'data-axes');
    check(/^PC1 \(\d+%\) \| PC2 \(\d+%\)$/.test(axes || ''), `the boundary's axes are titled '${axes}', not 'PC1 (N%) | PC2 (N%)' (64 inputs are projected)`);
    const model = await (await fetch(`${origin}/api/model`)).json();
    check(model.refused.length === 0, `the dashboard refused the trainer's packets: ${JSON.stringify(model.refused)}`);
    const curveNames = await dash('seriesNames');
    check(!curveNames.some((n) => n.includes(':model/')), 'model/* series are among the curves');
    const served = (await (await fetch(`${origin}/api/series`)).json()).series.map((x) => x.name);
    check(served.some((n) => n.includes(':model/') && n.endsWith('/grad/abs_mean')), '/api/series has no model/P/grad/abs_mean series');
    const wide = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    check(wide[0] <= wide[1], `with the model views drawn the page scrolls horizontally at 1366x768 (scrollWidth ${wide[0]} > ${wide[1]})`);
    log(`model views: ${parameters.length} parameters' histograms, gradient flow, boundary (${axes}, ${legend.length} classes, step ${model.boundary && model.boundary.step})`);
  } else {
    const text = async (id) => (await page.textContent(`[data-testid=${id}]`)) || '';
    check((await text('empty-model_stats')).includes('train.model_stats -> dash.model_stats'), `the histogram view does not say to link train.model_stats -> dash.model_stats: '${await text('empty-model_stats')}'`);
    check((await text('empty-boundary')).includes('train.boundary -> dash.boundary'), `the boundary view does not say to link train.boundary -> dash.boundary: '${await text('empty-boundary')}'`);
    log('model views: they say what to link');
  }

  // Past runs: the earlier run is listed, and ticked its curves are drawn over the live ones.
  await waitFor('the earlier run in the past-runs card', async () => (await page.$$('[data-testid=past-runs] .run-row')).length === 1, 30000);
  await page.click('[data-testid=past-runs] .run-row input');
  const overlaid = await waitFor("the earlier run's curves over the live ones", async () => {
    const labels = await page.$$eval('.u-legend .u-series .u-label', (ls) => ls.map((l) => l.textContent));
    const past = labels.filter((l) => l.includes(' · ') && !l.endsWith('(raw)'));
    return past.length > 0 && past;
  }, 30000);
  check(overlaid.some((l) => l.startsWith('train/loss · ')), `no train/loss of the earlier run among the curves: ${overlaid.join(', ')}`);
  log(`past runs: ${overlaid.length} curves of the earlier run drawn over the live ones (${overlaid.slice(0, 3).join(', ')}, ...)`);

  // Screenshots mid-training (for docs/dashboard.png, later in the run, with more to see).
  await sleep(process.env.UPDATE_SCREENSHOT === '1' ? 20000 : 3000);
  await mkdir(args.artifacts, { recursive: true });
  const shot = join(args.artifacts, 'dashboard.png');
  await page.screenshot({ path: shot });
  await page.click('[data-testid=theme]');
  await sleep(500);
  await page.screenshot({ path: join(args.artifacts, 'dashboard-dark.png') });
  await modelViews.scrollIntoViewIfNeeded();
  await sleep(500);
  await modelViews.screenshot({ path: join(args.artifacts, 'dashboard-model-dark.png') });
  if (trainerHasModelOutputs) {
    for (const c of ['histogram-canvas', 'boundary-canvas']) check((await inked(`[data-testid=${c}]`)) > 0.05, `the ${c} is blank in the dark theme`);
  }
  await page.click('[data-testid=theme]');
  await sleep(500);
  const modelShot = join(args.artifacts, 'dashboard-model.png');
  await modelViews.screenshot({ path: modelShot });
  await page.evaluate(() => window.scrollTo(0, 0));
  log(`screenshots in ${args.artifacts}`);
  if (process.env.UPDATE_SCREENSHOT === '1') {
    await copyFile(shot, join(repo, 'docs', 'dashboard.png'));
    log('docs/dashboard.png updated');
    if (trainerHasModelOutputs) {
      await copyFile(modelShot, join(repo, 'docs', 'dashboard-model.png'));
      log('docs/dashboard-model.png updated');
    }
  }

  check(consoleErrors.length === 0, `console errors on the page:\n  ${consoleErrors.join('\n  ')}`);
  log('no console error');

  // Stop stops the run and the CLI exits 0. (The page then loses its server, and its
  // reconnection attempts are no errors of the page.)
  watchConsole = false;
  const stateBeforeStop = (await page.textContent('[data-testid=state]')).trim();
  check(stateBeforeStop === 'running', `the run is '${stateBeforeStop}' before Stop, not running (finished too soon? raise --epochs, now ${args.epochs})`);
  await page.click('[data-testid=stop]');
  await page.click('[data-testid=stop]'); // the confirmation
  const code = await Promise.race([exited, sleep(60000).then(() => null)]);
  check(code, 'the CLI did not exit within 60 s of Stop');
  check(code.code === 0, `the CLI exited with ${code.code ?? code.signal} after Stop, not 0`);
  log('Stop: the CLI exited 0');
} catch (e) {
  failed = e;
  if (exit && !(e instanceof Failure)) {
    failed = new Failure(`${e.message.split('\n')[0]}\n  (the run had ended, exit ${exit.code ?? exit.signal}: did it finish too soon? raise --epochs, now ${args.epochs})`);
  }
} finally {
  if (browser) await browser.close().catch(() => {});
  if (!exit) {
    cli.kill('SIGTERM');
    await Promise.race([exited, sleep(10000)]);
    if (!exit) cli.kill('SIGKILL');
  }
  await rm(work, { recursive: true, force: true }).catch(() => {});
}

if (failed) {
  console.error(`\nFAIL: ${failed instanceof Failure ? failed.message : failed.stack || failed}`);
  console.error(`\nthe run's log (last lines):\n${output.split('\n').slice(-25).join('\n')}`);
  process.exit(1);
}
log('PASS');
