import type { Problem } from '../api';

/**
 * Sorts validation problems to form fields by path (`name`, `lifecycle.silentMultiple`,
 * `rfm.thresholds.r[2]` → `rfm.thresholds.r`); what no field claims is returned as `rest`.
 */
export function problemsByField(problems: readonly Problem[], fields: readonly string[]): { byField: Map<string, string[]>; rest: Problem[] } {
  const byField = new Map<string, string[]>();
  const rest: Problem[] = [];
  for (const p of problems) {
    const field = [...fields]
      .sort((a, b) => b.length - a.length)
      .find((f) => p.path === f || p.path.startsWith(`${f}.`) || p.path.startsWith(`${f}[`));
    if (field) byField.set(field, [...(byField.get(field) ?? []), p.message]);
    else rest.push(p);
  }
  return { byField, rest };
}

/** The problems under a path prefix (`definition`), and the rest. */
export function splitByPrefix(problems: readonly Problem[], prefix: string): { under: Problem[]; rest: Problem[] } {
  const under: Problem[] = [];
  const rest: Problem[] = [];
  for (const p of problems) (p.path === prefix || p.path.startsWith(`${prefix}.`) ? under : rest).push(p);
  return { under, rest };
}
