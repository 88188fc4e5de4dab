#!/usr/bin/env node
// Builds the web console (apps/console → apps/console/dist) when its build is missing or older
// than its sources. Run by `npm start` before the server starts; silent when the build is current.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const consoleDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../console');
const builtIndex = join(consoleDir, 'dist', 'index.html');
const sources = [join(consoleDir, 'src'), join(consoleDir, 'index.html'), join(consoleDir, 'vite.config.ts')];

/** Newest modification time (ms) of a file, or of any file under a folder; 0 when missing. */
function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    newest = Math.max(newest, newestMtime(join(path, entry.name)));
  }
  return newest;
}

function isStale() {
  if (!existsSync(builtIndex)) return true;
  const builtAt = statSync(builtIndex).mtimeMs;
  return sources.some((source) => newestMtime(source) > builtAt);
}

async function main() {
  if (!isStale()) return;
  const shown = relative(process.cwd(), join(consoleDir, 'dist')) || '.';

  let build;
  try {
    ({ build } = await import('vite'));
  } catch (err) {
    // The server runs without a console; say why the UI is missing or out of date and go on.
    console.warn(`siyu: console not built (vite is not installed: ${err instanceof Error ? err.message : err}); run npm install`);
    return;
  }

  const started = performance.now();
  // Vite keeps a NODE_ENV it finds (vitest runs this with NODE_ENV=test), and React then ships its
  // development build, which `npm start` would go on serving: this build is always the production one.
  process.env.NODE_ENV = 'production';
  try {
    await build({ root: consoleDir, logLevel: 'warn', mode: 'production' });
  } catch (err) {
    console.error(`siyu: building the console failed: ${err instanceof Error ? err.message : err}`);
    process.exitCode = 1;
    return;
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`siyu: built the web console into ${shown} in ${seconds}s`);
}

await main();
