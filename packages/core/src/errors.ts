/** The closed set of error codes every edge (HTTP, CLI, worker) maps exhaustively. */
export const ERROR_CODES = [
  'INVALID_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** One problem with an input: where (a JSON path such as `batch[3].traits.phone`) and what to fix. */
export interface Problem {
  path: string;
  message: string;
}

/**
 * The one error type of Siyu. `details` is safe to show to the caller; `cause` is kept for logs.
 *
 * @example throw new AppError('INVALID_INPUT', 'phone "12" is not a valid mobile number', { problems })
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }

  /** The body every edge answers with: `details` always present (`{}` when there is nothing more to say). */
  toJSON(): { error: { code: ErrorCode; message: string; details: Record<string, unknown> } } {
    return { error: { code: this.code, message: this.message, details: this.details ?? {} } };
  }
}

export function invalidInput(message: string, problems: Problem[] = []): AppError {
  return new AppError('INVALID_INPUT', message, problems.length ? { problems } : undefined);
}

export function notFound(what: string, id: string): AppError {
  return new AppError('NOT_FOUND', `${what} "${id}" was not found in this workspace`, { id });
}

/** Expected outcomes that callers branch on are returned, not thrown. */
export type Result<T, E = Problem[]> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });

/** Flattens zod issues into problems with dotted JSON paths (`batch[2].traits.email`). */
export function formatPath(path: ReadonlyArray<PropertyKey>, prefix = ''): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}
