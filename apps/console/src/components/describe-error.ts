import { isApiError } from '../api';
import type { Translate } from '../i18n';

/** The sentence to show for a failure: the server's own `error.message` whenever there is one. */
export function describeError(err: unknown, t: Translate): string {
  if (isApiError(err)) {
    if (err.code === 'NETWORK') return t('error.network');
    return err.message || t('error.unknown');
  }
  if (err instanceof Error && err.message) return err.message;
  return t('error.unknown');
}
