import {
  AppError,
  extractIdentifiers,
  MAX_BATCH_BYTES,
  MAX_MESSAGE_BYTES,
  parseMessage,
  type Identifier,
  type MessageType,
  type NormalizedMessage,
  type Problem,
  type WorkspaceRecord,
} from '@siyu/core';
import type { ServiceDeps } from './deps.ts';
import type { WorkspaceService } from './workspaces.service.ts';

export type IngestKind = MessageType | 'batch';

export interface IngestResult {
  /** Messages newly stored. */
  accepted: number;
  /** Message ids already received before (not stored again). */
  duplicates: number;
}

/** Called after messages are committed, so the processor can pick them up at once. */
export type InboxListener = () => void;

/**
 * Step 1 of the data flow: validate and normalise Segment-shaped messages, extract identifiers, and
 * append them to the inbox in one transaction. Resolves only after the commit — the caller may then answer 200.
 */
export class IngestService {
  private readonly listeners: InboxListener[] = [];

  constructor(
    private readonly deps: ServiceDeps,
    private readonly workspaces: WorkspaceService,
  ) {}

  onAppend(listener: InboxListener): void {
    this.listeners.push(listener);
  }

  /** Tells the listeners that messages were put in the inbox by other means (dead letters retried). */
  announceAppended(): void {
    for (const l of this.listeners) l();
  }

