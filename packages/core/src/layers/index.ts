export * from './rfm.ts';
export * from './lifecycle.ts';
