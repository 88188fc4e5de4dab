import { useCallback } from 'react';
import { useLocation, useNavigate } from 'react-router-dom';

/**
 * "返回": the previous page of the console, or `fallback` when this page was opened directly (a link pasted
 * into a new tab, a bookmark) — going back in the browser's history would then leave the console.
 */
export function useBack(fallback: string): () => void {
  const navigate = useNavigate();
  const location = useLocation();
  return useCallback(() => {
    // React Router marks the first entry of a session with the key "default".
    if (location.key === 'default') void navigate(fallback);
    else void navigate(-1);
  }, [location.key, navigate, fallback]);
}
