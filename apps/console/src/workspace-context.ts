import { createContext, useCallback, useContext } from 'react';
import type { Me } from './api';
import { DEFAULT_TIME_ZONE, formatDateTime } from './format';

export interface WorkspaceContextValue {
  me: Me | null;
  /** Fetch /api/v1/me again (after the workspace changed). */
  refreshMe: () => void;
}

export const WorkspaceContext = createContext<WorkspaceContextValue>({ me: null, refreshMe: () => {} });

export function useWorkspace(): WorkspaceContextValue {
  return useContext(WorkspaceContext);
}

/** `YYYY-MM-DD HH:mm` in the signed-in workspace's time zone (default Asia/Shanghai). */
export function useDateTime(): (iso: string | null | undefined) => string {
  const { me } = useWorkspace();
  const timeZone = me?.workspace.timeZone || DEFAULT_TIME_ZONE;
  return useCallback((iso) => formatDateTime(iso, timeZone), [timeZone]);
}
