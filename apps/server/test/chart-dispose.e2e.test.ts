/**
 * The console's charts are disposed when a page reloads its data or is left. A paint that zrender
 * cut into animation frames must not throw after that (it did, now and then, on a busy CI machine).
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { disposeChart } from '../../console/src/components/dispose-chart.ts';
import { chromiumMissing, launchChromium } from './console-harness.ts';

const skipReason = chromiumMissing();
const LAYER_STACK_ERROR = "Cannot read properties of null (reading 'layerStack')";
/** Moments (ms after the paint starts) at which the chart is disposed. */
const DISPOSE_AFTER_MS = [30, 100];
const echartsBundle = createRequire(import.meta.url).resolve('echarts/dist/echarts.js');

describe.skipIf(skipReason !== null)(skipReason ? `disposing a chart while it paints — skipped: ${skipReason}` : 'disposing a chart while it paints', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** Starts a paint long enough to be cut into frames, disposes mid-paint, returns the page's errors. */
  async function disposeMidPaint(useDisposeChart: boolean, afterMs: number): Promise<string[]> {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.setContent('<div id="chart" style="width:800px;height:600px"></div>');
    await page.addScriptTag({ path: echartsBundle });
    await page.addScriptTag({ content: `window.disposeChart = ${disposeChart.toString()};` });
    await page.evaluate((o) => {
      const w = window as unknown as {
        echarts: { init(el: HTMLElement | null): { setOption(o: unknown): void; dispose(): void }; setPlatformAPI(api: { getTime(): number }): void };
        disposeChart(chart: unknown): void;
      };
      const data: number[][] = [];
      for (let i = 0; i < 200_000; i++) data.push([Math.random() * 100, Math.random() * 100]);
      // zrender cuts a paint into frames when it has run over 15 ms by its clock: a clock that moves 20 ms
      // a reading makes every paint span frames, whatever the machine's speed at that moment.
      let now = Date.now();
      w.echarts.setPlatformAPI({ getTime: () => (now += 20) });
      const chart = w.echarts.init(document.getElementById('chart'));
      chart.setOption({ animation: false, xAxis: {}, yAxis: {}, series: [{ type: 'scatter', data, progressive: 2000, progressiveThreshold: 100 }] });
      setTimeout(() => (o.disposeChart ? w.disposeChart(chart) : chart.dispose()), o.afterMs);
    }, { disposeChart: useDisposeChart, afterMs });
    await page.waitForTimeout(1000);
    await page.close();
    return errors;
  }

  it('plain dispose() lets the next frame of the paint throw (the zrender behaviour this works around)', async () => {
    for (const afterMs of DISPOSE_AFTER_MS) expect(await disposeMidPaint(false, afterMs)).toContain(LAYER_STACK_ERROR);
  });

  it('disposeChart() leaves no error behind', async () => {
    for (const afterMs of DISPOSE_AFTER_MS) expect(await disposeMidPaint(true, afterMs)).toEqual([]);
  });
});
