import { AppError, type ErrorCode } from '@siyu/core';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** The one table from error code to HTTP status; a missing code fails to compile. */
export const HTTP_STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  INVALID_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof SyntaxError) return new AppError('INVALID_INPUT', `the body is not valid JSON: ${err.message}`, { problems: [{ path: '(body)', message: err.message }] });
  return new AppError('INTERNAL', 'something went wrong on our side; the request id in the logs has the details', undefined, { cause: err });
}
