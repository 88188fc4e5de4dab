export * from './deps.ts';
export * from './ids.ts';
export * from './workspaces.service.ts';
export * from './ingest.service.ts';
export * from './processor.service.ts';
export * from './profiles.service.ts';
export * from './siyu.ts';