  /**
   * Validates one HTTP body (`/v1/track` → one message, `/v1/batch` → `{ batch: [...] }`) and stores it.
   * Any invalid message rejects the whole request with every problem and its path (`batch[3].event`).
   */
  async ingest(workspace: WorkspaceRecord, kind: IngestKind, body: unknown, bodyBytes: number): Promise<IngestResult> {
    const receivedAt = this.deps.clock();
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new AppError('INVALID_INPUT', 'the request body must be a JSON object', { problems: [{ path: '(body)', message: `expected an object, got ${Array.isArray(body) ? 'an array' : body === null ? 'null' : typeof body}` }] });
    }
    let raw: unknown[];
    let batchSentAt: string | null = null;
    let batchContext: Record<string, unknown> | null = null;
    if (kind === 'batch') {
      if (bodyBytes > MAX_BATCH_BYTES) {
        throw new AppError('INVALID_INPUT', `batch is ${bodyBytes} bytes; the limit is 500 KB (${MAX_BATCH_BYTES} bytes) per batch — send fewer messages per request`, { limit: 'batch', maxBytes: MAX_BATCH_BYTES, bytes: bodyBytes });
      }
      const b = body as { batch?: unknown; sentAt?: unknown; context?: unknown };
      if (!Array.isArray(b.batch)) throw new AppError('INVALID_INPUT', 'batch must be an array of messages: { "batch": [ … ] }', { problems: [{ path: 'batch', message: 'expected an array' }] });
      if (b.batch.length === 0) throw new AppError('INVALID_INPUT', 'batch is empty; send at least one message', { problems: [{ path: 'batch', message: 'expected at least one message' }] });
      raw = b.batch;
      if (typeof b.sentAt === 'string') batchSentAt = b.sentAt;
      if (typeof b.context === 'object' && b.context !== null) batchContext = b.context as Record<string, unknown>;
    } else {
      if (bodyBytes > MAX_MESSAGE_BYTES) {
        throw new AppError('INVALID_INPUT', `message is ${bodyBytes} bytes; the limit is 32 KB (${MAX_MESSAGE_BYTES} bytes) per message`, { limit: 'message', maxBytes: MAX_MESSAGE_BYTES, bytes: bodyBytes });
      }
      raw = [body];
    }
    const messages = await this.validate(workspace, raw, { kind, receivedAt, batchSentAt, batchContext });
    return this.append(workspace, messages);
  }

  /**
   * Validates already-parsed messages (CSV import and demo use this directly): returns the valid ones
   * and, per index, the problems of the rest — never throws for bad rows.
   */
  async validateEach(
    workspace: WorkspaceRecord,
    raw: readonly unknown[],
    receivedAt = this.deps.clock(),
  ): Promise<{ valid: { index: number; message: NormalizedMessage; identifiers: Identifier[] }[]; invalid: { index: number; problems: Problem[] }[] }> {
    const rules = await this.workspaces.identityRules(workspace.id);
    const valid: { index: number; message: NormalizedMessage; identifiers: Identifier[] }[] = [];
    const invalid: { index: number; problems: Problem[] }[] = [];
    raw.forEach((input, index) => {
      const parsed = parseMessage(input, { receivedAt, fallbackMessageId: () => this.deps.newId('event') });
      if (!parsed.ok) return void invalid.push({ index, problems: parsed.error });
      const ids = extractIdentifiers(parsed.value, rules);
      if (ids.problems.length) return void invalid.push({ index, problems: ids.problems });
      valid.push({ index, message: parsed.value, identifiers: ids.identifiers });
    });
    return { valid, invalid };
  }

  async append(workspace: WorkspaceRecord, messages: readonly { message: NormalizedMessage; identifiers: Identifier[] }[]): Promise<IngestResult> {
    // Within one request a repeated messageId is stored once.
    const seen = new Set<string>();
    const unique = messages.filter((m) => (seen.has(m.message.messageId) ? false : (seen.add(m.message.messageId), true)));
    const { duplicates } = await this.deps.store.appendInbox(
      workspace.id,
      unique.map((m) => ({ messageId: m.message.messageId, payload: JSON.stringify({ message: m.message, identifiers: m.identifiers }), receivedAt: m.message.receivedAt })),
    );
    const accepted = unique.length - duplicates.length;
    if (accepted > 0) for (const l of this.listeners) l();
    return { accepted, duplicates: messages.length - accepted };
  }

  private async validate(
    workspace: WorkspaceRecord,
    raw: readonly unknown[],
    opts: { kind: IngestKind; receivedAt: Date; batchSentAt: string | null; batchContext: Record<string, unknown> | null },
  ): Promise<{ message: NormalizedMessage; identifiers: Identifier[] }[]> {
    const rules = await this.workspaces.identityRules(workspace.id);
    const problems: Problem[] = [];
    const out: { message: NormalizedMessage; identifiers: Identifier[] }[] = [];
    raw.forEach((input, i) => {
      const path = opts.kind === 'batch' ? `batch[${i}]` : '';
      if (opts.kind === 'batch') {
        const size = Buffer.byteLength(JSON.stringify(input) ?? '');
        if (size > MAX_MESSAGE_BYTES) {
          problems.push({ path, message: `message is ${size} bytes; the limit is 32 KB (${MAX_MESSAGE_BYTES} bytes) per message` });
          return;
        }
        if (opts.batchContext && typeof input === 'object' && input !== null) {
          const m = input as Record<string, unknown>;
          input = { ...m, context: { ...opts.batchContext, ...((m.context as object | undefined) ?? {}) } };
        }
      }
      const parsed = parseMessage(input, {
        receivedAt: opts.receivedAt,
        ...(opts.kind === 'batch' ? {} : { type: opts.kind }),
        batchSentAt: opts.batchSentAt,
        fallbackMessageId: () => this.deps.newId('event'),
        path,
      });
      if (!parsed.ok) return void problems.push(...parsed.error);
      const ids = extractIdentifiers(parsed.value, rules, path);
      if (ids.problems.length) return void problems.push(...ids.problems);
      out.push({ message: parsed.value, identifiers: ids.identifiers });
    });
    if (problems.length) {
      const first = problems[0]!;
      const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
      throw new AppError('INVALID_INPUT', `${first.path ? `${first.path}: ` : ''}${first.message}${more}; nothing in this request was stored`, { problems });
    }
    return out;
  }
}
