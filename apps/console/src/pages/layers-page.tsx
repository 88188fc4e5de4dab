import { useEffect, useMemo, useState, type ReactNode } from 'react';
import {
  Alert,
  App,
  Button,
  Card,
  Col,
  Descriptions,
  Empty,
  Flex,
  Form,
  InputNumber,
  Radio,
  Row,
  Segmented,
  Skeleton,
  Statistic,
  Tag,
  Tooltip,
  Typography,
} from 'antd';
import { HeatMapOutlined, ReloadOutlined, SaveOutlined, SettingOutlined, UsergroupAddOutlined } from '@ant-design/icons';
import { Link, useNavigate } from 'react-router-dom';
import {
  api,
  errorProblems,
  LIFECYCLE_STAGES,
  type LayerSettings,
  type LifecycleReport,
  type LifecycleStage,
  type LifecycleThresholds,
  type Problem,
  type RfmDimension,
  type RfmReport,
  type RfmSegmentName,
} from '../api';
import { lifecycleLabel, rfmSegmentLabel } from '../components/condition-labels';
import { describeError } from '../components/describe-error';
import { EChart, type ChartOption } from '../components/echart';
import { ErrorAlert } from '../components/error-alert';
import { problemsByField } from '../components/form-problems';
import { ProblemsAlert } from '../components/live-count-panel';
import { PageHeader } from '../components/page-header';
import { formatMoney, formatNumber } from '../format';
import { useI18n, type Translate } from '../i18n';
import { BRAND_COLOR } from '../theme';
import { useRequest } from '../use-request';
import { useDateTime } from '../workspace-context';

const SCORES = [1, 2, 3, 4, 5] as const;

export const RFM_SEGMENT_COLORS: Record<RfmSegmentName, string> = {
  Champions: '#1f5eff',
  'Loyal Customers': '#2f9bff',
  'Potential Loyalist': '#36cfc9',
  'New Customers': '#52c41a',
  Promising: '#95de64',
  'Need Attention': '#fadb14',
  'About To Sleep': '#ffc53d',
  'At Risk': '#fa8c16',
  "Can't Lose Them": '#f5222d',
  Hibernating: '#9e9e9e',
  Lost: '#595959',
};

export const LIFECYCLE_COLORS: Record<LifecycleStage, string> = {
  prospect: '#adc6ff',
  new: '#52c41a',
  active: '#1f5eff',
  silent: '#faad14',
  at_risk: '#fa541c',
  churned: '#8c8c8c',
};

const percent = (share: number) => `${(share * 100).toFixed(share > 0 && share < 0.1 ? 1 : 0)}%`;

// ---------------------------------------------------------------------------------------------
// Charts
// ---------------------------------------------------------------------------------------------


/** The segment editor, started on a layer's people (`{ lifecycle: … }`, `{ rfm_segment: … }`) under a name. */
export function segmentFromLayer(name: string, condition: Record<string, unknown>): string {
  return `/segments/new?${new URLSearchParams({ name, definition: JSON.stringify({ version: 1, condition }) }).toString()}`;
}

