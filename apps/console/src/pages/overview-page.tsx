import { useMemo, type ReactNode } from 'react';
import { Card, Col, Empty, Row, Skeleton, Statistic } from 'antd';
import { ApiOutlined, BranchesOutlined, TeamOutlined, WarningOutlined } from '@ant-design/icons';
import { Link } from 'react-router-dom';
import { api, type Stats } from '../api';
import { EChart, type ChartOption } from '../components/echart';
import { ErrorAlert } from '../components/error-alert';
import { PageHeader } from '../components/page-header';
import { fillMissingDays, formatNumber, identifierTypeLabel } from '../format';
import { useI18n, type Translate } from '../i18n';
import { BRAND_COLOR } from '../theme';
import { useRequest } from '../use-request';

const PALETTE = [BRAND_COLOR, '#13c2c2', '#52c41a', '#faad14', '#f5222d', '#722ed1', '#eb2f96', '#fa8c16', '#2f54eb', '#a0d911'];

function eventsPerDayOption(stats: Stats, t: Translate): ChartOption {
  const days = fillMissingDays(stats.eventsPerDay);
  return {
    color: [BRAND_COLOR],
    tooltip: { trigger: 'axis' },
    grid: { left: 48, right: 24, top: 24, bottom: 32 },
    xAxis: {
      type: 'category',
      boundaryGap: false,
      data: days.map((d) => d.day.slice(5)),
      axisTick: { show: false },
    },
    yAxis: { type: 'value', minInterval: 1, splitLine: { lineStyle: { type: 'dashed' } } },
    series: [
      {
        name: t('overview.eventsSeries'),
        type: 'line',
        smooth: true,
        showSymbol: days.length <= 31,
        data: days.map((d) => d.count),
        areaStyle: {
          color: {
            type: 'linear',
            x: 0,
            y: 0,
            x2: 0,
            y2: 1,
            colorStops: [
              { offset: 0, color: 'rgba(31, 94, 255, 0.28)' },
              { offset: 1, color: 'rgba(31, 94, 255, 0.02)' },
            ],
          },
        },
      },
    ],
  };
}

function topEventsOption(stats: Stats, t: Translate): ChartOption {
  // largest at the top of a horizontal bar chart
  const rows = [...stats.eventsByName].sort((a, b) => a.count - b.count);
  return {
    color: ['#13c2c2'],
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: 'value', minInterval: 1, splitLine: { lineStyle: { type: 'dashed' } } },
    yAxis: {
      type: 'category',
      data: rows.map((r) => r.event),
      axisTick: { show: false },
      axisLabel: { width: 140, overflow: 'truncate' },
    },
    series: [
      {
        name: t('overview.countSeries'),
        type: 'bar',
        data: rows.map((r) => r.count),
        barMaxWidth: 22,
        itemStyle: { borderRadius: [0, 4, 4, 0] },
        label: { show: true, position: 'right', formatter: (p: { value: unknown }) => formatNumber(Number(p.value)) },
      },
    ],
  };
}

function identitiesOption(stats: Stats, t: Translate): ChartOption {
  return {
    color: PALETTE,
    tooltip: { trigger: 'item', formatter: '{b}: {c} ({d}%)' },
    legend: { type: 'scroll', orient: 'vertical', right: 8, top: 'middle' },
    series: [
      {
        name: t('overview.identitiesByType'),
        type: 'pie',
        radius: ['42%', '70%'],
        center: ['38%', '50%'],
        avoidLabelOverlap: true,
        itemStyle: { borderColor: '#fff', borderWidth: 2, borderRadius: 4 },
        label: { show: false },
        data: stats.identitiesByType.map((r) => ({ name: identifierTypeLabel(r.type, t), value: r.count })),
      },
    ],
  };
}

function StatCard(props: { testId: string; title: string; value: number | undefined; icon: ReactNode; color: string; to?: string }) {
  const card = (
    <Card hoverable={Boolean(props.to)} data-testid={props.testId}>
      <Statistic
        title={props.title}
        value={props.value ?? 0}
        loading={props.value === undefined}
        prefix={<span style={{ color: props.color, marginInlineEnd: 4 }}>{props.icon}</span>}
      />
    </Card>
  );
  return props.to ? <Link to={props.to}>{card}</Link> : card;
}

/** A chart in a card: skeleton while loading, an Empty note when there is nothing to draw. */
function ChartCard(props: {
  title: string;
  testId: string;
  option: ChartOption | null;
  isEmpty: boolean;
  emptyText: string;
  height: number;
}) {
  let body: ReactNode;
  if (!props.option) body = <Skeleton active paragraph={{ rows: 6 }} />;
  else if (props.isEmpty) body = <Empty description={props.emptyText} style={{ padding: 40 }} />;
  else body = <EChart option={props.option} height={props.height} />;
  return (
    <Card title={props.title} data-testid={props.testId} styles={{ body: { paddingTop: 12 } }}>
      {body}
    </Card>
  );
}

export function OverviewPage() {
  const { t } = useI18n();
  const { data: stats, error, reload } = useRequest((signal) => api.stats(signal), []);

  const charts = useMemo(
    () =>
      stats
        ? { perDay: eventsPerDayOption(stats, t), top: topEventsOption(stats, t), ids: identitiesOption(stats, t) }
        : null,
    [stats, t],
  );

  return (
    <>
      <PageHeader title={t('overview.title')} subtitle={t('overview.subtitle')} />
      {error ? <ErrorAlert error={error} onRetry={reload} /> : null}
      <Row gutter={[16, 16]}>
        <Col xs={24} sm={12} xl={6}>
          <StatCard testId="stat-profiles" title={t('overview.profiles')} value={stats?.profiles} icon={<TeamOutlined />} color={BRAND_COLOR} to="/profiles" />
        </Col>
        <Col xs={24} sm={12} xl={6}>
          <StatCard testId="stat-events" title={t('overview.events')} value={stats?.events} icon={<ApiOutlined />} color="#13c2c2" />
        </Col>
        <Col xs={24} sm={12} xl={6}>
          <StatCard testId="stat-merged-profiles" title={t('overview.mergedProfiles')} value={stats?.mergedProfiles} icon={<BranchesOutlined />} color="#722ed1" />
        </Col>
        <Col xs={24} sm={12} xl={6}>
          <StatCard
            testId="stat-open-conflicts"
            title={t('overview.openConflicts')}
            value={stats?.openConflicts}
            icon={<WarningOutlined />}
            color={stats && stats.openConflicts > 0 ? '#fa541c' : '#8c8c8c'}
            to="/identity/conflicts"
          />
        </Col>
      </Row>
      {error && !stats ? null : (
        <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
          <Col span={24}>
            <ChartCard
              title={t('overview.eventsPerDay')}
              testId="chart-events-per-day"
              option={charts?.perDay ?? null}
              isEmpty={!stats?.eventsPerDay.length}
              emptyText={t('overview.noEvents')}
              height={300}
            />
          </Col>
          <Col xs={24} lg={14}>
            <ChartCard
              title={t('overview.topEvents')}
              testId="chart-top-events"
              option={charts?.top ?? null}
              isEmpty={!stats?.eventsByName.length}
              emptyText={t('overview.noEvents')}
              height={320}
            />
          </Col>
          <Col xs={24} lg={10}>
            <ChartCard
              title={t('overview.identitiesByType')}
              testId="chart-identities-by-type"
              option={charts?.ids ?? null}
              isEmpty={!stats?.identitiesByType.length}
              emptyText={t('overview.noIdentities')}
              height={320}
            />
          </Col>
        </Row>
      )}
    </>
  );
}
