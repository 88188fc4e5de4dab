import { useEffect, useState } from 'react';
import { App, Button, Card, Col, Flex, Row, Space, Statistic, Table, Tag, Typography, type TableColumnsType } from 'antd';
import { ReloadOutlined, RedoOutlined } from '@ant-design/icons';
import { api, type DeadLetter } from '../api';
import { CursorPager } from '../components/cursor-pager';
import { describeError } from '../components/describe-error';
import { ErrorAlert } from '../components/error-alert';
import { PageHeader } from '../components/page-header';
import { rowProps } from '../components/row-props';
import { useI18n } from '../i18n';
import { useCursorPages } from '../use-cursor-pages';
import { useRequest } from '../use-request';
import { useDateTime } from '../workspace-context';

/** How often the status refreshes itself, ms. */
const STATUS_REFRESH_MS = 5000;

/** The processing pipeline: queue, lag and the messages that failed, with retry. */
export function PipelinePage() {
  const { t } = useI18n();
  const { message } = App.useApp();
  const formatTime = useDateTime();
  const status = useRequest((signal) => api.pipeline(signal), []);
  const pages = useCursorPages((_query: null, page, signal) => api.listDeadLetters(page, signal), null);
  const [selected, setSelected] = useState<number[]>([]);
  const [retrying, setRetrying] = useState(false);

  useEffect(() => {
    const timer = setInterval(status.reload, STATUS_REFRESH_MS);
    return () => clearInterval(timer);
  }, [status.reload]);

  const reload = () => {
    status.reload();
    pages.reload();
  };

  const retry = async (seqs?: number[]) => {
    setRetrying(true);
    try {
      const r = await api.retryDeadLetters(seqs);
      void message.success(t('pipeline.retried', { n: r.retried }));
      setSelected([]);
      reload();
    } catch (e) {
      void message.error(describeError(e, t));
    } finally {
      setRetrying(false);
    }
  };

  const lag = status.data?.lagMs ?? 0;
  const lagText = lag < 60_000 ? t('pipeline.seconds', { n: Math.round(lag / 1000) }) : t('pipeline.minutes', { n: Math.round(lag / 60_000) });

  const columns: TableColumnsType<DeadLetter> = [
    { title: t('pipeline.colFailedAt'), dataIndex: 'failedAt', width: 160, render: (iso: string) => formatTime(iso) },
    {
      title: t('pipeline.colMessage'),
      key: 'message',
      width: 200,
      render: (_, d) => (
        <Space size={6} wrap>
          <Tag style={{ marginInlineEnd: 0 }}>{d.type ?? '?'}</Tag>
          {d.event ? <Typography.Text>{d.event}</Typography.Text> : null}
        </Space>
      ),
    },
    {
      title: t('pipeline.colError'),
      dataIndex: 'error',
      render: (error: string) => (
        <Typography.Text type="danger" style={{ wordBreak: 'break-word' }}>
          {error}
        </Typography.Text>
      ),
    },
    {
      title: t('pipeline.colMessageId'),
      dataIndex: 'messageId',
      responsive: ['lg'],
      render: (id: string) => (
        <Typography.Text type="secondary" style={{ fontFamily: 'monospace', fontSize: 12, wordBreak: 'break-all' }}>
          {id}
        </Typography.Text>
      ),
    },
  ];

  return (
    <>
      <PageHeader
        title={t('pipeline.title')}
        subtitle={t('pipeline.subtitle')}
        extra={
          <Button icon={<ReloadOutlined />} onClick={reload} loading={status.loading || pages.loading}>
            {t('common.refresh')}
          </Button>
        }
      />
      {status.error ? <ErrorAlert error={status.error} onRetry={status.reload} /> : null}
      <Row gutter={[16, 16]} style={{ marginBottom: 16 }}>
        <Col xs={24} md={8}>
          <Card>
            <Statistic title={t('pipeline.waiting')} value={status.data?.waiting ?? 0} loading={!status.data && status.loading} data-testid="pipeline-waiting" />
          </Card>
        </Col>
        <Col xs={24} md={8}>
          <Card>
            <Statistic
              title={t('pipeline.lag')}
              value={status.data && status.data.waiting === 0 ? t('pipeline.upToDate') : lagText}
              loading={!status.data && status.loading}
              styles={{ content: { color: lag > 60_000 ? '#cf1322' : undefined } }}
              data-testid="pipeline-lag"
            />
          </Card>
        </Col>
        <Col xs={24} md={8}>
          <Card>
            <Statistic
              title={t('pipeline.deadLetters')}
              value={status.data?.deadLetters ?? 0}
              loading={!status.data && status.loading}
              styles={{ content: { color: (status.data?.deadLetters ?? 0) > 0 ? '#cf1322' : undefined } }}
              data-testid="pipeline-dead"
            />
          </Card>
        </Col>
      </Row>
      <Card title={t('pipeline.deadTitle')}>
        <Flex justify="space-between" align="center" gap={8} wrap style={{ marginBottom: 16 }}>
          <Typography.Text type="secondary">{t('pipeline.deadHint')}</Typography.Text>
          <Space>
            <Button icon={<RedoOutlined />} disabled={selected.length === 0} loading={retrying} onClick={() => void retry(selected)} data-testid="retry-selected">
              {t('pipeline.retrySelected', { n: selected.length })}
            </Button>
            <Button type="primary" icon={<RedoOutlined />} disabled={pages.rows.length === 0} loading={retrying} onClick={() => void retry()} data-testid="retry-all">
              {t('pipeline.retryAll')}
            </Button>
          </Space>
        </Flex>
        {pages.error ? <ErrorAlert error={pages.error} onRetry={pages.reload} /> : null}
        <Table<DeadLetter>
          rowKey="seq"
          columns={columns}
          dataSource={pages.rows}
          loading={pages.loading}
          pagination={false}
          size="middle"
          scroll={{ x: 800 }}
          rowSelection={{ selectedRowKeys: selected, onChange: (keys) => setSelected(keys.map(Number)) }}
          locale={{ emptyText: t('pipeline.empty') }}
          data-testid="dead-letters-table"
          onRow={() => rowProps('dead-letter-row')}
        />
        <CursorPager pages={pages} testIdPrefix="dead-letters" />
      </Card>
    </>
  );
}
