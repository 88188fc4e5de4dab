import { Alert, Button } from 'antd';
import { useI18n } from '../i18n';
import { describeError } from './describe-error';

/** Inline error for a failed load, with the server's message and a retry button. */
export function ErrorAlert({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  return (
    <Alert
      type="error"
      showIcon
      data-testid="error-alert"
      title={describeError(error, t)}
      action={
        onRetry ? (
          <Button size="small" onClick={onRetry}>
            {t('common.retry')}
          </Button>
        ) : undefined
      }
      style={{ marginBottom: 16 }}
    />
  );
}
