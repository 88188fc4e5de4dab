export * from './condition-schema.ts';
export * from './validate-condition.ts';
export * from './condition-dependencies.ts';
export { evaluateCondition } from './evaluate-condition.ts';
export type { EvaluationContext, EvaluationEvent, EvaluationProfile } from './evaluate-condition.ts';
export { nextChangeAt } from './next-change-at.ts';
export { matchComparison } from './match-comparison.ts';
export type { Comparison, ComparisonEnv } from './match-comparison.ts';
