import { AppError, notFound, type Page, type Problem } from '@siyu/core';
import type { SegmentRecord } from '@siyu/storage';
import { z } from 'zod';
import type { ServiceDeps } from '../deps.ts';
import type { ProfileSummary } from '../profiles.service.ts';
import { audienceLockOf, type AudienceEngine } from './audience-engine.service.ts';
import type { AudienceService } from './audiences.service.ts';
import { dependantList, describeDependants, historyViews, invalid, zodProblems, type MembershipHistoryView } from './helpers.ts';

const segmentFields = {
  name: z.string().trim().min(1, 'give the segment a name').max(200),
  description: z.string().max(2000).nullish(),
  /** `{ version: 1, condition }`, validated against the workspace. */
  definition: z.unknown(),
};

export const SegmentInput = z.strictObject(segmentFields);
export type SegmentInput = z.input<typeof SegmentInput>;
export const SegmentUpdateInput = z.strictObject({ ...segmentFields, name: segmentFields.name.optional(), definition: z.unknown().optional() });
export type SegmentUpdateInput = z.input<typeof SegmentUpdateInput>;

export interface SegmentView {
  id: string;
  name: string;
  description: string | null;
  definition: unknown;
  /** Increases with every change of the definition. */
  version: number;
  /** Current members. */
  count: number;
  createdAt: string;
  updatedAt: string;
  /** When membership was last computed in bulk (creation or redefinition). */
  computedAt: string | null;
}

/** Export columns: `id`, `createdAt`, `updatedAt`, `traits.<path>`, `computed.<name>`, `identities.<type>`. */
export const DEFAULT_EXPORT_FIELDS = ['id', 'traits.name', 'identities.phone', 'identities.email'] as const;
const EXPORT_PAGE = 1000;

/**
 * Segments (分群): saved definitions whose membership the audience engine keeps current. Creating
 * or redefining one computes it for everyone before answering; members, CSV export and membership
 * history are read here.
 */
