import { useCallback, useState } from 'react';
import type { Page } from './api';
import { useRequest } from './use-request';

export const PAGE_SIZES = [10, 20, 50, 100] as const;

export interface CursorPages<T> {
  rows: T[];
  loading: boolean;
  error: unknown;
  /** 1-based page number. */
  page: number;
  hasPrev: boolean;
  hasNext: boolean;
  next: () => void;
  prev: () => void;
  limit: number;
  setLimit: (limit: number) => void;
  reload: () => void;
}

/**
 * Page-by-page navigation over a cursor-paginated list. The cursors of visited pages are kept, so
 * "previous" works without the server supporting backwards cursors. A new `query` (compared by
 * its JSON) or page size starts over at page 1.
 */
export function useCursorPages<T, Q>(
  fetchPage: (query: Q, page: { limit: number; cursor: string | null }, signal: AbortSignal) => Promise<Page<T>>,
  query: Q,
  initialLimit = 20,
): CursorPages<T> {
  const [limit, setLimitState] = useState(initialLimit);
  const key = `${JSON.stringify(query)}|${limit}`;
  // cursors[i] loads page i + 1 (null for the first page); kept per query key
  const [nav, setNav] = useState<{ key: string; cursors: (string | null)[] }>({ key, cursors: [null] });
  const cursors = nav.key === key ? nav.cursors : [null];
  const cursor = cursors[cursors.length - 1] ?? null;

  const { data, error, loading, reload } = useRequest(
    (signal) => fetchPage(query, { limit, cursor }, signal),
    [key, cursor],
  );

  const nextCursor = data?.nextCursor ?? null;
  const next = useCallback(() => {
    if (nextCursor) setNav({ key, cursors: [...cursors, nextCursor] });
  }, [key, cursors, nextCursor]);
  const prev = useCallback(() => {
    if (cursors.length > 1) setNav({ key, cursors: cursors.slice(0, -1) });
  }, [key, cursors]);

  return {
    rows: data?.data ?? [],
    loading,
    error,
    page: cursors.length,
    hasPrev: cursors.length > 1,
    hasNext: nextCursor !== null && !loading,
    next,
    prev,
    limit,
    setLimit: setLimitState,
    reload,
  };
}
