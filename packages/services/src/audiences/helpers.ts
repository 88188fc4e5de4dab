import { AppError, formatPath, type Problem } from '@siyu/core';
import type { MembershipHistoryRecord, SqlStore } from '@siyu/storage';
import type { CompiledDefinition } from './definitions.ts';

export interface MembershipHistoryView {
  id: string;
  profileId: string;
  action: 'entered' | 'exited';
  reason: string | null;
  at: string;
  /** Who made the change by hand or by API (`admin:<workspace>`…); null for Siyu's own (rules, schedules, expiry, merges). */
  actor: string | null;
  /** The person's name (trait `name`, else `nickname`) as it is now, so a history reads as people, not ids; null when none or erased. */
  profileName: string | null;
}

/** A page of history rows as answered: each with its person's current name (one read of the page's profiles). */
export async function historyViews(store: SqlStore, workspaceId: string, rows: readonly MembershipHistoryRecord[]): Promise<MembershipHistoryView[]> {
  const ids = [...new Set(rows.map((h) => h.profileId))];
  const names = new Map<string, string>();
  for (const p of ids.length ? await store.profilesByIds(ids) : []) {
    if (p.workspaceId !== workspaceId) continue;
    const name = [p.traits.name, p.traits.nickname].find((v): v is string => typeof v === 'string' && v.trim() !== '');
    if (name) names.set(p.id, name.trim());
  }
  return rows.map((h) => ({ id: h.id, profileId: h.profileId, action: h.action, reason: h.reason, at: h.at, actor: h.actor ?? null, profileName: names.get(h.profileId) ?? null }));
}

export function zodProblems(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): Problem[] {
  return issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
}

/** INVALID_INPUT carrying every problem (and any warnings); the message names the first. */
export function invalid(message: string, problems: Problem[], warnings: Problem[] = []): AppError {
  const first = problems[0];
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  return new AppError('INVALID_INPUT', first ? `${message}: ${first.path}: ${first.message}${more}` : message, { problems, ...(warnings.length ? { warnings } : {}) });
}

export function dependantList(defs: readonly CompiledDefinition[]): { kind: 'tag' | 'segment'; id: string; name: string }[] {
  return defs.map((d) => ({ kind: d.kind, id: d.id, name: d.name }));
}

export function describeDependants(defs: readonly CompiledDefinition[]): string {
  return defs.map((d) => `${d.kind === 'tag' ? 'rule tag' : 'segment'} "${d.name}" (${d.id})`).join(', ');
}
