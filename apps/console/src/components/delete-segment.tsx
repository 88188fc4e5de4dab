import { App, Tag, Typography } from 'antd';
import { Link } from 'react-router-dom';
import { api, errorDependants, isApiError, type Segment } from '../api';
import { useI18n } from '../i18n';
import { describeError } from './describe-error';

/** Deletes a segment; a 409 names the segments and rule tags that still use it. */
export function useDeleteSegment(onDeleted: () => void) {
  const { t } = useI18n();
  const { message, modal } = App.useApp();
  return async (segment: Segment) => {
    try {
      await api.deleteSegment(segment.id);
      void message.success(t('segments.deleted', { name: segment.name }));
      onDeleted();
    } catch (err) {
      if (isApiError(err) && err.status === 409) {
        const dependants = errorDependants(err);
        const dialog = modal.error({
          title: t('segments.deleteBlockedTitle', { name: segment.name }),
          width: 520,
          content: (
            <div data-testid="delete-blocked">
              <Typography.Paragraph>{t('segments.deleteBlockedText')}</Typography.Paragraph>
              <ul style={{ paddingInlineStart: 18 }}>
                {dependants.map((d) => (
                  <li key={`${d.kind}:${d.id}`}>
                    <Tag style={{ marginInlineEnd: 6 }}>{d.kind === 'segment' ? t('tags.dependantSegment') : t('tags.dependantRuleTag')}</Tag>
                    {d.kind === 'segment' ? (
                      <Link to={`/segments/${encodeURIComponent(d.id)}`} onClick={() => dialog.destroy()}>
                        {d.name}
                      </Link>
                    ) : (
                      d.name
                    )}
                  </li>
                ))}
              </ul>
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {describeError(err, t)}
              </Typography.Text>
            </div>
          ),
        });
      } else {
        void message.error(describeError(err, t));
      }
    }
  };
}
