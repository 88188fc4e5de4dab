import { useCallback, useState } from 'react';

const REVEAL_KEY = 'siyu.revealPersonalData';

/**
 * Whether phones/emails are shown in full. Masked by default (PIPL: show personal data only when
 * needed); the choice lasts for the browser session only.
 */
export function useReveal(): [boolean, (reveal: boolean) => void] {
  const [reveal, setRevealState] = useState(() => {
    try {
      return sessionStorage.getItem(REVEAL_KEY) === '1';
    } catch {
      return false;
    }
  });
  const setReveal = useCallback((next: boolean) => {
    setRevealState(next);
    try {
      sessionStorage.setItem(REVEAL_KEY, next ? '1' : '0');
    } catch {
      // not persisted
    }
  }, []);
  return [reveal, setReveal];
}
