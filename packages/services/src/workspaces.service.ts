import { AppError, DEFAULT_IDENTITY_RULES, IdentityRule, toRuleMap, type IdentityRules, type WorkspaceRecord } from '@siyu/core';
import { z } from 'zod';
import type { ServiceDeps } from './deps.ts';
import { hashSecret, newSecret } from './ids.ts';

export interface WorkspaceCredentials {
  workspace: WorkspaceRecord;
  writeKey: string;
  adminToken: string;
}

export const CreateWorkspaceInput = z.object({
  name: z.string().trim().min(1, 'name must not be empty').max(100),
  timeZone: z
    .string()
    .optional()
    .refine((tz) => tz === undefined || isTimeZone(tz), 'timeZone must be an IANA name such as Asia/Shanghai'),
});

/** Workspaces, their keys (stored hashed) and identity rules. Caches key lookups and rules in memory. */
export class WorkspaceService {
  private readonly byKey = new Map<string, { ws: WorkspaceRecord | undefined; at: number }>();
  private readonly rules = new Map<string, { rules: IdentityRules; at: number }>();
  private static readonly TTL_MS = 30_000;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly defaultTimeZone = 'Asia/Shanghai',
  ) {}

  async create(input: unknown, opts: { instanceAdmin?: boolean } = {}): Promise<WorkspaceCredentials> {
    const parsed = CreateWorkspaceInput.safeParse(input);
    if (!parsed.success) {
      throw new AppError('INVALID_INPUT', 'the workspace is not valid', {
        problems: parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message })),
      });
    }
    const writeKey = newSecret('wk');
    const adminToken = newSecret('sat');
    const workspace: WorkspaceRecord = {
      id: this.deps.newId('workspace'),
      name: parsed.data.name,
      timeZone: parsed.data.timeZone ?? this.defaultTimeZone,
      createdAt: this.deps.clock().toISOString(),
      instanceAdmin: opts.instanceAdmin ?? false,
    };
    await this.deps.store.createWorkspace({ ...workspace, writeKeyHash: hashSecret(writeKey), adminTokenHash: hashSecret(adminToken), rules: DEFAULT_IDENTITY_RULES });
    return { workspace, writeKey, adminToken };
  }

  async authenticate(kind: 'write' | 'admin', secret: string): Promise<WorkspaceRecord | undefined> {
    const hash = hashSecret(secret);
    const cacheKey = `${kind}:${hash}`;
    const now = Date.now();
    const hit = this.byKey.get(cacheKey);
    if (hit && now - hit.at < WorkspaceService.TTL_MS) return hit.ws;
    const ws = await this.deps.store.findWorkspaceByKey(kind, hash);
    if (this.byKey.size > 10_000) this.byKey.clear();
    this.byKey.set(cacheKey, { ws, at: now });
    return ws;
  }

  async list(caller: WorkspaceRecord): Promise<WorkspaceRecord[]> {
    if (!caller.instanceAdmin) return [caller];
    return this.deps.store.listWorkspaces();
  }

  /**
   * The workspace's identity rules (cached for {@link WorkspaceService.TTL_MS}, or read now with `fresh`). Inside a
   * transaction pass its store: on SQLite the transaction holds the only connection, and a read through another
   * store would wait forever.
   */
  async identityRules(workspaceId: string, store: ServiceDeps['store'] = this.deps.store, opts: { fresh?: boolean } = {}): Promise<IdentityRules> {
    const hit = this.rules.get(workspaceId);
    if (!opts.fresh && hit && Date.now() - hit.at < WorkspaceService.TTL_MS) return hit.rules;
    const rules = toRuleMap(await store.identityRules(workspaceId));
    this.rules.set(workspaceId, { rules, at: Date.now() });
    return rules;
  }

  /** Adds a custom identifier type, or changes a type's priority/limit. */
  async putIdentityType(workspaceId: string, input: unknown): Promise<IdentityRule> {
    const parsed = IdentityRule.omit({ builtin: true }).safeParse(input);
    if (!parsed.success) {
      throw new AppError('INVALID_INPUT', 'the identifier type is not valid', {
        problems: parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message })),
      });
    }
    const existing = (await this.identityRules(workspaceId)).get(parsed.data.type);
    const rule: IdentityRule = { ...parsed.data, builtin: existing?.builtin ?? false };
    await this.deps.store.upsertIdentityRule(workspaceId, rule);
    this.rules.delete(workspaceId);
    return rule;
  }
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
