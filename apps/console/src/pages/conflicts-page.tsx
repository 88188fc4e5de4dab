import { useState } from 'react';
import { App, Button, Card, Flex, Popconfirm, Segmented, Space, Switch, Table, Tag, Typography, type TableColumnsType } from 'antd';
import { ReloadOutlined } from '@ant-design/icons';
import { api, type IdentityConflict } from '../api';
import { CursorPager } from '../components/cursor-pager';
import { ErrorAlert } from '../components/error-alert';
import { PageHeader } from '../components/page-header';
import { rowProps } from '../components/row-props';
import { ProfileLink } from '../components/profile-link';
import { describeError } from '../components/describe-error';
import { actorLabel, conflictReasonText, displayIdentifier, identifierTypeLabel } from '../format';
import { useI18n } from '../i18n';
import { useCursorPages } from '../use-cursor-pages';
import { useReveal } from '../use-reveal';
import { useDateTime } from '../workspace-context';

export function ConflictsPage() {
  const { t } = useI18n();
  const formatTime = useDateTime();
  const { message } = App.useApp();
  const [reveal, setReveal] = useReveal();
  const [status, setStatus] = useState<'open' | 'resolved'>('open');
  const [busy, setBusy] = useState<string | null>(null);
  const pages = useCursorPages((query: { status: 'open' | 'resolved' }, page, signal) => api.listConflicts({ ...page, status: query.status }, signal), { status });

  const review = async (c: IdentityConflict, action: 'merge' | 'dismiss') => {
    setBusy(c.id);
    try {
      const r = await api.resolveConflict(c.id, action);
      void message.success(action === 'dismiss' ? t('conflicts.dismissed') : r.attached ? t('conflicts.attached') : t('conflicts.merged'));
      pages.reload();
    } catch (err) {
      void message.error(describeError(err, t));
      pages.reload();
    } finally {
      setBusy(null);
    }
  };

  const columns: TableColumnsType<IdentityConflict> = [
    { title: t('conflicts.colTime'), dataIndex: 'createdAt', width: 150, render: (iso: string) => formatTime(iso) },
    {
      title: t('conflicts.colReason'),
      dataIndex: 'reason',
      render: (reason: string) => (
        <Typography.Text style={{ maxWidth: 360, display: 'inline-block' }}>
          <Tag color="orange" style={{ marginInlineEnd: 6 }}>
            !
          </Tag>
          {conflictReasonText(reason, reveal, t)}
        </Typography.Text>
      ),
    },
    {
      title: t('conflicts.colIdentifier'),
      key: 'identifier',
      render: (_, c) => (
        <Space size={6} wrap>
          <Tag style={{ marginInlineEnd: 0 }}>{identifierTypeLabel(c.identifierType, t)}</Tag>
          <Typography.Text style={{ fontVariantNumeric: 'tabular-nums', wordBreak: 'break-all' }}>
            {displayIdentifier(c.identifierType, c.identifierValue, reveal)}
          </Typography.Text>
        </Space>
      ),
    },
    { title: t('conflicts.colProfile'), dataIndex: 'profileId', render: (id: string) => <ProfileLink id={id} /> },
    {
      title: t('conflicts.colOtherProfile'),
      dataIndex: 'otherProfileId',
      render: (id: string | null) => (id ? <ProfileLink id={id} /> : '—'),
    },
    {
      title: t('conflicts.colActions'),
      key: 'actions',
      fixed: 'right',
      width: 170,
      render: (_, c) =>
        c.resolution ? (
          <Typography.Text type="secondary" style={{ fontSize: 12 }} data-testid="conflict-resolution">
            {t('conflicts.resolvedBy', { resolution: c.resolution === 'merged' ? t('conflicts.merged') : t('conflicts.dismiss'), actor: actorLabel(c.resolvedBy, t), time: formatTime(c.resolvedAt ?? null) })}
          </Typography.Text>
        ) : (
          <Space size={6}>
            <Popconfirm
              title={t('conflicts.mergeConfirm')}
              description={<div style={{ maxWidth: 280 }}>{t('conflicts.mergeConfirmText')}</div>}
              okText={t('conflicts.merge')}
              cancelText={t('common.cancel')}
              okButtonProps={{ 'data-testid': 'conflict-merge-confirm' } as Record<string, string>}
              onConfirm={() => review(c, 'merge')}
            >
              <Button size="small" type="primary" loading={busy === c.id} data-testid="conflict-merge">
                {t('conflicts.merge')}
              </Button>
            </Popconfirm>
            <Button size="small" disabled={busy === c.id} onClick={() => void review(c, 'dismiss')} data-testid="conflict-dismiss">
              {t('conflicts.dismiss')}
            </Button>
          </Space>
        ),
    },
    {
      title: t('conflicts.colMessage'),
      dataIndex: 'messageId',
      responsive: ['xl'],
      render: (id: string) => (
        <Typography.Text type="secondary" style={{ fontFamily: 'monospace', fontSize: 12 }}>
          {id}
        </Typography.Text>
      ),
    },
  ];

  return (
    <>
      <PageHeader
        title={t('conflicts.title')}
        subtitle={t('conflicts.subtitle')}
        extra={
          <Button icon={<ReloadOutlined />} onClick={pages.reload} loading={pages.loading}>
            {t('common.refresh')}
          </Button>
        }
      />
      <Card>
        <Flex justify="space-between" align="center" gap={8} wrap style={{ marginBottom: 16 }}>
          <Segmented
            value={status}
            onChange={(v) => setStatus(v as 'open' | 'resolved')}
            options={[
              { value: 'open', label: <span data-testid="conflicts-open">{t('conflicts.open')}</span> },
              { value: 'resolved', label: <span data-testid="conflicts-resolved">{t('conflicts.resolved')}</span> },
            ]}
          />
          <Flex align="center" gap={8}>
            <Typography.Text>{t('common.showFull')}</Typography.Text>
            <Switch size="small" checked={reveal} onChange={setReveal} data-testid="mask-toggle" />
          </Flex>
        </Flex>
        {pages.error ? <ErrorAlert error={pages.error} onRetry={pages.reload} /> : null}
        <Table<IdentityConflict>
          rowKey="id"
          columns={columns}
          dataSource={pages.rows}
          loading={pages.loading}
          pagination={false}
          size="middle"
          scroll={{ x: 1080 }}
          locale={{ emptyText: t('conflicts.empty') }}
          data-testid="conflicts-table"
          onRow={() => rowProps('conflict-row')}
        />
        <CursorPager pages={pages} testIdPrefix="conflicts" />
      </Card>
    </>
  );
}
