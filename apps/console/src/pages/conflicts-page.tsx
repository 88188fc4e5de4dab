import { Button, Card, Flex, Space, Switch, Table, Tag, Typography, type TableColumnsType } from 'antd';
import { ReloadOutlined } from '@ant-design/icons';
import { api, type IdentityConflict } from '../api';
import { CursorPager } from '../components/cursor-pager';
import { ErrorAlert } from '../components/error-alert';
import { PageHeader } from '../components/page-header';
import { rowProps } from '../components/row-props';
import { ProfileLink } from '../components/profile-link';
import { displayIdentifier, identifierTypeLabel } from '../format';
import { useI18n } from '../i18n';
import { useCursorPages } from '../use-cursor-pages';
import { useReveal } from '../use-reveal';
import { useDateTime } from '../workspace-context';

export function ConflictsPage() {
  const { t } = useI18n();
  const formatTime = useDateTime();
  const [reveal, setReveal] = useReveal();
  const pages = useCursorPages((_query: null, page, signal) => api.listConflicts(page, signal), null);

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
          {reason}
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
        <Flex justify="flex-end" align="center" gap={8} style={{ marginBottom: 16 }}>
          <Typography.Text>{t('common.showFull')}</Typography.Text>
          <Switch size="small" checked={reveal} onChange={setReveal} data-testid="mask-toggle" />
        </Flex>
        {pages.error ? <ErrorAlert error={pages.error} onRetry={pages.reload} /> : null}
        <Table<IdentityConflict>
          rowKey="id"
          columns={columns}
          dataSource={pages.rows}
          loading={pages.loading}
          pagination={false}
          size="middle"
          scroll={{ x: 900 }}
          locale={{ emptyText: t('conflicts.empty') }}
          data-testid="conflicts-table"
          onRow={() => rowProps('conflict-row')}
        />
        <CursorPager pages={pages} testIdPrefix="conflicts" />
      </Card>
    </>
  );
}
