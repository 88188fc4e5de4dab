import { useMemo, useState, type ReactNode } from 'react';
import { Alert, Button, Col, Flex, Input, InputNumber, Modal, Row, Segmented, Select, Space, Statistic, Table, Tabs, Tag, Tooltip, Typography, Upload } from 'antd';
import { FileTextOutlined, InboxOutlined } from '@ant-design/icons';
import { api, type BulkIdentifiers, type BulkTagResult, type TagItem, type UnmatchedIdentifier } from '../api';
import { displayIdentifier, formatNumber, identifierTypeLabel } from '../format';
import { useI18n } from '../i18n';
import { identityTypeOptions } from '../identity-type-options';
import { useRequest } from '../use-request';
import { ErrorAlert } from './error-alert';

const DAY_MS = 86_400_000;
const PREVIEW_LINES = 4;

export type BulkAction = 'apply' | 'remove';

/** One line per identifier; blank lines and surrounding spaces are dropped, commas and tabs also separate. */
export function readValues(text: string): string[] {
  return text
    .split(/[\r\n,，\t]+/)
    .map((v) => v.trim())
    .filter(Boolean);
}

/** A stacked bar of how a bulk request went: new / already / not found / invalid. */
function OutcomeBar({ parts }: { parts: { key: string; label: string; value: number; color: string }[] }) {
  const total = parts.reduce((n, p) => n + p.value, 0);
  if (total === 0) return null;
  return (
    <div>
      <Flex style={{ height: 14, borderRadius: 7, overflow: 'hidden', background: '#f0f0f0' }} data-testid="bulk-outcome-bar">
        {parts
          .filter((p) => p.value > 0)
          .map((p) => (
            <Tooltip key={p.key} title={`${p.label}: ${formatNumber(p.value)}`}>
              <div style={{ width: `${(p.value / total) * 100}%`, background: p.color }} />
            </Tooltip>
          ))}
      </Flex>
      <Flex gap={14} wrap style={{ marginTop: 6 }}>
        {parts.map((p) => (
          <Flex key={p.key} align="center" gap={4}>
            <span style={{ width: 8, height: 8, borderRadius: 2, background: p.color, display: 'inline-block' }} />
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {p.label}
            </Typography.Text>
          </Flex>
        ))}
      </Flex>
    </div>
  );
}

function ResultView({ result, action }: { result: BulkTagResult; action: BulkAction }) {
  const { t } = useI18n();
  const done = action === 'apply' ? (result.applied ?? 0) : (result.removed ?? 0);
  const already = action === 'apply' ? (result.alreadyTagged ?? 0) : (result.notTagged ?? 0);
  const stat = (testId: string, title: string, value: number, color?: string) => (
    <Col span={6}>
      <Statistic title={title} value={value} data-testid={testId} styles={{ content: color ? { color } : {} }} />
    </Col>
  );
  return (
    <Flex vertical gap={16} data-testid="bulk-result">
      <Alert
        type={result.notFound + result.invalid > 0 ? 'warning' : 'success'}
        showIcon
        title={t(action === 'apply' ? 'bulk.appliedSummary' : 'bulk.removedSummary', {
          requested: formatNumber(result.requested),
          matched: formatNumber(result.matched),
          done: formatNumber(done),
        })}
      />
      <Row gutter={16}>
        {stat('bulk-applied', action === 'apply' ? t('bulk.applied') : t('bulk.removed'), done, '#389e0d')}
        {stat('bulk-already', action === 'apply' ? t('bulk.already') : t('bulk.notTagged'), already)}
        {stat('bulk-not-found', t('bulk.notFound'), result.notFound, result.notFound ? '#d46b08' : undefined)}
        {stat('bulk-invalid', t('bulk.invalid'), result.invalid, result.invalid ? '#cf1322' : undefined)}
      </Row>
      <OutcomeBar
        parts={[
          { key: 'done', label: action === 'apply' ? t('bulk.applied') : t('bulk.removed'), value: done, color: '#52c41a' },
          { key: 'already', label: action === 'apply' ? t('bulk.already') : t('bulk.notTagged'), value: already, color: '#91caff' },
          { key: 'notFound', label: t('bulk.notFound'), value: result.notFound, color: '#ffc53d' },
          { key: 'invalid', label: t('bulk.invalid'), value: result.invalid, color: '#ff7875' },
        ]}
      />
      {result.unmatched.length ? (
        <div>
          <Typography.Text strong>{t('bulk.unmatchedTitle', { n: result.unmatched.length })}</Typography.Text>
          <Table<UnmatchedIdentifier>
            size="small"
            rowKey={(u) => `${u.type}\u0000${u.value}\u0000${u.reason}`}
            dataSource={result.unmatched}
            pagination={result.unmatched.length > 8 ? { pageSize: 8, size: 'small' } : false}
            style={{ marginTop: 8 }}
            data-testid="bulk-unmatched"
            columns={[
              { title: t('bulk.colValue'), dataIndex: 'value', render: (v: string) => <Typography.Text copyable style={{ fontFamily: 'monospace' }}>{v}</Typography.Text> },
              { title: t('bulk.colType'), dataIndex: 'type', width: 140, render: (type: string) => identifierTypeLabel(type, t) },
              {
                title: t('bulk.colReason'),
                key: 'reason',
                render: (_, u) => (
                  <Space size={4} wrap>
                    <Tag color={u.reason === 'invalid' ? 'red' : 'orange'} style={{ marginInlineEnd: 0 }}>
                      {u.reason === 'invalid' ? t('bulk.invalid') : t('bulk.notFound')}
                    </Tag>
                    {u.message ? <Typography.Text type="secondary" style={{ fontSize: 12 }}>{u.message}</Typography.Text> : null}
                  </Space>
                ),
              },
            ]}
          />
        </div>
      ) : null}
    </Flex>
  );
}

