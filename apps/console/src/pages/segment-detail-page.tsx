import { useState } from 'react';
import {
  App,
  Button,
  Card,
  Checkbox,
  Col,
  Collapse,
  Descriptions,
  Flex,
  Modal,
  Popconfirm,
  Progress,
  Result,
  Row,
  Select,
  Skeleton,
  Space,
  Table,
  Typography,
  type TableColumnsType,
} from 'antd';
import { ArrowLeftOutlined, DeleteOutlined, DownloadOutlined, EditOutlined, ReloadOutlined, TeamOutlined, UserOutlined } from '@ant-design/icons';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, isApiError, type ProfileSummary, type Segment } from '../api';
import { DefinitionSummary } from '../components/condition-labels';
import { useDeleteSegment } from '../components/delete-segment';
import { CursorPager } from '../components/cursor-pager';
import { describeError } from '../components/describe-error';
import { ErrorAlert } from '../components/error-alert';
import { MembershipHistoryTimeline } from '../components/membership-history';
import { rowProps } from '../components/row-props';
import { displayIdentifier, firstIdentity, formatMoney, formatNumber, profileName, shortId } from '../format';
import { useI18n } from '../i18n';
import { BRAND_COLOR } from '../theme';
import { useCursorPages } from '../use-cursor-pages';
import { useRequest } from '../use-request';
import { useDateTime } from '../workspace-context';

/** Export columns offered as checkboxes; more can be typed (traits.<name>, computed.<name>, identities.<type>). */
const EXPORT_FIELDS = [
  'id',
  'traits.name',
  'identities.phone',
  'identities.email',
  'identities.user_id',
  'computed.total_spent',
  'computed.order_count',
  'computed.last_order_at',
  'createdAt',
] as const;
const DEFAULT_EXPORT = ['id', 'traits.name', 'identities.phone', 'identities.email'];

function downloadBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function ExportModal({ segment, open, onClose }: { segment: Segment; open: boolean; onClose: () => void }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [fields, setFields] = useState<string[]>(DEFAULT_EXPORT);
  const [extra, setExtra] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const labelOf = (f: (typeof EXPORT_FIELDS)[number]) => t(`exportField.${f}`);
  const submit = async () => {
    const all = [...fields, ...extra.map((f) => f.trim()).filter(Boolean)];
    setBusy(true);
    try {
      const blob = await api.exportSegmentCsv(segment.id, all);
      downloadBlob(blob, `${segment.name.replace(/[^\p{L}\p{N}_-]+/gu, '_') || segment.id}.csv`);
      void message.success(t('segments.exported'));
      onClose();
    } catch (err) {
      void message.error(describeError(err, t));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      open={open}
      title={t('segments.exportTitle', { name: segment.name })}
      onCancel={onClose}
      onOk={() => void submit()}
      okText={t('segments.exportOk')}
      cancelText={t('common.cancel')}
      confirmLoading={busy}
      okButtonProps={{ disabled: fields.length + extra.length === 0, ...({ 'data-testid': 'export-submit' } as Record<string, string>) }}
    >
      <Typography.Paragraph type="secondary">{t('segments.exportHint', { n: formatNumber(segment.count) })}</Typography.Paragraph>
      <Checkbox.Group value={fields} onChange={(v) => setFields(v as string[])} style={{ width: '100%' }} data-testid="export-fields">
        <Row gutter={[8, 8]}>
          {EXPORT_FIELDS.map((f) => (
            <Col span={12} key={f}>
              <Checkbox value={f}>
                {labelOf(f)} <Typography.Text type="secondary" style={{ fontSize: 11, fontFamily: 'monospace' }}>{f}</Typography.Text>
              </Checkbox>
            </Col>
          ))}
        </Row>
      </Checkbox.Group>
      <Typography.Text style={{ display: 'block', margin: '16px 0 6px' }}>{t('segments.exportExtra')}</Typography.Text>
      <Select mode="tags" value={extra} onChange={setExtra} open={false} suffixIcon={null} tokenSeparators={[',', ' ']} placeholder="traits.city, computed.refund_count" style={{ width: '100%' }} />
    </Modal>
  );
}

function MembersTable({ segment }: { segment: Segment }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const formatTime = useDateTime();
  const pages = useCursorPages((id: string, page, signal) => api.segmentMembers(id, page, signal), segment.id);
  const columns: TableColumnsType<ProfileSummary> = [
    {
      title: t('profiles.colCustomer'),
      key: 'customer',
      render: (_, p) => {
        const name = profileName(p.traits);
        return (
          <Flex vertical gap={2}>
            <Link to={`/profiles/${encodeURIComponent(p.id)}`} onClick={(e) => e.stopPropagation()} data-testid="member-link">
              <UserOutlined style={{ marginInlineEnd: 6 }} />
              {name ?? t('profiles.unnamed')}
            </Link>
            <Typography.Text type="secondary" style={{ fontSize: 12, fontFamily: 'monospace' }}>
              {shortId(p.id)}
            </Typography.Text>
          </Flex>
        );
      },
    },
    {
      title: t('profiles.colPhone'),
      key: 'phone',
      render: (_, p) => {
        const phone = firstIdentity(p.identities, 'phone');
        return phone ? <span style={{ fontVariantNumeric: 'tabular-nums' }}>{displayIdentifier('phone', phone.value, false)}</span> : '—';
      },
    },
    { title: t('profiles.colOrders'), key: 'orders', align: 'right', render: (_, p) => formatNumber(p.computed.order_count) },
    { title: t('profiles.colSpent'), key: 'spent', align: 'right', render: (_, p) => <span style={{ fontVariantNumeric: 'tabular-nums' }}>{formatMoney(p.computed.total_spent)}</span> },
    { title: t('profiles.colLastSeen'), key: 'lastSeen', responsive: ['lg'], render: (_, p) => formatTime(p.computed.last_seen) },
  ];
  return (
    <>
      {pages.error ? <ErrorAlert error={pages.error} onRetry={pages.reload} /> : null}
      <Table<ProfileSummary>
        rowKey="id"
        size="middle"
        columns={columns}
        dataSource={pages.rows}
        loading={pages.loading}
        pagination={false}
        locale={{ emptyText: t('segments.noMembers') }}
        data-testid="segment-members"
        onRow={(p) =>
          rowProps('member-row', {
            'data-profile-id': p.id,
            style: { cursor: 'pointer' },
            onClick: () => void navigate(`/profiles/${encodeURIComponent(p.id)}`),
          })
        }
      />
      <CursorPager pages={pages} testIdPrefix="members" />
    </>
  );
}

export function SegmentDetailPage() {
  const { id = '' } = useParams();
  const { t } = useI18n();
  const navigate = useNavigate();
  const formatTime = useDateTime();
  const [exportOpen, setExportOpen] = useState(false);
  const [refreshKey, setRefreshKey] = useState(0);
  const segment = useRequest((signal) => api.getSegment(id, signal), [id, refreshKey]);
  const catalog = useRequest((signal) => api.audienceCatalog(signal), []);
  const stats = useRequest((signal) => api.stats(signal), []);
  const remove = useDeleteSegment(() => void navigate('/segments', { replace: true }));

  const s = segment.data;
  if (segment.error && (!s || s.id !== id)) {
    if (isApiError(segment.error) && segment.error.status === 404) {
      return (
        <Result
          status="404"
          title={t('segments.notFound')}
          extra={
            <Link to="/segments">
              <Button type="primary">{t('segments.backToList')}</Button>
            </Link>
          }
        />
      );
    }
    return <ErrorAlert error={segment.error} onRetry={segment.reload} />;
  }
  if (!s || s.id !== id) {
    return (
      <Card>
        <Skeleton active paragraph={{ rows: 8 }} />
      </Card>
    );
  }

  const total = stats.data?.profiles;
  const share = total ? Math.min(100, (s.count / total) * 100) : 0;

  return (
    <>
      <Button type="link" icon={<ArrowLeftOutlined />} onClick={() => void navigate('/segments')} style={{ paddingInline: 0, marginBottom: 8 }}>
        {t('segments.backToList')}
      </Button>
      <Card style={{ marginBottom: 16 }}>
        <Flex justify="space-between" align="flex-start" gap={16} wrap>
          <Flex gap={20} align="center">
            <Progress
              type="circle"
              size={96}
              percent={share}
              strokeColor={BRAND_COLOR}
              format={() => (total ? `${share < 10 ? share.toFixed(1) : Math.round(share)}%` : '—')}
            />
            <div>
              <Typography.Title level={4} style={{ margin: 0 }} data-testid="segment-title">
                <TeamOutlined style={{ marginInlineEnd: 8, color: BRAND_COLOR }} />
                {s.name}
              </Typography.Title>
              {s.description ? <Typography.Text type="secondary">{s.description}</Typography.Text> : null}
              <Flex align="baseline" gap={8} style={{ marginTop: 6 }}>
                <span style={{ fontSize: 30, fontWeight: 600, fontVariantNumeric: 'tabular-nums' }} data-testid="segment-detail-count">
                  {formatNumber(s.count)}
                </span>
                <Typography.Text type="secondary">{total === undefined ? t('segments.people') : t('segments.ofTotal', { total: formatNumber(total) })}</Typography.Text>
              </Flex>
            </div>
          </Flex>
          <Space wrap>
            <Button icon={<ReloadOutlined />} onClick={() => setRefreshKey((k) => k + 1)} loading={segment.loading}>
              {t('common.refresh')}
            </Button>
            <Button icon={<EditOutlined />} onClick={() => void navigate(`/segments/${encodeURIComponent(s.id)}/edit`)} data-testid="segment-edit">
              {t('common.edit')}
            </Button>
            <Button icon={<DownloadOutlined />} onClick={() => setExportOpen(true)} data-testid="segment-export">
              {t('segments.export')}
            </Button>
            <Popconfirm title={t('segments.deleteConfirm', { name: s.name })} okText={t('common.delete')} okType="danger" cancelText={t('common.cancel')} onConfirm={() => remove(s)}>
              <Button danger icon={<DeleteOutlined />} data-testid="segment-delete">
                {t('common.delete')}
              </Button>
            </Popconfirm>
          </Space>
        </Flex>
        <Descriptions
          size="small"
          column={{ xs: 1, md: 4 }}
          style={{ marginTop: 16 }}
          items={[
            { key: 'version', label: t('segments.colVersion'), children: `v${s.version}` },
            { key: 'computedAt', label: t('segments.colComputedAt'), children: formatTime(s.computedAt) },
            { key: 'createdAt', label: t('common.createdAt'), children: formatTime(s.createdAt) },
            { key: 'updatedAt', label: t('common.updatedAt'), children: formatTime(s.updatedAt) },
          ]}
        />
      </Card>

      <Row gutter={[16, 16]}>
        <Col xs={24} xl={15}>
          <Card title={t('segments.definition')} style={{ marginBottom: 16 }}>
            <DefinitionSummary definition={s.definition} t={t} catalog={catalog.data} />
            <Collapse
              ghost
              size="small"
              style={{ marginTop: 8 }}
              items={[
                {
                  key: 'json',
                  label: t('segments.showJson'),
                  children: (
                    <pre style={{ margin: 0, padding: 12, background: '#fafafa', border: '1px solid #f0f0f0', borderRadius: 6, fontSize: 12, overflow: 'auto' }}>
                      {JSON.stringify(s.definition, null, 2)}
                    </pre>
                  ),
                },
              ]}
            />
          </Card>
          <Card title={t('segments.members')}>
            <MembersTable key={`${s.id}:${refreshKey}`} segment={s} />
          </Card>
        </Col>
        <Col xs={24} xl={9}>
          <Card title={t('segments.history')}>
            <MembershipHistoryTimeline
              testId="segment-history"
              loadKey={`${s.id}:${refreshKey}`}
              load={(q, signal) => api.segmentHistory(s.id, q, signal)}
            />
          </Card>
        </Col>
      </Row>
      <ExportModal segment={s} open={exportOpen} onClose={() => setExportOpen(false)} />
    </>
  );
}