function heatmapOption(rfm: RfmReport, t: Translate): ChartOption {
  const max = Math.max(1, ...rfm.cells.map((c) => c.customers));
  return {
    tooltip: {
      position: 'top',
      formatter: (params: unknown) => {
        const value = (params as { value: [number, number, number, number] }).value;
        const [fi, ri, customers, revenue] = value;
        return [
          `<b>R${ri + 1} · F${fi + 1}</b>`,
          t('layers.tipCustomers', { n: formatNumber(customers) }),
          t('layers.tipRevenue', { amount: formatMoney(revenue) }),
        ].join('<br/>');
      },
    },
    grid: { left: 86, right: 24, top: 16, bottom: 84 },
    xAxis: {
      type: 'category',
      data: SCORES.map((f) => `F${f}`),
      name: t('layers.axisF'),
      nameLocation: 'middle',
      nameGap: 28,
      splitArea: { show: true },
      axisTick: { show: false },
    },
    yAxis: {
      type: 'category',
      data: SCORES.map((r) => `R${r}`),
      name: t('layers.axisR'),
      nameLocation: 'middle',
      nameGap: 56,
      splitArea: { show: true },
      axisTick: { show: false },
    },
    visualMap: {
      // colour by customers (value[2]); without this ECharts maps the last dimension, revenue
      dimension: 2,
      min: 0,
      max,
      calculable: true,
      orient: 'horizontal',
      left: 'center',
      bottom: 0,
      itemWidth: 12,
      itemHeight: 180,
      text: [t('layers.more'), t('layers.fewer')],
      inRange: { color: ['#f0f5ff', '#adc6ff', '#597ef7', BRAND_COLOR, '#10239e'] },
    },
    series: [
      {
        name: t('layers.customers'),
        type: 'heatmap',
        data: rfm.cells.map((c) => [c.f - 1, c.r - 1, c.customers, c.revenue]),
        // empty cells stay blank so the occupied ones stand out
        label: {
          show: true,
          fontSize: 13,
          formatter: (p: unknown) => {
            const n = (p as { value: number[] }).value[2] ?? 0;
            return n === 0 ? '' : formatNumber(n);
          },
        },
        itemStyle: { borderColor: '#fff', borderWidth: 3, borderRadius: 6 },
        emphasis: { itemStyle: { shadowBlur: 8, shadowColor: 'rgba(0, 0, 0, 0.25)' } },
      },
    ],
  };
}

function segmentsBarOption(rfm: RfmReport, t: Translate): ChartOption {
  const rows = [...rfm.segments].reverse();
  return {
    tooltip: {
      trigger: 'item',
      formatter: (params: unknown) => {
        const i = (params as { dataIndex: number }).dataIndex;
        const s = rows[i];
        if (!s) return '';
        return [`<b>${rfmSegmentLabel(s.segment, t)}</b> (${s.segment})`, t('layers.tipCustomers', { n: formatNumber(s.customers) }), `${t('layers.share')} ${percent(s.share)}`, t('layers.tipRevenue', { amount: formatMoney(s.revenue) })].join('<br/>');
      },
    },
    grid: { left: 8, right: 56, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: 'value', minInterval: 1, splitLine: { lineStyle: { type: 'dashed' } } },
    yAxis: { type: 'category', data: rows.map((s) => rfmSegmentLabel(s.segment, t)), axisTick: { show: false } },
    series: [
      {
        type: 'bar',
        name: t('layers.customers'),
        barMaxWidth: 18,
        data: rows.map((s) => ({ value: s.customers, itemStyle: { color: RFM_SEGMENT_COLORS[s.segment], borderRadius: [0, 4, 4, 0] } })),
        label: { show: true, position: 'right', formatter: (p: unknown) => formatNumber((p as { value: number }).value) },
      },
    ],
  };
}

function segmentsTreemapOption(rfm: RfmReport, t: Translate): ChartOption {
  return {
    tooltip: {
      formatter: (params: unknown) => {
        const p = params as { name: string; value: number; data: { share: number; revenue: number; code: string } };
        return [`<b>${p.name}</b> (${p.data.code})`, t('layers.tipCustomers', { n: formatNumber(p.value) }), `${t('layers.share')} ${percent(p.data.share)}`, t('layers.tipRevenue', { amount: formatMoney(p.data.revenue) })].join('<br/>');
      },
    },
    series: [
      {
        type: 'treemap',
        roam: false,
        nodeClick: false,
        breadcrumb: { show: false },
        width: '100%',
        height: '100%',
        top: 0,
        left: 0,
        label: { show: true, formatter: '{b}\n{c}', fontSize: 13, lineHeight: 18 },
        itemStyle: { borderColor: '#fff', borderWidth: 2, gapWidth: 2 },
        data: rfm.segments
          .filter((s) => s.customers > 0)
          .map((s) => ({ name: rfmSegmentLabel(s.segment, t), value: s.customers, share: s.share, revenue: s.revenue, code: s.segment, itemStyle: { color: RFM_SEGMENT_COLORS[s.segment] } })),
      },
    ],
  };
}

