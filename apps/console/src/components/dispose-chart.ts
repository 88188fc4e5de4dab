import type { ECharts } from 'echarts/core';

/**
 * Disposes an ECharts instance so that a paint still in progress cannot throw afterwards.
 *
 * zrender 6.1 cuts a slow paint (more than 15 ms, e.g. on a busy machine) into animation frames,
 * and the next frame's callback does not check whether the chart was disposed meanwhile: it throws
 * "Cannot read properties of null (reading 'layerStack')". Its only guard is the paint id, so
 * changing the id drops that frame. Self-contained (no imports at run time): the browser test
 * injects this very function into a page.
 */
export function disposeChart(instance: ECharts): void {
  if (instance.isDisposed()) return;
  const painter = instance.getZr().painter as unknown as { _redrawId?: number };
  painter._redrawId = Number.NaN;
  instance.dispose();
}
