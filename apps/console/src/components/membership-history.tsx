import { useCallback, useEffect, useState } from 'react';
import { Button, Empty, Flex, Skeleton, Tag, Timeline, Typography } from 'antd';
import { LoginOutlined, LogoutOutlined } from '@ant-design/icons';
import { isAbortError, type MembershipHistory, type Page, type PageQuery } from '../api';
import { useI18n } from '../i18n';
import { actorLabel } from '../format';
import { useDateTime } from '../workspace-context';
import { historyReasonLabel } from './condition-labels';
import { ErrorAlert } from './error-alert';
import { ProfileLink } from './profile-link';

const HISTORY_PAGE = 20;

/** Who entered or left a tag or segment, newest first, with "load more" over the cursor. */
export function MembershipHistoryTimeline({
  load,
  loadKey,
  testId = 'membership-history',
}: {
  load: (query: PageQuery, signal?: AbortSignal) => Promise<Page<MembershipHistory>>;
  /** Changing it reloads from the first page. */
  loadKey: string;
  testId?: string;
}) {
  const { t } = useI18n();
  const formatTime = useDateTime();
  const [rows, setRows] = useState<MembershipHistory[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    setError(null);
    load({ limit: HISTORY_PAGE }, controller.signal).then(
      (page) => {
        setRows(page.data);
        setCursor(page.nextCursor);
        setLoading(false);
      },
      (err: unknown) => {
        if (isAbortError(err)) return;
        setError(err);
        setLoading(false);
      },
    );
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- loadKey stands for `load`
  }, [loadKey, generation]);

  const more = useCallback(async () => {
    if (!cursor) return;
    setLoading(true);
    try {
      const page = await load({ limit: HISTORY_PAGE, cursor });
      setRows((prev) => [...prev, ...page.data]);
      setCursor(page.nextCursor);
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  }, [cursor, load]);

  if (error && rows.length === 0) return <ErrorAlert error={error} onRetry={() => setGeneration((g) => g + 1)} />;
  if (loading && rows.length === 0) return <Skeleton active paragraph={{ rows: 5 }} />;
  if (rows.length === 0) return <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('history.empty')} />;

  return (
    <div data-testid={testId}>
      <Timeline
        items={rows.map((h) => ({
          key: h.id,
          color: h.action === 'entered' ? 'green' : 'gray',
          icon: h.action === 'entered' ? <LoginOutlined /> : <LogoutOutlined />,
          content: (
            <Flex vertical gap={2} data-testid="history-item" data-action={h.action}>
              <Flex align="center" gap={6} wrap>
                <Tag color={h.action === 'entered' ? 'green' : 'default'} style={{ marginInlineEnd: 0 }}>
                  {h.action === 'entered' ? t('history.entered') : t('history.exited')}
                </Tag>
                <ProfileLink id={h.profileId} label={h.profileName ?? undefined} />
              </Flex>
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {formatTime(h.at)} · {historyReasonLabel(h.reason, t)}
                {h.actor ? ` · ${t('history.by', { actor: actorLabel(h.actor, t) })}` : ''}
              </Typography.Text>
            </Flex>
          ),
        }))}
      />
      {error ? <ErrorAlert error={error} onRetry={() => void more()} /> : null}
      <Flex justify="center">
        {cursor ? (
          <Button onClick={() => void more()} loading={loading} data-testid="history-more">
            {t('profile.loadMore')}
          </Button>
        ) : (
          <Typography.Text type="secondary">{t('history.noMore')}</Typography.Text>
        )}
      </Flex>
    </div>
  );
}