function BulkDialog({ tag, initialAction, onClose, onDone }: { tag: TagItem; initialAction: BulkAction; onClose: () => void; onDone: () => void }) {
  const { t } = useI18n();
  const [action, setAction] = useState<BulkAction>(initialAction);
  const [source, setSource] = useState<'paste' | 'csv'>('paste');
  const [type, setType] = useState('phone');
  const [text, setText] = useState('');
  const [csv, setCsv] = useState<{ name: string; text: string } | null>(null);
  const [ttlDays, setTtlDays] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<{ action: BulkAction; data: BulkTagResult } | null>(null);

  const types = useRequest((signal) => api.listIdentityTypes(signal), []);
  const typeOptions = useMemo(() => identityTypeOptions(types.data?.data, t), [types.data, t]);
  const values = useMemo(() => readValues(text), [text]);
  const csvLines = useMemo(() => (csv ? csv.text.split(/\r?\n/).filter((l) => l.trim() !== '') : []), [csv]);

  const canSubmit = source === 'paste' ? values.length > 0 : csv !== null;

  const submit = async () => {
    const expiresAt = action === 'apply' && ttlDays ? new Date(Date.now() + ttlDays * DAY_MS).toISOString() : undefined;
    let input: BulkIdentifiers;
    if (source === 'paste') input = { type, values, ...(expiresAt ? { expiresAt } : {}) };
    else input = { csv: csv?.text ?? '', ...(expiresAt ? { expiresAt } : {}) };
    setBusy(true);
    setError(null);
    try {
      const data = await api.bulkTag(tag.id, action, input);
      setResult({ action, data });
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const preview: ReactNode =
    source === 'paste' ? (
      <Typography.Text type="secondary" style={{ fontSize: 12 }} data-testid="bulk-value-count">
        {t('bulk.valueCount', { n: values.length })}
        {values.length > 0 && type === 'phone' ? ` · ${values.slice(0, 3).map((v) => displayIdentifier('phone', v, false)).join(t('summary.listSep'))}${values.length > 3 ? '…' : ''}` : ''}
      </Typography.Text>
    ) : null;

  return (
    <Modal
      open
      width={720}
      title={
        <Flex align="center" gap={8}>
          {action === 'apply' ? t('bulk.titleApply') : t('bulk.titleRemove')}
          <Tag color="geekblue" style={{ marginInlineEnd: 0 }}>
            {tag.name}
          </Tag>
        </Flex>
      }
      onCancel={onClose}
      footer={
        <Flex justify="flex-end" gap={8}>
          <Button onClick={onClose} data-testid="bulk-close">
            {result ? t('common.close') : t('common.cancel')}
          </Button>
          <Button
            type="primary"
            danger={action === 'remove'}
            loading={busy}
            disabled={!canSubmit}
            onClick={() => void submit()}
            data-testid="bulk-submit"
          >
            {action === 'apply' ? t('bulk.submitApply') : t('bulk.submitRemove')}
          </Button>
        </Flex>
      }
    >
      <Flex vertical gap={14} data-testid="tag-bulk-dialog">
        <Segmented<BulkAction>
          value={action}
          onChange={(a) => {
            setAction(a);
            setResult(null);
          }}
          options={[
            { value: 'apply', label: <span data-testid="bulk-action-apply">{t('bulk.apply')}</span> },
            { value: 'remove', label: <span data-testid="bulk-action-remove">{t('bulk.remove')}</span> },
          ]}
        />
        <Tabs
          activeKey={source}
          onChange={(k) => setSource(k as 'paste' | 'csv')}
          items={[
            {
              key: 'paste',
              label: <span data-testid="bulk-source-paste">{t('bulk.paste')}</span>,
              children: (
                <Flex vertical gap={8}>
                  <Flex align="center" gap={8}>
                    <Typography.Text>{t('bulk.identifierType')}</Typography.Text>
                    <Select value={type} onChange={setType} options={typeOptions} style={{ width: 200 }} popupMatchSelectWidth={false} data-testid="bulk-type" />
                  </Flex>
                  <Input.TextArea
                    value={text}
                    onChange={(e) => setText(e.target.value)}
                    autoSize={{ minRows: 6, maxRows: 14 }}
                    placeholder={t('bulk.pastePlaceholder')}
                    style={{ fontFamily: 'monospace' }}
                    data-testid="bulk-values"
                  />
                  {preview}
                </Flex>
              ),
            },
            {
              key: 'csv',
              label: <span data-testid="bulk-source-csv">{t('bulk.csv')}</span>,
              children: (
                <Flex vertical gap={8}>
                  <Upload.Dragger
                    accept=".csv,.txt,text/csv,text/plain"
                    multiple={false}
                    showUploadList={false}
                    beforeUpload={(file) => {
                      void file.text().then((content) => setCsv({ name: file.name, text: content }));
                      return false;
                    }}
                    data-testid="bulk-csv-upload"
                  >
                    <p className="ant-upload-drag-icon">
                      <InboxOutlined />
                    </p>
                    <p className="ant-upload-text">{t('bulk.csvDrop')}</p>
                    <p className="ant-upload-hint">{t('bulk.csvHint')}</p>
                  </Upload.Dragger>
                  {csv ? (
                    <div data-testid="bulk-csv-preview">
                      <Typography.Text>
                        <FileTextOutlined /> {csv.name} · {t('bulk.csvRows', { n: Math.max(0, csvLines.length - 1) })}
                      </Typography.Text>
                      <pre style={{ margin: '6px 0 0', padding: 8, background: '#fafafa', border: '1px solid #f0f0f0', borderRadius: 6, fontSize: 12, overflow: 'auto' }}>
                        {csvLines.slice(0, PREVIEW_LINES).join('\n')}
                        {csvLines.length > PREVIEW_LINES ? '\n…' : ''}
                      </pre>
                    </div>
                  ) : null}
                </Flex>
              ),
            },
          ]}
        />
        {action === 'apply' ? (
          <Flex align="center" gap={8} wrap>
            <Typography.Text>{t('bulk.expiry')}</Typography.Text>
            <InputNumber
              min={1}
              max={36500}
              precision={0}
              value={ttlDays}
              onChange={setTtlDays}
              suffix={t('builder.daysSuffix')}
              placeholder={tag.defaultTtlDays ? String(tag.defaultTtlDays) : t('tags.ttlForever')}
              style={{ width: 160 }}
              data-testid="bulk-expiry-days"
            />
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {tag.defaultTtlDays ? t('bulk.expiryDefault', { n: tag.defaultTtlDays }) : t('bulk.expiryNone')}
            </Typography.Text>
          </Flex>
        ) : null}
        {error ? <ErrorAlert error={error} /> : null}
        {result ? <ResultView result={result.data} action={result.action} /> : null}
      </Flex>
    </Modal>
  );
}

/** Apply or remove a tag for pasted identifiers or an uploaded CSV, then show what matched. */
export function TagBulkModal(props: { tag: TagItem | null; action: BulkAction; onClose: () => void; onDone: () => void }) {
  if (!props.tag) return null;
  return <BulkDialog key={props.tag.id} tag={props.tag} initialAction={props.action} onClose={props.onClose} onDone={props.onDone} />;
}
