import { Button, Card, Table, Tag, Tooltip, Typography, type TableColumnsType } from 'antd';
import { InfoCircleOutlined, ReloadOutlined } from '@ant-design/icons';
import { api, type IdentityType } from '../api';
import { ErrorAlert } from '../components/error-alert';
import { PageHeader } from '../components/page-header';
import { rowProps } from '../components/row-props';
import { identifierTypeLabel } from '../format';
import { useI18n } from '../i18n';
import { useRequest } from '../use-request';

export function IdentityTypesPage() {
  const { t } = useI18n();
  const { data, error, loading, reload } = useRequest((signal) => api.listIdentityTypes(signal), []);
  const rows = [...(data?.data ?? [])].sort((a, b) => b.priority - a.priority);

  const columns: TableColumnsType<IdentityType> = [
    {
      title: t('idTypes.colType'),
      key: 'label',
      render: (_, r) => <Typography.Text strong>{identifierTypeLabel(r.type, t)}</Typography.Text>,
    },
    { title: t('idTypes.colCode'), dataIndex: 'type', render: (type: string) => <Typography.Text code>{type}</Typography.Text> },
    {
      title: t('idTypes.colPriority'),
      dataIndex: 'priority',
      align: 'right',
      sorter: (a, b) => a.priority - b.priority,
      defaultSortOrder: 'descend',
    },
    {
      title: (
        <Tooltip title={t('idTypes.maxHint')}>
          {t('idTypes.colMax')} <InfoCircleOutlined style={{ color: '#8c8c8c' }} />
        </Tooltip>
      ),
      dataIndex: 'maxPerProfile',
      align: 'right',
      render: (max: number | null) => (max === null ? <Typography.Text type="secondary">{t('common.unlimited')}</Typography.Text> : max),
    },
    {
      title: t('idTypes.colBuiltin'),
      dataIndex: 'builtin',
      render: (builtin: boolean) =>
        builtin ? <Tag color="blue">{t('idTypes.builtin')}</Tag> : <Tag color="purple">{t('idTypes.custom')}</Tag>,
    },
  ];

  return (
    <>
      <PageHeader
        title={t('idTypes.title')}
        subtitle={t('idTypes.subtitle')}
        extra={
          <Button icon={<ReloadOutlined />} onClick={reload} loading={loading}>
            {t('common.refresh')}
          </Button>
        }
      />
      {error ? <ErrorAlert error={error} onRetry={reload} /> : null}
      <Card>
        <Table<IdentityType>
          rowKey="type"
          columns={columns}
          dataSource={rows}
          loading={loading}
          pagination={false}
          size="middle"
          data-testid="identity-types-table"
          onRow={() => rowProps('identity-type-row')}
        />
      </Card>
    </>
  );
}
