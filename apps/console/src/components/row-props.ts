import type { HTMLAttributes } from 'react';

/**
 * Props for an antd Table row (`onRow`). Its type has no room for `data-*` attributes, which
 * browsers and Playwright need; they are passed through to the <tr> as-is.
 */
export function rowProps(
  testId: string,
  extra: HTMLAttributes<HTMLElement> & Record<`data-${string}`, string> = {},
): HTMLAttributes<HTMLElement> {
  return { ...extra, 'data-testid': testId } as HTMLAttributes<HTMLElement>;
}
