/**
 * Helpers for the console's browser tests: the built console, the real server on a port, and
 * Chromium (the Debian package, driven by playwright-core).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { serve } from '@hono/node-server';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const execFileP = promisify(execFile);

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CONSOLE_DIST = join(REPO_ROOT, 'apps/console/dist');
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null when they can. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM_PATH) ? null : `${CHROMIUM_PATH} not found (Debian: apt-get install chromium; .ci/run installs it)`;
}

/**
 * Builds apps/console into apps/console/dist when the build is missing or older than its sources
 * (the same script `npm start` runs; a no-op when the build is current).
 */
export async function ensureConsoleBuilt(): Promise<string> {
  const script = join(REPO_ROOT, 'apps/cli/bin/build-console-if-stale.js');
  const { stdout, stderr } = await execFileP(process.execPath, [script], { cwd: REPO_ROOT, timeout: 120_000 }).catch((err: unknown) => {
    const e = err as { stdout?: string; stderr?: string; message?: string };
    throw new Error(`building the console failed: ${e.message ?? String(err)}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  });
  if (!existsSync(join(CONSOLE_DIST, 'index.html'))) {
    throw new Error(`the console was not built into ${CONSOLE_DIST}:\n${stdout}${stderr}`);
  }
  return CONSOLE_DIST;
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/** Serves a fetch handler (the Hono app) on 127.0.0.1 at a free port. */
export async function listen(fetch: (req: Request) => Response | Promise<Response>): Promise<RunningServer> {
  let server!: ReturnType<typeof serve>;
  const port = await new Promise<number>((done, fail) => {
    server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => done(info.port));
    server.once('error', fail);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        if ('closeAllConnections' in server && typeof server.closeAllConnections === 'function') server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A browser page on the console, collecting what went wrong in it. */
export interface ConsolePage {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Uncaught errors and console.error lines (requests refused on purpose log "Failed to load resource", which is left out). */
  pageErrors: string[];
  close(): Promise<void>;
}

/** Launches Chromium with one 1440×900 page; with `adminToken`, signed in the way the login page does it. */
export async function openConsolePage(serverUrl: string, opts: { adminToken?: string } = {}): Promise<ConsolePage> {
  const browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(`uncaught: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) pageErrors.push(`console.error: ${msg.text()}`);
  });
  if (opts.adminToken) {
    await page.goto(`${serverUrl}/login`);
    await page.evaluate((token) => localStorage.setItem('siyu.adminToken', token), opts.adminToken);
  }
  return {
    browser,
    context,
    page,
    pageErrors,
    async close() {
      await context.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
    },
  };
}

/** Saves a full-page screenshot as `<tmpdir>/siyu-console-<name>.png` and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(tmpdir(), `siyu-console-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Waits until the element's text matches (Playwright's auto-waiting for text; fails with the last
 * text seen, not a bare timeout).
 */
export async function waitForText(page: Page, selector: string, expected: string | RegExp, timeout = 15_000): Promise<string> {
  const locator = page.locator(selector).first();
  await locator.waitFor({ state: 'visible', timeout });
  const matches = (text: string) => (typeof expected === 'string' ? text.includes(expected) : expected.test(text));
  try {
    await page.waitForFunction(
      ([sel, source, flags, literal]) => {
        const text = document.querySelector(sel as string)?.textContent ?? '';
        return literal !== null ? text.includes(literal as string) : new RegExp(source as string, flags as string).test(text);
      },
      [selector, typeof expected === 'string' ? null : expected.source, typeof expected === 'string' ? null : expected.flags, typeof expected === 'string' ? expected : null] as const,
      { timeout },
    );
  } catch (err) {
    const last = (await locator.textContent().catch(() => null)) ?? '<gone>';
    throw new Error(`${selector}: expected text ${String(expected)}, last seen ${JSON.stringify(last)}`, { cause: err });
  }
  const text = (await locator.textContent()) ?? '';
  if (!matches(text)) throw new Error(`${selector}: expected text ${String(expected)}, got ${JSON.stringify(text)}`);
  return text;
}

/**
 * Waits until every canvas under `selector` has drawn something and stopped changing (ECharts
 * animates for about a second after each setOption), so a screenshot shows the finished chart.
 */
export async function waitForCanvasesStill(page: Page, selector = 'body', timeout = 10_000): Promise<void> {
  await page.waitForFunction(
    (root) => {
      const w = window as unknown as { __siyuCanvasSig?: string; __siyuCanvasSame?: number };
      const canvases = [...document.querySelectorAll<HTMLCanvasElement>(`${root} canvas`)];
      if (canvases.length === 0) return false;
      const sig = canvases.map((c) => c.toDataURL()).join('|');
      w.__siyuCanvasSame = sig === w.__siyuCanvasSig ? (w.__siyuCanvasSame ?? 0) + 1 : 0;
      w.__siyuCanvasSig = sig;
      return w.__siyuCanvasSame >= 3;
    },
    selector,
    { polling: 150, timeout },
  );
}
