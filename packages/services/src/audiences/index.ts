export * from './audience-engine.service.ts';
export * from './audience-index.service.ts';
export * from './audiences.service.ts';
export * from './definitions.ts';
export * from './segments.service.ts';
export * from './tags.service.ts';
export type { MembershipHistoryView } from './helpers.ts';
