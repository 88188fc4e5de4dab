export { ProcessorLoop, type Downstream, type ProcessorLoopOptions } from './processor-loop.ts';
export { LayersLoop } from './layers-loop.ts';
export { ReevaluationLoop } from './reevaluation-loop.ts';
export { StatisticsLoop } from './statistics-loop.ts';
export { SharedBacklog } from './shared-backlog.ts';
