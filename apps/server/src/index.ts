export { createApp } from './app.ts';
export type { AppEnv, AppOptions } from './context.ts';
export { HTTP_STATUS } from './errors.ts';
