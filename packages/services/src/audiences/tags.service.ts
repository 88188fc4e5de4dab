import { AppError, notFound, type Identifier, type Page, type Problem } from '@siyu/core';
import { TAG_KINDS, type TagGroupRecord, type TagRecord } from '@siyu/storage';
import { z } from 'zod';
import type { ServiceDeps } from '../deps.ts';
import type { ProfileService } from '../profiles.service.ts';
import type { WorkspaceService } from '../workspaces.service.ts';
import { audienceLockOf, type AudienceEngine, type MembershipChange, type MembershipReason } from './audience-engine.service.ts';
import type { AudienceService } from './audiences.service.ts';
import { dependantList, describeDependants, historyViews, invalid, zodProblems, type MembershipHistoryView } from './helpers.ts';
import { normalizeIdentifier, parseIdentifierCsv, parseIdentifierList, type UnmatchedIdentifier } from './identifiers.ts';

const DAY_MS = 86_400_000;

export const TagGroupInput = z.strictObject({
  name: z.string().trim().min(1, 'give the group a name').max(100),
  description: z.string().max(1000).nullish(),
});
export type TagGroupInput = z.input<typeof TagGroupInput>;

const tagFields = {
  name: z.string().trim().min(1, 'give the tag a name').max(100),
  groupId: z.string().min(1).nullish(),
  description: z.string().max(1000).nullish(),
  defaultTtlDays: z.number().int().min(1).max(36_500).nullish(),
  /** `{ version: 1, condition }` — rule tags only; validated against the workspace. */
  definition: z.unknown().optional(),
};

/** A new tag. `kind` defaults to `manual`; `rule` tags need a `definition`. */
export const TagInput = z.strictObject({ ...tagFields, kind: z.enum(TAG_KINDS).default('manual') });
export type TagInput = z.input<typeof TagInput>;

/** Changes to a tag: any of its fields except `kind`. */
export const TagUpdateInput = z.strictObject({ ...tagFields, name: tagFields.name.optional(), kind: z.enum(TAG_KINDS).optional() });
export type TagUpdateInput = z.input<typeof TagUpdateInput>;

/** `{ tagId | tagName, expiresAt? }` — apply a tag to one person. */
export const ApplyTagInput = z
  .strictObject({
    tagId: z.string().min(1).optional(),
    tagName: z.string().min(1).optional(),
    expiresAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO-8601 time such as "2026-06-30T00:00:00Z"').nullish(),
  })
  .refine((x) => (x.tagId === undefined) !== (x.tagName === undefined), { message: 'give exactly one of tagId and tagName', path: ['tagId'] });
export type ApplyTagInput = z.input<typeof ApplyTagInput>;

export interface TagGroupView {
  id: string;
  name: string;
  description: string | null;
  createdAt: string;
}

export interface TagView {
  id: string;
  name: string;
  groupId: string | null;
  kind: TagRecord['kind'];
  description: string | null;
  /** Rule tags: `{ version, condition }`; otherwise null. */
  definition: unknown;
  defaultTtlDays: number | null;
  /** People holding the tag now. */
  count: number;
  createdAt: string;
  updatedAt: string;
}

/** A tag as it appears on a profile. */
export interface ProfileTagView {
  id: string;
  name: string;
  source: string;
  /** Who applied it: the admin token's actor for manual, API and imported applications, `rule` for rule tags. */
  appliedBy: string;
  appliedAt: string;
  expiresAt: string | null;
}

export interface BulkTagResult {
  tagId: string;
  /** Identifiers received. */
  requested: number;
  /** Distinct profiles they resolved to. */
  matched: number;
  /** apply: newly tagged; remove: untagged. */
  applied?: number;
  removed?: number;
  /** apply: already had the tag (expiry refreshed); remove: did not have it. */
  alreadyTagged?: number;
  notTagged?: number;
  /** Identifiers no profile holds. */
  notFound: number;
  /** Identifiers that could not be read (unknown type, malformed phone…). */
  invalid: number;
  /** Every identifier that matched no profile, with the reason. */
  unmatched: UnmatchedIdentifier[];
}