export class SegmentService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly engine: AudienceEngine,
    private readonly audiences: AudienceService,
  ) {}

  private get store() {
    return this.engine.store;
  }

  /** Creates a segment and computes its membership (history rows and `Segment Entered` events). */
  async create(workspaceId: string, input: unknown): Promise<SegmentView & { warnings: Problem[] }> {
    const parsed = SegmentInput.safeParse(input);
    const problems: Problem[] = parsed.success ? [] : zodProblems(parsed.error.issues.filter((i) => i.path[0] !== 'definition'));
    const body = (input ?? {}) as Record<string, unknown>;
    let warnings: Problem[] = [];
    let definition: unknown = null;
    if (body.definition === undefined) problems.push({ path: 'definition', message: 'missing "definition": { "version": 1, "condition": … }' });
    else {
      const v = await this.audiences.validateDefinition(workspaceId, body.definition, { path: 'definition' });
      warnings = v.warnings;
      if (v.ok) definition = v.definition;
      else problems.push(...v.problems);
    }
    if (problems.length || !parsed.success) throw invalid('the segment is not valid', problems, warnings);
    await this.refuseDuplicateName(workspaceId, parsed.data.name);
    const now = this.deps.clock().toISOString();
    const segment: SegmentRecord = {
      id: this.deps.newId('segment'),
      workspaceId,
      name: parsed.data.name,
      description: parsed.data.description ?? null,
      definition,
      version: 1,
      createdAt: now,
      updatedAt: now,
      computedAt: null,
    };
    await this.store.insertSegment(segment);
    this.engine.invalidate(workspaceId);
    await this.engine.recompute(workspaceId, 'segment', segment.id, 'computed');
    return { ...(await this.get(workspaceId, segment.id)), warnings };
  }

  async list(workspaceId: string): Promise<{ data: SegmentView[] }> {
    const [segments, bitmaps] = await Promise.all([this.store.listSegments(workspaceId), this.engine.index.bitmaps(workspaceId)]);
    return { data: segments.map((s) => toView(s, bitmaps.segments.get(s.id)?.andCardinality(bitmaps.all) ?? 0)) };
  }

  /** A segment with its definition and current member count. */
  async get(workspaceId: string, id: string): Promise<SegmentView> {
    const s = await this.mustGet(workspaceId, id);
    const bitmaps = await this.engine.index.bitmaps(workspaceId);
    return toView(s, bitmaps.segments.get(id)?.andCardinality(bitmaps.all) ?? 0);
  }

  /**
   * Changes a segment. A new definition is validated (no reference back to this segment), stored as
   * the next version, and membership recomputed: people who no longer match exit, new matches enter.
   */
  async update(workspaceId: string, id: string, input: unknown): Promise<SegmentView & { warnings: Problem[] }> {
    const segment = await this.mustGet(workspaceId, id);
    const parsed = SegmentUpdateInput.safeParse(input);
    const problems: Problem[] = parsed.success ? [] : zodProblems(parsed.error.issues.filter((i) => i.path[0] !== 'definition'));
    const body = (input ?? {}) as Record<string, unknown>;
    let warnings: Problem[] = [];
    let definition = segment.definition;
    if (body.definition !== undefined) {
      const v = await this.audiences.validateDefinition(workspaceId, body.definition, { path: 'definition', self: { kind: 'segment', id } });
      warnings = v.warnings;
      if (v.ok) definition = v.definition;
      else problems.push(...v.problems);
    }
    if (problems.length || !parsed.success) throw invalid('the segment change is not valid', problems, warnings);
    if (parsed.data.name !== undefined && parsed.data.name !== segment.name) await this.refuseDuplicateName(workspaceId, parsed.data.name);
    const redefined = JSON.stringify(definition) !== JSON.stringify(segment.definition);
    const next: SegmentRecord = {
      ...segment,
      name: parsed.data.name ?? segment.name,
      description: parsed.data.description === undefined ? segment.description : parsed.data.description,
      definition,
      version: segment.version + (redefined ? 1 : 0),
      updatedAt: this.deps.clock().toISOString(),
    };
    await this.store.updateSegment(next);
    this.engine.invalidate(workspaceId);
    if (redefined) await this.engine.recompute(workspaceId, 'segment', id, 'redefined');
    return { ...(await this.get(workspaceId, id)), warnings };
  }

  /** Deletes a segment; refused (CONFLICT) while another segment or rule tag refers to it. */
  async delete(workspaceId: string, id: string): Promise<{ deleted: true; id: string }> {
    const segment = await this.mustGet(workspaceId, id);
    const model = await this.engine.model(workspaceId, { fresh: true });
    const dependants = model.dependantsOf('segment', id).filter((d) => !(d.kind === 'segment' && d.id === id));
    if (dependants.length) {
      throw new AppError('CONFLICT', `segment "${segment.name}" is used by ${describeDependants(dependants)}; change or delete them first`, { dependants: dependantList(dependants) });
    }
    await this.engine.exclusive(() => this.store.transaction((tx) => tx.deleteSegment(workspaceId, id), audienceLockOf(workspaceId)));
    this.engine.invalidate(workspaceId);
    this.engine.index.apply(workspaceId, [{ op: 'drop', kind: 'segment', refId: id }]);
    return { deleted: true, id };
  }

  /** Current members as profile summaries, by profile id. */
  async members(workspaceId: string, id: string, q: { limit: number; cursor?: string | undefined }): Promise<Page<ProfileSummary>> {
    await this.mustGet(workspaceId, id);
    const page = await this.store.segmentMemberIds(workspaceId, id, q);
    return { data: await this.audiences.summaries(workspaceId, page.data), nextCursor: page.nextCursor };
  }

  /** Entries and exits, newest first (optionally of one profile). */
  async history(workspaceId: string, id: string, q: { limit: number; cursor?: string | undefined; profileId?: string | undefined }): Promise<Page<MembershipHistoryView>> {
    await this.mustGet(workspaceId, id);
    const page = await this.store.history(workspaceId, id, q);
    return { data: await historyViews(this.deps.store, workspaceId, page.data), nextCursor: page.nextCursor };
  }

  /**
   * The members as CSV, one column per field (`id`, `traits.name`, `computed.total_spent`,
   * `identities.phone`…), produced page by page so any size streams in constant memory. Fields are
   * checked before anything is produced.
   */
  async exportCsv(workspaceId: string, id: string, fields?: readonly string[]): Promise<{ filename: string; fields: string[]; lines: AsyncIterable<string> }> {
    const segment = await this.mustGet(workspaceId, id);
    const cols = fields && fields.length ? [...fields] : [...DEFAULT_EXPORT_FIELDS];
    const problems: Problem[] = [];
    cols.forEach((f, i) => {
      if (!/^(id|createdAt|updatedAt|(traits|computed|identities)\..+)$/.test(f)) {
        problems.push({ path: `fields[${i}]`, message: `unknown field "${f}"; use id, createdAt, updatedAt, traits.<name>, computed.<name> or identities.<type>` });
      }
    });
    if (problems.length) throw invalid('the export fields are not valid', problems);
    const wantIdentities = cols.some((c) => c.startsWith('identities.'));
    const store = this.store;
    const deps = this.deps;
    async function* lines(): AsyncGenerator<string> {
      yield `${cols.map(csvCell).join(',')}\r\n`;
      let cursor: string | undefined;
      for (;;) {
        const page = await store.segmentMemberIds(workspaceId, id, { limit: EXPORT_PAGE, cursor });
        if (page.data.length) {
          const [profiles, identities] = await Promise.all([deps.store.profilesByIds(page.data), wantIdentities ? deps.store.identitiesOfProfiles(page.data) : Promise.resolve([])]);
          const byProfile = new Map<string, Map<string, string[]>>();
          for (const i of identities) {
            let m = byProfile.get(i.profileId);
            if (!m) byProfile.set(i.profileId, (m = new Map()));
            m.set(i.type, [...(m.get(i.type) ?? []), i.value]);
          }
          const byId = new Map(profiles.map((p) => [p.id, p]));
          let chunk = '';
          for (const pid of page.data) {
            const p = byId.get(pid);
            if (!p) continue;
            const row = cols.map((c) => {
              if (c === 'id') return p.id;
              if (c === 'createdAt') return p.createdAt;
              if (c === 'updatedAt') return p.updatedAt;
              const dot = c.indexOf('.');
              const [scope, path] = [c.slice(0, dot), c.slice(dot + 1)];
              if (scope === 'identities') return (byProfile.get(p.id)?.get(path) ?? []).join(';');
              return readPath(scope === 'traits' ? p.traits : (p.computed as unknown as Record<string, unknown>), path);
            });
            chunk += `${row.map(csvCell).join(',')}\r\n`;
          }
          yield chunk;
        }
        if (!page.nextCursor) return;
        cursor = page.nextCursor;
      }
    }
    const safeName = segment.name.replace(/[^\p{L}\p{N}_-]+/gu, '_').slice(0, 60) || segment.id;
    return { filename: `${safeName}.csv`, fields: cols, lines: lines() };
  }

  private async refuseDuplicateName(workspaceId: string, name: string): Promise<void> {
    const existing = (await this.store.listSegments(workspaceId)).find((s) => s.name === name);
    if (existing) throw new AppError('CONFLICT', `a segment named "${name}" already exists (${existing.id})`, { id: existing.id });
  }

  private async mustGet(workspaceId: string, id: string): Promise<SegmentRecord> {
    const s = await this.store.getSegment(workspaceId, id);
    if (!s) throw notFound('segment', id);
    return s;
  }
}

function toView(s: SegmentRecord, count: number): SegmentView {
  return { id: s.id, name: s.name, description: s.description, definition: s.definition, version: s.version, count, createdAt: s.createdAt, updatedAt: s.updatedAt, computedAt: s.computedAt };
}

function readPath(record: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(record, path)) return record[path];
  let current: unknown = record;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** One CSV cell: quoted when needed; text that a spreadsheet would run as a formula is defused. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s = typeof value === 'object' ? JSON.stringify(value) : String(value);
  // A leading = + - @ makes spreadsheets evaluate the cell; phone numbers (+8613…) and numbers are left alone.
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s) && !/^[+-]?[\d\s().-]+$/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}
