import { useMemo, useState } from 'react';
import { Button, Card, Flex, Popconfirm, Space, Table, Tooltip, Typography, type TableColumnsType } from 'antd';
import { DeleteOutlined, EditOutlined, PlusOutlined, ReloadOutlined, TeamOutlined } from '@ant-design/icons';
import { Link, useNavigate } from 'react-router-dom';
import { api, type Segment } from '../api';
import { useDeleteSegment } from '../components/delete-segment';
import { EChart, type ChartOption } from '../components/echart';
import { ErrorAlert } from '../components/error-alert';
import { PageHeader } from '../components/page-header';
import { rowProps } from '../components/row-props';
import { formatNumber } from '../format';
import { useI18n, type Translate } from '../i18n';
import { BRAND_COLOR } from '../theme';
import { useRequest } from '../use-request';
import { useDateTime } from '../workspace-context';

const CHART_TOP = 12;

function sizesOption(segments: Segment[], t: Translate): ChartOption {
  const rows = [...segments]
    .sort((a, b) => b.count - a.count)
    .slice(0, CHART_TOP)
    .reverse();
  return {
    color: ['#13c2c2'],
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: 'value', minInterval: 1, splitLine: { lineStyle: { type: 'dashed' } } },
    yAxis: { type: 'category', data: rows.map((r) => r.name), axisTick: { show: false }, axisLabel: { width: 140, overflow: 'truncate' } },
    series: [{ name: t('segments.colCount'), type: 'bar', barMaxWidth: 18, data: rows.map((r) => r.count), itemStyle: { borderRadius: [0, 4, 4, 0] }, label: { show: true, position: 'right' } }],
  };
}

export function SegmentsPage() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const formatTime = useDateTime();
  const segments = useRequest((signal) => api.listSegments(signal), []);
  const [deleting, setDeleting] = useState<string | null>(null);
  const remove = useDeleteSegment(segments.reload);

  const rows = useMemo(() => segments.data?.data ?? [], [segments.data]);
  const maxCount = Math.max(1, ...rows.map((s) => s.count));
  const chart = useMemo(() => (rows.length ? sizesOption(rows, t) : null), [rows, t]);

  const columns: TableColumnsType<Segment> = [
    {
      title: t('segments.colName'),
      key: 'name',
      render: (_, s) => (
        <Flex vertical gap={2}>
          <Link to={`/segments/${encodeURIComponent(s.id)}`} onClick={(e) => e.stopPropagation()} data-testid="segment-link">
            <TeamOutlined style={{ marginInlineEnd: 6 }} />
            {s.name}
          </Link>
          {s.description ? (
            <Typography.Text type="secondary" style={{ fontSize: 12 }} ellipsis={{ tooltip: s.description }}>
              {s.description}
            </Typography.Text>
          ) : null}
        </Flex>
      ),
    },
    {
      title: t('segments.colCount'),
      dataIndex: 'count',
      width: 200,
      render: (count: number) => (
        <Flex align="center" gap={8}>
          <div style={{ flex: 1, height: 6, background: '#f0f0f0', borderRadius: 3, overflow: 'hidden', minWidth: 60 }}>
            <div style={{ width: `${(count / maxCount) * 100}%`, height: '100%', background: BRAND_COLOR }} />
          </div>
          <span style={{ fontVariantNumeric: 'tabular-nums', minWidth: 40, textAlign: 'right' }} data-testid="segment-count">
            {formatNumber(count)}
          </span>
        </Flex>
      ),
    },
    { title: t('segments.colVersion'), dataIndex: 'version', width: 80, render: (v: number) => `v${v}` },
    { title: t('segments.colComputedAt'), dataIndex: 'computedAt', width: 160, responsive: ['lg'], render: (iso: string | null) => formatTime(iso) },
    { title: t('common.updatedAt'), dataIndex: 'updatedAt', width: 160, render: (iso: string) => formatTime(iso) },
    {
      title: t('profile.colActions'),
      key: 'actions',
      fixed: 'right',
      width: 110,
      render: (_, s) => (
        <Space size={2} onClick={(e) => e.stopPropagation()}>
          <Tooltip title={t('common.edit')}>
            <Button size="small" type="text" icon={<EditOutlined />} onClick={() => void navigate(`/segments/${encodeURIComponent(s.id)}/edit`)} aria-label={t('common.edit')} data-testid="segment-edit" />
          </Tooltip>
          <Popconfirm
            title={t('segments.deleteConfirm', { name: s.name })}
            okText={t('common.delete')}
            okType="danger"
            cancelText={t('common.cancel')}
            okButtonProps={{ 'data-testid': 'segment-delete-confirm' } as Record<string, string>}
            onConfirm={async () => {
              setDeleting(s.id);
              await remove(s);
              setDeleting(null);
            }}
          >
            <Button size="small" type="text" danger icon={<DeleteOutlined />} loading={deleting === s.id} aria-label={t('common.delete')} data-testid="segment-delete" />
          </Popconfirm>
        </Space>
      ),
    },
  ];

  return (
    <>
      <PageHeader
        title={t('segments.title')}
        subtitle={t('segments.subtitle')}
        extra={
          <>
            <Button icon={<ReloadOutlined />} onClick={segments.reload} loading={segments.loading} data-testid="segments-refresh">
              {t('common.refresh')}
            </Button>
            <Button type="primary" icon={<PlusOutlined />} onClick={() => void navigate('/segments/new')} data-testid="segment-create">
              {t('segments.create')}
            </Button>
          </>
        }
      />
      {segments.error ? <ErrorAlert error={segments.error} onRetry={segments.reload} /> : null}
      {chart ? (
        <Card title={t('segments.chartTitle')} style={{ marginBottom: 16 }} styles={{ body: { paddingTop: 8 } }} data-testid="segments-chart">
          <EChart option={chart} height={Math.max(140, Math.min(CHART_TOP, rows.length) * 32)} />
        </Card>
      ) : null}
      <Card>
        <Table<Segment>
          rowKey="id"
          columns={columns}
          dataSource={rows}
          loading={segments.loading && !segments.data}
          pagination={rows.length > 50 ? { pageSize: 50 } : false}
          size="middle"
          scroll={{ x: 820 }}
          locale={{ emptyText: t('segments.empty') }}
          data-testid="segments-table"
          onRow={(s) =>
            rowProps('segment-row', {
              'data-segment-id': s.id,
              'data-segment-name': s.name,
              style: { cursor: 'pointer' },
              onClick: () => void navigate(`/segments/${encodeURIComponent(s.id)}`),
            })
          }
        />
      </Card>
    </>
  );
}
