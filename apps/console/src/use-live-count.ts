import { useEffect, useState } from 'react';
import { api, errorProblems, isAbortError, type AudienceCount, type ConditionDefinitionJson, type Problem } from './api';

export const LIVE_COUNT_DELAY_MS = 400;

export interface LiveCountState {
  /** The last answer for the current definition (null while there is none, or after an error). */
  result: AudienceCount | null;
  /** A failure other than validation (network, 5xx). */
  error: unknown;
  /** The server's validation problems for the current definition. */
  problems: Problem[];
  /** A request is waiting for the debounce or the server. */
  loading: boolean;
}

/**
 * Counts who matches `definition` (POST /api/v1/audiences/count), ~400 ms after it stops changing; a
 * newer definition aborts the request for an older one. `null` (the definition cannot be written yet)
 * asks nothing.
 */
export function useLiveCount(definition: ConditionDefinitionJson | null, delay = LIVE_COUNT_DELAY_MS): LiveCountState {
  const key = definition ? JSON.stringify(definition) : null;
  const [state, setState] = useState<LiveCountState>({ result: null, error: undefined, problems: [], loading: key !== null });

  useEffect(() => {
    if (key === null) {
      setState({ result: null, error: undefined, problems: [], loading: false });
      return undefined;
    }
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    const timer = setTimeout(() => {
      api.countAudience(JSON.parse(key) as ConditionDefinitionJson, controller.signal).then(
        (result) => {
          if (!controller.signal.aborted) setState({ result, error: undefined, problems: [], loading: false });
        },
        (err: unknown) => {
          if (controller.signal.aborted || isAbortError(err)) return;
          const problems = errorProblems(err);
          setState({ result: null, error: problems.length ? undefined : err, problems, loading: false });
        },
      );
    }, delay);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [key, delay]);

  return state;
}
