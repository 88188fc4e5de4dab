import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const SIYU_SERVER = 'http://localhost:7070';

/**
 * React and ECharts in their own long-lived chunks (an app change does not bust their cache; ECharts
 * loads only with the pages that draw charts). antd is left to automatic splitting on purpose: as one chunk it
 * is ~920 kB and would all load on the login page; split, each page brings only the components it uses.
 */
const VENDOR_CHUNKS: ReadonlyArray<{ name: string; test: RegExp }> = [
  { name: 'react', test: /node_modules[\\/](react|react-dom|react-router|react-router-dom|scheduler)[\\/]/ },
  { name: 'echarts', test: /node_modules[\\/](echarts|zrender)[\\/]/ },
];

export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // the echarts chunk (line, bar, pie, heatmap + visualMap, treemap; canvas renderer) is ~630 kB
    // minified / ~215 kB gzip, loaded only by the pages that draw charts
    chunkSizeWarningLimit: 700,
    rolldownOptions: {
      output: {
        codeSplitting: {
          groups: VENDOR_CHUNKS.map((c) => ({ name: c.name, test: c.test })),
        },
      },
    },
  },
  server: {
    proxy: {
      '/api': SIYU_SERVER,
      '/v1': SIYU_SERVER,
      '/healthz': SIYU_SERVER,
    },
  },
  preview: {
    proxy: {
      '/api': SIYU_SERVER,
      '/v1': SIYU_SERVER,
      '/healthz': SIYU_SERVER,
    },
  },
});
