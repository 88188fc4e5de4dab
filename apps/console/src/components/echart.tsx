import { useEffect, useRef } from 'react';
import * as echarts from 'echarts/core';
import {
  BarChart,
  HeatmapChart,
  LineChart,
  PieChart,
  TreemapChart,
  type BarSeriesOption,
  type HeatmapSeriesOption,
  type LineSeriesOption,
  type PieSeriesOption,
  type TreemapSeriesOption,
} from 'echarts/charts';
import {
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapComponent,
  type GridComponentOption,
  type LegendComponentOption,
  type TooltipComponentOption,
  type VisualMapComponentOption,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { disposeChart } from './dispose-chart';

// Only what the console draws, so the echarts chunk stays small.
echarts.use([
  LineChart,
  BarChart,
  PieChart,
  HeatmapChart,
  TreemapChart,
  GridComponent,
  TooltipComponent,
  LegendComponent,
  VisualMapComponent,
  CanvasRenderer,
]);

export type ChartOption = echarts.ComposeOption<
  | LineSeriesOption
  | BarSeriesOption
  | PieSeriesOption
  | HeatmapSeriesOption
  | TreemapSeriesOption
  | VisualMapComponentOption
  | GridComponentOption
  | TooltipComponentOption
  | LegendComponentOption
>;

/** What a click on a chart's data item gives: its value and position in its series. */
export interface ChartClick {
  value: unknown;
  dataIndex: number;
  seriesIndex: number;
}

/** One ECharts instance bound to a div; follows the container's size. `onClick`: a data item was clicked. */
export function EChart({ option, height = 300, testId, onClick }: { option: ChartOption; height?: number; testId?: string; onClick?: (item: ChartClick) => void }) {
  const ref = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  // The latest handler, so the chart's listener (registered once) never calls a stale one.
  const click = useRef(onClick);
  useEffect(() => {
    click.current = onClick;
  }, [onClick]);

  useEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    const instance = echarts.init(el, null, { renderer: 'canvas' });
    chart.current = instance;
    instance.on('click', (params) => {
      const p = params as { value?: unknown; dataIndex?: number; seriesIndex?: number };
      click.current?.({ value: p.value, dataIndex: p.dataIndex ?? -1, seriesIndex: p.seriesIndex ?? -1 });
    });
    const observer = new ResizeObserver(() => instance.resize());
    observer.observe(el);
    return () => {
      observer.disconnect();
      disposeChart(instance);
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption(option, { notMerge: true });
  }, [option]);

  return <div ref={ref} style={{ width: '100%', height }} data-testid={testId} />;
}
