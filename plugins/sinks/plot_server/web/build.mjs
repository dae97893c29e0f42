// Bundles the dashboard into dist/: index.html, assets/app.js, app.css and theme.js (the
// theme set before the first paint; no inline script, so a strict CSP can serve the page).
// The plugin embeds these files, so the page needs no network at run time.
import * as esbuild from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const watch = process.argv.includes('--watch');

await rm(dist, { recursive: true, force: true });
await mkdir(join(dist, 'assets'), { recursive: true });
await copyFile(join(here, 'src', 'index.html'), join(dist, 'index.html'));

const options = {
  entryPoints: { app: join(here, 'src', 'main.js'), theme: join(here, 'src', 'theme.js') },
  bundle: true,
  minify: !watch,
  sourcemap: false,
  format: 'iife',
  target: ['es2020'],
  outdir: join(dist, 'assets'),
  loader: { '.css': 'css' },
  legalComments: 'none',
  logLevel: 'info',
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
