export { ProcessorLoop } from './processor-loop.ts';