/** Input of a bulk apply/remove: a JSON body, or CSV text (with `expiresAt` from the query). */
export type BulkIdentifiersInput = { json: unknown } | { csv: string; expiresAt?: string | undefined };

/**
 * Tags (标签) and tag groups: manual tags applied by staff and by API (one person or a list or CSV of
 * identifiers), imported tags, and rule tags kept current by the audience engine. Every application
 * records who, when and how; optional expiry per application or per tag. Profile responses carry
 * the person's tags.
 */
export class TagService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly workspaces: WorkspaceService,
    private readonly engine: AudienceEngine,
    private readonly audiences: AudienceService,
    profiles: ProfileService,
  ) {
    profiles.addDecorator(async (workspaceId, view) => {
      const tags = await this.tagsOf(workspaceId, view.id);
      view.tags = tags;
    });
    // Lists, segment members and count samples: one read for the page.
    profiles.addSummaryDecorator(async (workspaceId, summaries) => {
      const byProfile = new Map<string, ProfileTagView[]>(summaries.map((s) => [s.id, []]));
      for (const r of await this.store.tagsOfProfiles(workspaceId, summaries.map((s) => s.id))) {
        byProfile.get(r.profileId)?.push({ id: r.tagId, name: r.name, source: r.source, appliedBy: r.actor, appliedAt: r.appliedAt, expiresAt: r.expiresAt });
      }
      for (const s of summaries) s.tags = byProfile.get(s.id) ?? [];
    });
  }

  private get store() {
    return this.engine.store;
  }

  // ---------------------------------------------------------------- groups

  async createGroup(workspaceId: string, input: unknown): Promise<TagGroupView> {
    const parsed = TagGroupInput.safeParse(input);
    if (!parsed.success) throw invalid('the tag group is not valid', zodProblems(parsed.error.issues));
    if (await this.store.tagGroupByName(workspaceId, parsed.data.name)) throw new AppError('CONFLICT', `a tag group named "${parsed.data.name}" already exists`);
    const g: TagGroupRecord = { id: this.deps.newId('tagGroup'), workspaceId, name: parsed.data.name, description: parsed.data.description ?? null, createdAt: this.deps.clock().toISOString() };
    await this.store.insertTagGroup(g);
    return groupView(g);
  }

  async listGroups(workspaceId: string): Promise<{ data: TagGroupView[] }> {
    return { data: (await this.store.listTagGroups(workspaceId)).map(groupView) };
  }

  /** Renames a tag group or changes its description. */
  async updateGroup(workspaceId: string, id: string, input: unknown): Promise<TagGroupView> {
    const group = await this.store.getTagGroup(workspaceId, id);
    if (!group) throw notFound('tag group', id);
    const parsed = TagGroupInput.partial().safeParse(input);
    if (!parsed.success) throw invalid('the tag group change is not valid', zodProblems(parsed.error.issues));
    const { name, description } = parsed.data;
    if (name !== undefined && name !== group.name && (await this.store.tagGroupByName(workspaceId, name))) {
      throw new AppError('CONFLICT', `a tag group named "${name}" already exists`, { name });
    }
    await this.store.updateTagGroup(workspaceId, id, { ...(name !== undefined ? { name } : {}), ...(description !== undefined ? { description } : {}) });
    return groupView((await this.store.getTagGroup(workspaceId, id))!);
  }

  /** Deletes an empty tag group; one that still holds tags is refused with their list (move or delete them first). */
  async deleteGroup(workspaceId: string, id: string): Promise<{ deleted: true; id: string }> {
    const group = await this.store.getTagGroup(workspaceId, id);
    if (!group) throw notFound('tag group', id);
    const tags = (await this.store.listTags(workspaceId)).filter((t) => t.groupId === id);
    if (tags.length) {
      throw new AppError('CONFLICT', `tag group "${group.name}" still holds ${tags.length} tag(s) (${tags.slice(0, 5).map((t) => `"${t.name}"`).join(', ')}${tags.length > 5 ? ', …' : ''}); move them to another group (PUT /api/v1/tags/{id} with "groupId") or delete them first`, {
        tags: tags.map((t) => ({ id: t.id, name: t.name })),
      });
    }
    await this.store.deleteTagGroup(workspaceId, id);
    return { deleted: true, id };
  }

  // ---------------------------------------------------------------- tags

  /** Creates a tag; a rule tag is computed for everyone before this returns. */
  async create(workspaceId: string, input: unknown): Promise<TagView & { warnings: Problem[] }> {
    const parsed = TagInput.safeParse(input);
    const problems: Problem[] = parsed.success ? [] : zodProblems(parsed.error.issues);
    const body = (input ?? {}) as Record<string, unknown>;
    const kind = parsed.success ? parsed.data.kind : body.kind;
    let warnings: Problem[] = [];
    let definition: unknown = null;
    if (kind === 'rule') {
      if (body.definition === undefined) problems.push({ path: 'definition', message: 'a rule tag needs a definition: { "version": 1, "condition": … }' });
      else {
        const v = await this.audiences.validateDefinition(workspaceId, body.definition, { path: 'definition' });
        warnings = v.warnings;
        if (v.ok) definition = v.definition;
        else problems.push(...v.problems);
      }
    } else if (body.definition !== undefined) {
      problems.push({ path: 'definition', message: `only rule tags have a definition; remove it or use "kind": "rule"` });
    }
    // Checked whatever else is wrong (every problem at once).
    const groupId = typeof body.groupId === 'string' && body.groupId ? body.groupId : undefined;
    if (groupId && !(await this.store.getTagGroup(workspaceId, groupId))) {
      problems.push({ path: 'groupId', message: `tag group "${groupId}" does not exist; create it with POST /api/v1/tag-groups` });
    }
    if (problems.length || !parsed.success) throw invalid('the tag is not valid', problems, warnings);
    const d = parsed.data;
    if (await this.store.tagByName(workspaceId, d.name)) throw new AppError('CONFLICT', `a tag named "${d.name}" already exists`, { name: d.name });
    const now = this.deps.clock().toISOString();
    const tag: TagRecord = {
      id: this.deps.newId('tag'),
      workspaceId,
      groupId: d.groupId ?? null,
      name: d.name,
      kind: d.kind,
      definition,
      description: d.description ?? null,
      defaultTtlDays: d.defaultTtlDays ?? null,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.insertTag(tag);
    this.engine.invalidate(workspaceId);
    if (tag.kind === 'rule') await this.engine.recompute(workspaceId, 'tag', tag.id, 'computed');
    return { ...(await this.view(workspaceId, tag)), warnings };
  }

  async list(workspaceId: string, q: { groupId?: string | undefined; kind?: string | undefined } = {}): Promise<{ data: TagView[] }> {
    let tags = await this.store.listTags(workspaceId);
    if (q.groupId) tags = tags.filter((t) => t.groupId === q.groupId);
    if (q.kind) tags = tags.filter((t) => t.kind === q.kind);
    const bitmaps = await this.engine.index.bitmaps(workspaceId);
    return { data: tags.map((t) => toView(t, bitmaps.tags.get(t.id)?.andCardinality(bitmaps.all) ?? 0)) };
  }

  async get(workspaceId: string, id: string): Promise<TagView> {
    return this.view(workspaceId, await this.mustGet(workspaceId, id));
  }

  /** Changes a tag. A new definition of a rule tag is recomputed (with history) before this returns. */
  async update(workspaceId: string, id: string, input: unknown): Promise<TagView & { warnings: Problem[] }> {
    const tag = await this.mustGet(workspaceId, id);
    const parsed = TagUpdateInput.safeParse(input);
    const problems: Problem[] = parsed.success ? [] : zodProblems(parsed.error.issues);
    const body = (input ?? {}) as Record<string, unknown>;
    let warnings: Problem[] = [];
    let definition = tag.definition;
    if (parsed.success && parsed.data.kind !== undefined && parsed.data.kind !== tag.kind) {
      problems.push({ path: 'kind', message: `a tag's kind cannot change (this one is "${tag.kind}"); create a new tag instead` });
    }
    if (body.definition !== undefined) {
      if (tag.kind !== 'rule') problems.push({ path: 'definition', message: 'only rule tags have a definition' });
      else {
        const v = await this.audiences.validateDefinition(workspaceId, body.definition, { path: 'definition', self: { kind: 'tag', id } });
        warnings = v.warnings;
        if (v.ok) definition = v.definition;
        else problems.push(...v.problems);
      }
    }
    const groupId = typeof body.groupId === 'string' && body.groupId ? body.groupId : undefined;
    if (groupId && !(await this.store.getTagGroup(workspaceId, groupId))) {
      problems.push({ path: 'groupId', message: `tag group "${groupId}" does not exist` });
    }
    if (problems.length || !parsed.success) throw invalid('the tag change is not valid', problems, warnings);
    const d = parsed.data;
    if (d.name !== undefined && d.name !== tag.name) {
      const other = await this.store.tagByName(workspaceId, d.name);
      if (other) throw new AppError('CONFLICT', `a tag named "${d.name}" already exists`, { name: d.name });
      const model = await this.engine.model(workspaceId, { fresh: true });
      const byName = model.referencesByName(tag.name);
      if (byName.length) {
        throw new AppError('CONFLICT', `cannot rename tag "${tag.name}": ${describeDependants(byName)} refer to it by name; change them to use its id "${tag.id}" first`, { dependants: dependantList(byName) });
      }
    }
    const redefined = JSON.stringify(definition) !== JSON.stringify(tag.definition);
    const next: TagRecord = {
      ...tag,
      name: d.name ?? tag.name,
      groupId: d.groupId === undefined ? tag.groupId : d.groupId,
      description: d.description === undefined ? tag.description : d.description,
      defaultTtlDays: d.defaultTtlDays === undefined ? tag.defaultTtlDays : d.defaultTtlDays,
      definition,
      updatedAt: this.deps.clock().toISOString(),
    };
    await this.store.updateTag(next);
    this.engine.invalidate(workspaceId);
    if (redefined) await this.engine.recompute(workspaceId, 'tag', id, 'redefined');
    return { ...(await this.view(workspaceId, next)), warnings };
  }

  /** Deletes a tag and its applications; refused (CONFLICT) while a segment or rule tag uses it. */
  async delete(workspaceId: string, id: string): Promise<{ deleted: true; id: string }> {
    const tag = await this.mustGet(workspaceId, id);
    const model = await this.engine.model(workspaceId, { fresh: true });
    const dependants = model.dependantsOf('tag', id).filter((d) => !(d.kind === 'tag' && d.id === id));
    if (dependants.length) {
      throw new AppError('CONFLICT', `tag "${tag.name}" is used by ${describeDependants(dependants)}; change or delete them first`, { dependants: dependantList(dependants) });
    }
    await this.engine.exclusive(() => this.store.transaction((tx) => tx.deleteTag(workspaceId, id), audienceLockOf(workspaceId)));
    this.engine.invalidate(workspaceId);
    this.engine.index.apply(workspaceId, [{ op: 'drop', kind: 'tag', refId: id }]);
    return { deleted: true, id };
  }

  async history(workspaceId: string, id: string, q: { limit: number; cursor?: string | undefined; profileId?: string | undefined }): Promise<Page<MembershipHistoryView>> {
    await this.mustGet(workspaceId, id);
    const page = await this.store.history(workspaceId, id, q);
    return { data: await historyViews(this.deps.store, workspaceId, page.data), nextCursor: page.nextCursor };
  }

  // ---------------------------------------------------------------- applying

  /** The tags a profile holds, oldest application first. */
  async tagsOf(workspaceId: string, profileId: string): Promise<ProfileTagView[]> {
    const rows = await this.store.tagsOfProfiles(workspaceId, [profileId]);
    return rows.map((r) => ({ id: r.tagId, name: r.name, source: r.source, appliedBy: r.actor, appliedAt: r.appliedAt, expiresAt: r.expiresAt }));
  }

  /** Applies a manual or imported tag to one person (a merged-away id applies to the survivor). */
  async applyToProfile(workspaceId: string, profileId: string, input: unknown, actor: string): Promise<{ profileId: string; applied: boolean; tag: ProfileTagView }> {
    const parsed = ApplyTagInput.safeParse(input);
    if (!parsed.success) throw invalid('the tag application is not valid', zodProblems(parsed.error.issues));
    const profile = await this.deps.store.canonicalProfile(workspaceId, profileId);
    if (!profile) throw notFound('profile', profileId);
    const tag = parsed.data.tagId !== undefined ? await this.mustGet(workspaceId, parsed.data.tagId) : await this.store.tagByName(workspaceId, parsed.data.tagName!);
    if (!tag) throw new AppError('NOT_FOUND', `no tag is named "${parsed.data.tagName}"; create it with POST /api/v1/tags`, { name: parsed.data.tagName });
    const expiresAt = this.expiryOf(tag, parsed.data.expiresAt, 'expiresAt');
    const r = await this.apply(workspaceId, tag, [profile.id], { source: 'manual', actor, expiresAt });
    const [view] = (await this.tagsOf(workspaceId, profile.id)).filter((t) => t.id === tag.id);
    return { profileId: profile.id, applied: r.applied.length === 1, tag: view ?? { id: tag.id, name: tag.name, source: 'manual', appliedBy: actor, appliedAt: this.deps.clock().toISOString(), expiresAt } };
  }

  async removeFromProfile(workspaceId: string, profileId: string, tagId: string, actor: string): Promise<{ profileId: string; tagId: string; removed: boolean }> {
    const profile = await this.deps.store.canonicalProfile(workspaceId, profileId);
    if (!profile) throw notFound('profile', profileId);
    const tag = await this.mustGet(workspaceId, tagId);
    const removed = await this.remove(workspaceId, tag, [profile.id], { reason: 'manual', actor });
    return { profileId: profile.id, tagId: tag.id, removed: removed.length === 1 };
  }

  /**
   * Applies a tag to everyone in a list or CSV of identifiers. Imported tags are recorded with source
   * `import`, others `api`. Answers how many were tagged and which identifiers matched no one.
   */
  async applyBulk(workspaceId: string, tagId: string, input: BulkIdentifiersInput, actor: string): Promise<BulkTagResult> {
    const tag = await this.mustGet(workspaceId, tagId);
    const { identifiers, expiresAtInput } = await this.readBulk(workspaceId, input);
    const expiresAt = this.expiryOf(tag, expiresAtInput, 'expiresAt');
    const resolved = await this.resolve(workspaceId, identifiers);
    const r = await this.apply(workspaceId, tag, resolved.profileIds, { source: tag.kind === 'imported' ? 'import' : 'api', actor, expiresAt });
    return { tagId, requested: identifiers.length, matched: resolved.profileIds.length, applied: r.applied.length, alreadyTagged: r.refreshed.length, ...resolved.report };
  }

  async removeBulk(workspaceId: string, tagId: string, input: BulkIdentifiersInput, actor: string): Promise<BulkTagResult> {
    const tag = await this.mustGet(workspaceId, tagId);
    const { identifiers } = await this.readBulk(workspaceId, input);
    const resolved = await this.resolve(workspaceId, identifiers);
    const removed = await this.remove(workspaceId, tag, resolved.profileIds, { reason: 'api', actor });
    return { tagId, requested: identifiers.length, matched: resolved.profileIds.length, removed: removed.length, notTagged: resolved.profileIds.length - removed.length, ...resolved.report };
  }

  private async readBulk(workspaceId: string, input: BulkIdentifiersInput): Promise<{ identifiers: Identifier[]; expiresAtInput: string | null | undefined }> {
    if ('csv' in input) {
      const rules = await this.workspaces.identityRules(workspaceId);
      return { identifiers: parseIdentifierCsv(input.csv, rules), expiresAtInput: input.expiresAt };
    }
    const identifiers = parseIdentifierList(input.json);
    const e = (input.json as Record<string, unknown>).expiresAt;
    if (e !== undefined && e !== null && typeof e !== 'string') throw invalid('the tag application is not valid', [{ path: 'expiresAt', message: 'expected an ISO-8601 time' }]);
    return { identifiers, expiresAtInput: e as string | null | undefined };
  }

  /** Profiles holding these identifiers (normalised like ingestion), and what matched no one. */
  private async resolve(workspaceId: string, identifiers: readonly Identifier[]): Promise<{ profileIds: string[]; report: Pick<BulkTagResult, 'notFound' | 'invalid' | 'unmatched'> }> {
    const rules = await this.workspaces.identityRules(workspaceId);
    const unmatched: UnmatchedIdentifier[] = [];
    const valid: { input: Identifier; key: Identifier }[] = [];
    for (const id of identifiers) {
      const n = normalizeIdentifier(id, rules);
      if (n.ok) valid.push({ input: id, key: n.value });
      else unmatched.push({ type: id.type, value: id.value, reason: 'invalid', message: n.message });
    }
    const keyOf = (i: Identifier) => `${i.type}\u0000${i.value}`;
    const distinct = new Map(valid.map((v) => [keyOf(v.key), v.key]));
    const owners = new Map<string, string>();
    for (const row of await this.deps.store.identitiesByKeys(workspaceId, [...distinct.values()])) owners.set(keyOf(row), row.profileId);
    const profiles = new Set<string>();
    let notFoundCount = 0;
    for (const v of valid) {
      const owner = owners.get(keyOf(v.key));
      if (owner) profiles.add(owner);
      else {
        notFoundCount++;
        unmatched.push({ type: v.input.type, value: v.input.value, reason: 'not_found' });
      }
    }
    return { profileIds: [...profiles], report: { notFound: notFoundCount, invalid: unmatched.length - notFoundCount, unmatched } };
  }

  /** Writes applications (new ones with history and `Tag Added` events; existing ones get the new expiry). */
  private async apply(workspaceId: string, tag: TagRecord, profileIds: readonly string[], opts: { source: 'manual' | 'api' | 'import'; actor: string; expiresAt: string | null }): Promise<{ applied: string[]; refreshed: string[] }> {
    if (tag.kind === 'rule') throw new AppError('CONFLICT', `"${tag.name}" is a rule tag: its rule decides who has it; change the rule, or use a manual tag`, { tagId: tag.id });
    if (profileIds.length === 0) return { applied: [], refreshed: [] };
    const at = this.deps.clock().toISOString();
    const { changes, refreshed } = await this.store.transaction(async (tx) => {
      const existing = new Set((await tx.tagApplications(workspaceId, tag.id, profileIds)).map((r) => r.profileId));
      const fresh = profileIds.filter((p) => !existing.has(p));
      const refreshed = profileIds.filter((p) => existing.has(p));
      await tx.insertProfileTags(workspaceId, fresh.map((profileId) => ({ tagId: tag.id, profileId, source: opts.source, actor: opts.actor, appliedAt: at, expiresAt: opts.expiresAt })));
      await tx.setTagExpiry(workspaceId, tag.id, refreshed, opts.expiresAt);
      const nums = new Map((await tx.profileNums(workspaceId, fresh)).map((n) => [n.id, n.num ?? -1]));
      const changes: MembershipChange[] = fresh.map((profileId) => ({ kind: 'tag', refId: tag.id, refName: tag.name, profileId, num: nums.get(profileId) ?? -1, action: 'entered', reason: opts.source, source: opts.source, actor: opts.actor, at }));
      await this.engine.recordChanges(tx, workspaceId, changes);
      return { changes, refreshed };
    }, audienceLockOf(workspaceId));
    this.engine.afterCommit(workspaceId, changes.filter((c) => c.num >= 0));
    await this.reevaluateDependants(workspaceId, tag, changes.map((c) => c.profileId));
    await this.engine.membershipEventsCommitted(workspaceId, changes);
    return { applied: changes.map((c) => c.profileId), refreshed };
  }

  private async remove(workspaceId: string, tag: TagRecord, profileIds: readonly string[], opts: { reason: MembershipReason; actor: string }): Promise<string[]> {
    if (tag.kind === 'rule') throw new AppError('CONFLICT', `"${tag.name}" is a rule tag: its rule decides who has it; change the rule instead`, { tagId: tag.id });
    if (profileIds.length === 0) return [];
    const at = this.deps.clock().toISOString();
    const changes = await this.store.transaction(async (tx) => {
      const removed = await tx.deleteProfileTags(workspaceId, tag.id, profileIds);
      const nums = new Map((await tx.profileNums(workspaceId, removed)).map((n) => [n.id, n.num ?? -1]));
      const changes: MembershipChange[] = removed.map((profileId) => ({ kind: 'tag', refId: tag.id, refName: tag.name, profileId, num: nums.get(profileId) ?? -1, action: 'exited', reason: opts.reason, source: opts.reason, actor: opts.actor, at }));
      await this.engine.recordChanges(tx, workspaceId, changes);
      return changes;
    }, audienceLockOf(workspaceId));
    this.engine.afterCommit(workspaceId, changes.filter((c) => c.num >= 0));
    await this.reevaluateDependants(workspaceId, tag, changes.map((c) => c.profileId));
    await this.engine.membershipEventsCommitted(workspaceId, changes);
    return changes.map((c) => c.profileId);
  }

  /** Rule tags and segments that use this tag are re-evaluated for the people whose tag changed. */
  private async reevaluateDependants(workspaceId: string, tag: TagRecord, profileIds: readonly string[]): Promise<void> {
    if (profileIds.length === 0) return;
    const model = await this.engine.model(workspaceId);
    if (model.dependantsOf('tag', tag.id).length === 0) return;
    await this.engine.profilesChanged(workspaceId, profileIds, 'tags');
  }

  /** The expiry of a new application: the given time, else the tag's default TTL, else none. */
  private expiryOf(tag: TagRecord, given: string | null | undefined, path: string): string | null {
    const now = this.deps.clock().getTime();
    if (given !== undefined && given !== null) {
      const ms = Date.parse(given);
      if (Number.isNaN(ms)) throw invalid('the expiry is not valid', [{ path, message: `expected an ISO-8601 time such as "2026-06-30T00:00:00Z", got "${given}"` }]);
      if (ms <= now) throw invalid('the expiry is not valid', [{ path, message: `expiresAt ${given} is not in the future` }]);
      return new Date(ms).toISOString();
    }
    return tag.defaultTtlDays ? new Date(now + tag.defaultTtlDays * DAY_MS).toISOString() : null;
  }

  private async mustGet(workspaceId: string, id: string): Promise<TagRecord> {
    const tag = await this.store.getTag(workspaceId, id);
    if (!tag) throw notFound('tag', id);
    return tag;
  }

  private async view(workspaceId: string, tag: TagRecord): Promise<TagView> {
    const bitmaps = await this.engine.index.bitmaps(workspaceId);
    return toView(tag, bitmaps.tags.get(tag.id)?.andCardinality(bitmaps.all) ?? 0);
  }
}

function toView(t: TagRecord, count: number): TagView {
  return { id: t.id, name: t.name, groupId: t.groupId, kind: t.kind, description: t.description, definition: t.kind === 'rule' ? t.definition : null, defaultTtlDays: t.defaultTtlDays, count, createdAt: t.createdAt, updatedAt: t.updatedAt };
}

function groupView(g: TagGroupRecord): TagGroupView {
  return { id: g.id, name: g.name, description: g.description, createdAt: g.createdAt };
}