function lifecycleOption(report: LifecycleReport, t: Translate): ChartOption {
  return {
    tooltip: {
      trigger: 'item',
      formatter: (params: unknown) => {
        const i = (params as { dataIndex: number }).dataIndex;
        const s = report.stages[i];
        return s ? `<b>${lifecycleLabel(s.stage, t)}</b><br/>${t('layers.tipCustomers', { n: formatNumber(s.customers) })}<br/>${t('layers.share')} ${percent(s.share)}` : '';
      },
    },
    grid: { left: 16, right: 16, top: 28, bottom: 8, containLabel: true },
    xAxis: { type: 'category', data: report.stages.map((s) => lifecycleLabel(s.stage, t)), axisTick: { show: false } },
    yAxis: { type: 'value', minInterval: 1, splitLine: { lineStyle: { type: 'dashed' } } },
    series: [
      {
        type: 'bar',
        name: t('layers.customers'),
        barMaxWidth: 56,
        data: report.stages.map((s) => ({ value: s.customers, itemStyle: { color: LIFECYCLE_COLORS[s.stage], borderRadius: [6, 6, 0, 0] } })),
        label: {
          show: true,
          position: 'top',
          formatter: (p: unknown) => {
            const i = (p as { dataIndex: number }).dataIndex;
            const s = report.stages[i];
            return s ? `${formatNumber(s.customers)} · ${percent(s.share)}` : '';
          },
        },
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

const LIFECYCLE_FIELDS: readonly (keyof LifecycleThresholds)[] = [
  'newDays',
  'singleOrderIntervalDays',
  'minIntervalDays',
  'maxIntervalDays',
  'activeMultiple',
  'silentMultiple',
  'atRiskMultiple',
];
const MULTIPLES: ReadonlySet<string> = new Set(['activeMultiple', 'silentMultiple', 'atRiskMultiple']);
const DIMS: readonly RfmDimension[] = ['r', 'f', 'm'];

type Cuts = [number | null, number | null, number | null, number | null];
interface RfmDraft {
  source: 'quintiles' | 'fixed';
  cuts: Cuts;
}

function draftOf(settings: LayerSettings, rfm: RfmReport | undefined): Record<RfmDimension, RfmDraft> {
  const out = {} as Record<RfmDimension, RfmDraft>;
  for (const d of DIMS) {
    const fixed = settings.rfm.thresholds?.[d];
    // fixed: the settings; quintiles: start from the cut points in use, a good place to begin fixing them
    const inUse = rfm?.thresholds?.[d].cuts ?? [null, null, null, null];
    const cuts = (fixed ?? inUse).map((c) => (c === null ? null : d === 'm' ? c / 100 : c)) as Cuts;
    out[d] = { source: fixed ? 'fixed' : 'quintiles', cuts };
  }
  return out;
}

function SettingsCard({ settings, rfm, onSaved }: { settings: LayerSettings; rfm: RfmReport | undefined; onSaved: () => void }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  // A cleared field stays empty (null) until the operator fills it: it is not silently 0.
  const [lifecycle, setLifecycle] = useState<Record<keyof LifecycleThresholds, number | null>>(settings.lifecycle);
  const [dims, setDims] = useState(() => draftOf(settings, rfm));
  const [problems, setProblems] = useState<Problem[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);

  const fieldPaths = [...LIFECYCLE_FIELDS.map((f) => `lifecycle.${f}`), ...DIMS.map((d) => `rfm.thresholds.${d}`)];
  const { byField, rest } = problemsByField(problems, fieldPaths);
  const help = (path: string): { validateStatus?: 'error'; help?: ReactNode } => {
    const errors = byField.get(path);
    return errors ? { validateStatus: 'error', help: <span data-testid="settings-error">{errors.join('；')}</span> } : {};
  };

  const save = async () => {
    // What the operator left empty is said here, in their language, before anything is sent.
    const missing: Problem[] = [];
    for (const f of LIFECYCLE_FIELDS) if (lifecycle[f] === null) missing.push({ path: `lifecycle.${f}`, message: t('layers.fieldRequired') });
    for (const d of DIMS) {
      if (dims[d].source !== 'fixed') continue;
      const empty = dims[d].cuts.flatMap((c, i) => (c === null ? [i + 1] : []));
      if (empty.length) missing.push({ path: `rfm.thresholds.${d}`, message: t('layers.cutsRequired', { n: empty.join(t('summary.listSep')) }) });
    }
    if (missing.length) {
      setProblems(missing);
      setError(null);
      return;
    }
    const thresholds: Partial<Record<RfmDimension, number[]>> = {};
    for (const d of DIMS) {
      if (dims[d].source !== 'fixed') continue;
      // sent as typed; the server says which cut point is missing or out of order
      thresholds[d] = dims[d].cuts.map((c) => (c === null ? (null as unknown as number) : d === 'm' ? Math.round(c * 100) : c));
    }
    const input = { rfm: { thresholds: Object.keys(thresholds).length ? thresholds : null }, lifecycle: lifecycle as LifecycleThresholds } as LayerSettings;
    setSaving(true);
    setProblems([]);
    setError(null);
    try {
      await api.putLayerSettings(input);
      void message.success(t('layers.settingsSaved'));
      onSaved();
    } catch (err) {
      const p = errorProblems(err);
      if (p.length) setProblems(p);
      else setError(err);
    } finally {
      setSaving(false);
    }
  };

  const unit = (d: RfmDimension) => (d === 'r' ? t('layers.unitDays') : d === 'f' ? t('layers.unitOrders') : '¥');

  return (
    <Card
      title={
        <Flex align="center" gap={8}>
          <SettingOutlined />
          {t('layers.settingsTitle')}
        </Flex>
      }
      extra={
        <Button type="primary" icon={<SaveOutlined />} loading={saving} onClick={() => void save()} data-testid="layers-settings-save">
          {t('common.save')}
        </Button>
      }
      data-testid="layers-settings"
    >
      {error ? <ErrorAlert error={error} /> : null}
      {rest.length ? (
        <div style={{ marginBottom: 16 }}>
          <ProblemsAlert problems={rest} />
        </div>
      ) : null}
      <Row gutter={[32, 16]}>
        <Col xs={24} xl={11}>
          <Typography.Title level={5} style={{ marginTop: 0 }}>
            {t('layers.lifecycleSettings')}
          </Typography.Title>
          <Typography.Paragraph type="secondary" style={{ fontSize: 13 }}>
            {t('layers.lifecycleSettingsHint')}
          </Typography.Paragraph>
          <Form layout="vertical" requiredMark={false}>
            <Row gutter={16}>
              {LIFECYCLE_FIELDS.map((f) => (
                <Col span={12} key={f}>
                  <Form.Item label={t(`layers.field.${f}`)} tooltip={t(`layers.fieldHint.${f}`)} {...help(`lifecycle.${f}`)}>
                    <InputNumber
                      value={lifecycle[f]}
                      min={MULTIPLES.has(f) ? 0.1 : 1}
                      step={MULTIPLES.has(f) ? 0.5 : 1}
                      suffix={MULTIPLES.has(f) ? '×' : t('builder.daysSuffix')}
                      onChange={(v) => setLifecycle({ ...lifecycle, [f]: v ?? null })}
                      style={{ width: '100%' }}
                      data-testid={`settings-${f}`}
                    />
                  </Form.Item>
                </Col>
              ))}
            </Row>
          </Form>
        </Col>
        <Col xs={24} xl={13}>
          <Typography.Title level={5} style={{ marginTop: 0 }}>
            {t('layers.rfmSettings')}
          </Typography.Title>
          <Typography.Paragraph type="secondary" style={{ fontSize: 13 }}>
            {t('layers.rfmSettingsHint')}
          </Typography.Paragraph>
          <Form layout="vertical" requiredMark={false}>
            {DIMS.map((d) => (
              <Form.Item key={d} label={t(`layers.dim.${d}`)} {...help(`rfm.thresholds.${d}`)}>
                <Flex vertical gap={8}>
                  <Radio.Group
                    value={dims[d].source}
                    onChange={(e) => setDims({ ...dims, [d]: { ...dims[d], source: e.target.value as RfmDraft['source'] } })}
                    optionType="button"
                    size="small"
                    options={[
                      { value: 'quintiles', label: <span data-testid={`settings-${d}-quintiles`}>{t('layers.quintiles')}</span> },
                      { value: 'fixed', label: <span data-testid={`settings-${d}-fixed`}>{t('layers.fixed')}</span> },
                    ]}
                  />
                  {dims[d].source === 'fixed' ? (
                    <Flex align="center" gap={6} wrap>
                      {dims[d].cuts.map((c, i) => (
                        <InputNumber
                          key={i}
                          value={c}
                          min={0}
                          prefix={d === 'm' ? '¥' : undefined}
                          placeholder={t('layers.cutN', { n: i + 1 })}
                          onChange={(v) => {
                            const cuts = [...dims[d].cuts] as Cuts;
                            cuts[i] = v;
                            setDims({ ...dims, [d]: { ...dims[d], cuts } });
                          }}
                          style={{ width: 110 }}
                          data-testid={`settings-${d}-cut-${i}`}
                        />
                      ))}
                      {d === 'm' ? null : <Typography.Text type="secondary">{unit(d)}</Typography.Text>}
                    </Flex>
                  ) : null}
                  <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                    {t(`layers.dimHint.${d}`)}
                  </Typography.Text>
                </Flex>
              </Form.Item>
            ))}
          </Form>
        </Col>
      </Row>
    </Card>
  );
}

// ---------------------------------------------------------------------------------------------
// Page
// ---------------------------------------------------------------------------------------------

function CutsText({ d, cuts }: { d: RfmDimension; cuts: (number | null)[] }) {
  const { t } = useI18n();
  const show = (c: number | null) => (c === null ? '—' : d === 'm' ? formatMoney(c) : formatNumber(c));
  return (
    <Typography.Text style={{ fontVariantNumeric: 'tabular-nums', fontSize: 13 }}>
      {cuts.map(show).join(' / ')} {d === 'r' ? t('layers.unitDays') : d === 'f' ? t('layers.unitOrders') : ''}
    </Typography.Text>
  );
}

export function LayersPage() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const formatTime = useDateTime();
  const rfm = useRequest((signal) => api.rfm(signal), []);
  const lifecycle = useRequest((signal) => api.lifecycle(signal), []);
  const settings = useRequest((signal) => api.layerSettings(signal), []);
  const [rfmView, setRfmView] = useState<'bar' | 'treemap'>('bar');
  const [recomputing, setRecomputing] = useState(false);
  const [recomputed, setRecomputed] = useState<RfmReport | null>(null);

  const report = recomputed ?? rfm.data;
  useEffect(() => setRecomputed(null), [rfm.data]);

  const charts = useMemo(
    () =>
      report
        ? { heatmap: heatmapOption(report, t), bar: segmentsBarOption(report, t), treemap: segmentsTreemapOption(report, t) }
        : null,
    [report, t],
  );
  const lifecycleChart = useMemo(() => (lifecycle.data ? lifecycleOption(lifecycle.data, t) : null), [lifecycle.data, t]);

  const recompute = async () => {
    setRecomputing(true);
    try {
      const next = await api.recomputeRfm();
      setRecomputed(next);
      lifecycle.reload();
      void message.success(t('layers.recomputed', { n: formatNumber(next.customers) }));
    } catch (err) {
      void message.error(describeError(err, t));
    } finally {
      setRecomputing(false);
    }
  };

  const afterSettings = () => {
    settings.reload();
    // the server recomputes in the background: look again shortly
    setTimeout(() => {
      rfm.reload();
      lifecycle.reload();
    }, 1500);
  };

  return (
    <>
      <PageHeader
        title={t('layers.title')}
        subtitle={t('layers.subtitle')}
        extra={
          <Button icon={<ReloadOutlined />} loading={recomputing} onClick={() => void recompute()} data-testid="rfm-recompute">
            {t('layers.recompute')}
          </Button>
        }
      />
      {rfm.error ? <ErrorAlert error={rfm.error} onRetry={rfm.reload} /> : null}
      <Row gutter={[16, 16]}>
        <Col xs={24} sm={8}>
          <Card>
            <Statistic title={t('layers.scoredCustomers')} value={report?.customers ?? 0} loading={!report} data-testid="rfm-customers" />
          </Card>
        </Col>
        <Col xs={24} sm={8}>
          <Card>
            <Statistic title={t('layers.scoredRevenue')} value={report ? formatMoney(report.revenue) : ''} loading={!report} />
          </Card>
        </Col>
        <Col xs={24} sm={8}>
          <Card>
            <Statistic title={t('layers.computedAt')} value={report ? formatTime(report.computedAt) : ''} loading={!report} styles={{ content: { fontSize: 20 } }} />
          </Card>
        </Col>
        <Col xs={24} xl={13}>
          <Card
            title={
              <Flex align="center" gap={8}>
                <HeatMapOutlined />
                {t('layers.heatmapTitle')}
              </Flex>
            }
            styles={{ body: { paddingTop: 8 } }}
          >
            {!charts || !report ? (
              <Skeleton active paragraph={{ rows: 8 }} />
            ) : (
              <>
                <Typography.Paragraph type="secondary" style={{ fontSize: 13, marginBottom: 4 }}>
                  {t('layers.heatmapHint')}
                </Typography.Paragraph>
                <EChart
                  option={charts.heatmap}
                  height={400}
                  testId="rfm-heatmap"
                  onClick={({ value }) => {
                    // A cell: [f − 1, r − 1, customers, revenue] → a new segment on that R and F.
                    const [fi, ri, customers] = value as [number, number, number];
                    if (!customers) return;
                    void navigate(segmentFromLayer(t('layers.segmentFromCell', { r: ri + 1, f: fi + 1 }), { rfm: { r: [ri + 1], f: [fi + 1] } }));
                  }}
                />
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                  <UsergroupAddOutlined /> {t('layers.cellHint')}
                </Typography.Text>
                {report.customers === 0 ? <Alert type="info" showIcon title={t('layers.noScored')} /> : null}
                {report.thresholds ? (
                  <Descriptions
                    size="small"
                    column={1}
                    style={{ marginTop: 8 }}
                    data-testid="rfm-thresholds"
                    items={DIMS.map((d) => ({
                      key: d,
                      label: t(`layers.dim.${d}`),
                      children: (
                        <Flex gap={8} align="center" wrap>
                          <Tag color={report.thresholds?.[d].source === 'fixed' ? 'purple' : 'blue'} style={{ marginInlineEnd: 0 }}>
                            {report.thresholds?.[d].source === 'fixed' ? t('layers.fixed') : t('layers.quintiles')}
                          </Tag>
                          <CutsText d={d} cuts={report.thresholds?.[d].cuts ?? []} />
                        </Flex>
                      ),
                    }))}
                  />
                ) : null}
              </>
            )}
          </Card>
        </Col>
        <Col xs={24} xl={11}>
          <Card
            title={t('layers.segmentsTitle')}
            extra={
              <Segmented<'bar' | 'treemap'>
                size="small"
                value={rfmView}
                onChange={setRfmView}
                options={[
                  { value: 'bar', label: t('layers.viewBar') },
                  { value: 'treemap', label: t('layers.viewTreemap') },
                ]}
              />
            }
            styles={{ body: { paddingTop: 8 } }}
            data-testid="rfm-segments"
          >
            {!charts || !report ? (
              <Skeleton active paragraph={{ rows: 8 }} />
            ) : rfmView === 'treemap' && report.customers === 0 ? (
              <Empty description={t('layers.noScored')} style={{ padding: 60 }} />
            ) : (
              <EChart key={rfmView} option={rfmView === 'bar' ? charts.bar : charts.treemap} height={470} testId="rfm-segments-chart" />
            )}
            {report && report.segments.some((s) => s.customers > 0) ? (
              <Flex gap={6} wrap align="center" style={{ marginTop: 8 }} data-testid="rfm-segment-links">
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                  <UsergroupAddOutlined /> {t('layers.buildSegment')}
                </Typography.Text>
                {report.segments
                  .filter((s) => s.customers > 0)
                  .map((s) => (
                    <Link key={s.segment} to={segmentFromLayer(t('layers.segmentFromRfm', { name: rfmSegmentLabel(s.segment, t) }), { rfm_segment: s.segment })} data-testid="rfm-segment-link" data-segment={s.segment}>
                      <Tag style={{ marginInlineEnd: 0, cursor: 'pointer' }}>
                        {rfmSegmentLabel(s.segment, t)} · {formatNumber(s.customers)}
                      </Tag>
                    </Link>
                  ))}
              </Flex>
            ) : null}
          </Card>
        </Col>
        <Col span={24}>
          <Card title={t('layers.lifecycleTitle')} styles={{ body: { paddingTop: 8 } }} data-testid="lifecycle-card">
            {lifecycle.error ? <ErrorAlert error={lifecycle.error} onRetry={lifecycle.reload} /> : null}
            {!lifecycle.data || !lifecycleChart ? (
              <Skeleton active paragraph={{ rows: 6 }} />
            ) : (
              <Row gutter={24} align="middle">
                <Col xs={24} lg={16}>
                  <EChart option={lifecycleChart} height={300} testId="lifecycle-chart" />
                </Col>
                <Col xs={24} lg={8}>
                  <Flex vertical gap={8}>
                    <Typography.Text type="secondary">{t('layers.lifecycleTotal', { n: formatNumber(lifecycle.data.total) })}</Typography.Text>
                    <Flex style={{ height: 18, borderRadius: 9, overflow: 'hidden', background: '#f0f0f0' }}>
                      {lifecycle.data.stages
                        .filter((s) => s.customers > 0)
                        .map((s) => (
                          <div key={s.stage} title={`${lifecycleLabel(s.stage, t)} ${percent(s.share)}`} style={{ width: `${s.share * 100}%`, background: LIFECYCLE_COLORS[s.stage] }} />
                        ))}
                    </Flex>
                    {LIFECYCLE_STAGES.map((stage) => {
                      const s = lifecycle.data?.stages.find((x) => x.stage === stage);
                      return (
                        <Flex key={stage} justify="space-between" align="center">
                          <Flex align="center" gap={8}>
                            <span style={{ width: 10, height: 10, borderRadius: 3, background: LIFECYCLE_COLORS[stage], display: 'inline-block' }} />
                            <Typography.Text>{lifecycleLabel(stage, t)}</Typography.Text>
                            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                              {t(`lifecycleHint.${stage}`)}
                            </Typography.Text>
                          </Flex>
                          <Flex align="center" gap={8}>
                            <Typography.Text style={{ fontVariantNumeric: 'tabular-nums' }}>
                              {formatNumber(s?.customers ?? 0)} <Typography.Text type="secondary">· {percent(s?.share ?? 0)}</Typography.Text>
                            </Typography.Text>
                            {s && s.customers > 0 ? (
                              <Tooltip title={t('layers.buildSegment')}>
                                <Link to={segmentFromLayer(t('layers.segmentFromStage', { stage: lifecycleLabel(stage, t) }), { lifecycle: stage })} data-testid="lifecycle-segment-link" data-stage={stage} aria-label={t('layers.buildSegment')}>
                                  <UsergroupAddOutlined />
                                </Link>
                              </Tooltip>
                            ) : null}
                          </Flex>
                        </Flex>
                      );
                    })}
                  </Flex>
                </Col>
              </Row>
            )}
          </Card>
        </Col>
        <Col span={24}>
          {settings.error ? <ErrorAlert error={settings.error} onRetry={settings.reload} /> : null}
          {settings.data ? (
            <SettingsCard key={`${JSON.stringify(settings.data)}|${report ? 'rfm' : ''}`} settings={settings.data} rfm={report} onSaved={afterSettings} />
          ) : settings.error ? null : (
            <Card>
              <Skeleton active />
            </Card>
          )}
        </Col>
      </Row>
    </>
  );
}
