import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import {
  App,
  Avatar,
  Button,
  Card,
  Col,
  Descriptions,
  Empty,
  Flex,
  InputNumber,
  Popconfirm,
  Result,
  Row,
  Select,
  Skeleton,
  Space,
  Statistic,
  Switch,
  Table,
  Tabs,
  Tag,
  Timeline,
  Tooltip,
  Typography,
  type TableColumnsType,
} from 'antd';
import {
  ArrowLeftOutlined,
  DeleteOutlined,
  DownloadOutlined,
  EyeInvisibleOutlined,
  EyeOutlined,
  PlusOutlined,
  ReloadOutlined,
  UserOutlined,
} from '@ant-design/icons';
import { Link, useNavigate, useParams } from 'react-router-dom';
import {
  api,
  isAbortError,
  isApiError,
  type AppliedTag,
  type EventType,
  type Merge,
  type Profile,
  type ProfileEvent,
  type ProfileIdentity,
} from '../api';
import { describeError } from '../components/describe-error';
import { ErrorAlert } from '../components/error-alert';
import { ProfileLink } from '../components/profile-link';
import { richText } from '../components/rich-text';
import {
  actorLabel,
  channelLabel,
  displayIdentifier,
  firstTouchLabel,
  formatMoney,
  formatNumber,
  formatValue,
  identifierTypeLabel,
  isSensitiveKey,
  mergeReasonText,
  profileName,
} from '../format';
import { useBack } from '../use-back';
import { hasMessage, useI18n, type Translate } from '../i18n';
import { BRAND_COLOR } from '../theme';
import { useRequest } from '../use-request';
import { useReveal } from '../use-reveal';
import { useDateTime } from '../workspace-context';

const EVENT_PAGE_SIZE = 20;

const EVENT_COLORS: Record<EventType, string> = {
  track: 'blue',
  identify: 'green',
  page: 'gray',
  screen: 'gray',
  group: 'purple',
  alias: 'orange',
};

function eventTypeLabel(type: EventType, t: Translate): string {
  return t(`profile.eventType.${type}`);
}

/** Track events show their name; page/screen views the page name or path. */
function eventTitle(event: ProfileEvent): string {
  if (event.event) return event.event;
  if (event.type === 'page' || event.type === 'screen') {
    const p = event.properties ?? {};
    const title = p.name ?? p.title ?? p.path ?? p.url;
    return title === undefined ? '' : formatValue(title);
  }
  return '';
}

function tagSourceLabel(source: string, t: Translate): string {
  const key = `tagSource.${source}`;
  return hasMessage(key) ? t(key) : source;
}

/** Saves JSON as a file through a temporary object URL. */
function downloadJson(data: unknown, filename: string): void {
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// ---------------------------------------------------------------------------------------------
// Tabs
// ---------------------------------------------------------------------------------------------

interface TraitRow {
  key: string;
  value: unknown;
  setAt: string | null;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

function TraitsTab({ profile, reveal }: { profile: Profile; reveal: boolean }) {
  const { t } = useI18n();
  const formatTime = useDateTime();
  // Instants (first_seen…, as the server writes them: ISO-8601 in UTC) read in the workspace's time zone.
  const renderValue = (key: string, value: unknown) =>
    typeof value === 'string' && isSensitiveKey(key)
      ? displayIdentifier(key, value, reveal)
      : typeof value === 'string' && ISO_INSTANT.test(value)
        ? formatTime(value)
        : formatValue(value);

  const traitRows: TraitRow[] = Object.entries(profile.traits)
    .map(([key, value]) => ({ key, value, setAt: profile.traitTimes[key] ?? null }))
    .sort((a, b) => a.key.localeCompare(b.key));
  const firstTouch = Object.entries(profile.firstTouch ?? {}).sort(([a], [b]) => a.localeCompare(b));

  const columns: TableColumnsType<TraitRow> = [
    { title: t('profile.colTrait'), dataIndex: 'key', width: '28%', render: (key: string) => <Typography.Text code>{key}</Typography.Text> },
    {
      title: t('profile.colValue'),
      key: 'value',
      render: (_, row) => <Typography.Text style={{ wordBreak: 'break-all' }}>{renderValue(row.key, row.value)}</Typography.Text>,
    },
    { title: t('profile.colSetAt'), dataIndex: 'setAt', width: 170, render: (iso: string | null) => formatTime(iso) },
  ];

  return (
    <Flex vertical gap={24}>
      <div>
        <Typography.Title level={5}>{t('profile.traitsTitle')}</Typography.Title>
        <Table<TraitRow>
          rowKey="key"
          size="small"
          columns={columns}
          dataSource={traitRows}
          pagination={false}
          locale={{ emptyText: t('profile.noTraits') }}
          data-testid="traits-table"
        />
      </div>
      <div>
        <Typography.Title level={5} style={{ marginBottom: 4 }}>
          {t('profile.firstTouchTitle')}
        </Typography.Title>
        <Typography.Paragraph type="secondary">{t('profile.firstTouchHint')}</Typography.Paragraph>
        {firstTouch.length === 0 ? (
          <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('profile.noFirstTouch')} />
        ) : (
          <Descriptions
            bordered
            size="small"
            column={{ xs: 1, md: 2 }}
            data-testid="first-touch"
            items={firstTouch.map(([key, value]) => {
              const label = firstTouchLabel(key, t);
              return {
                key,
                // Siyu's own keys in words, the key itself beside them for whoever writes conditions
                label: (
                  <span data-testid="first-touch-label" data-key={key}>
                    {label}
                    {label === key ? null : (
                      <Typography.Text type="secondary" style={{ display: 'block', fontSize: 11, fontFamily: 'monospace' }}>
                        {key}
                      </Typography.Text>
                    )}
                  </span>
                ),
                children:
                  key === 'first_source_channel' && typeof value === 'string' ? (
                    <span data-testid="first-touch-channel">
                      {channelLabel(value, t)}
                      {channelLabel(value, t) === value ? null : (
                        <Typography.Text type="secondary" style={{ marginInlineStart: 6, fontSize: 12 }}>
                          {value}
                        </Typography.Text>
                      )}
                    </span>
                  ) : (
                    renderValue(key, value)
                  ),
              };
            })}
          />
        )}
      </div>
    </Flex>
  );
}

function IdentitiesTab({ profile, reveal }: { profile: Profile; reveal: boolean }) {
  const { t } = useI18n();
  const formatTime = useDateTime();
  const columns: TableColumnsType<ProfileIdentity> = [
    {
      title: t('profile.colIdType'),
      dataIndex: 'type',
      width: 200,
      render: (type: string) => (
        // the code moves to its own line when the column is narrow, rather than breaking mid-word
        <Space size={[6, 0]} wrap>
          <span>{identifierTypeLabel(type, t)}</span>
          <Typography.Text type="secondary" style={{ fontSize: 12, whiteSpace: 'nowrap' }}>
            {type}
          </Typography.Text>
        </Space>
      ),
    },
    {
      title: t('profile.colIdValue'),
      key: 'value',
      render: (_, id) => (
        <Typography.Text copyable={reveal ? { text: id.value } : false} style={{ fontVariantNumeric: 'tabular-nums', wordBreak: 'break-all' }}>
          {displayIdentifier(id.type, id.value, reveal)}
        </Typography.Text>
      ),
    },
    { title: t('profile.colFirstSeen'), dataIndex: 'firstSeen', width: 170, render: (iso: string) => formatTime(iso) },
    {
      title: t('profile.colSourceMessage'),
      dataIndex: 'sourceMessageId',
      responsive: ['lg'],
      render: (id: string | null) =>
        id ? (
          <Typography.Text type="secondary" style={{ fontFamily: 'monospace', fontSize: 12 }}>
            {id}
          </Typography.Text>
        ) : (
          '—'
        ),
    },
  ];
  return (
    <Table<ProfileIdentity>
      rowKey={(id) => `${id.type}\u0000${id.value}`}
      size="small"
      columns={columns}
      dataSource={profile.identities}
      pagination={false}
      data-testid="identities-table"
    />
  );
}

const PREVIEW_PROPERTIES = 6;
/** What an operator looks for first on an order or a payment (Segment's e-commerce spec names). */
const KEY_PROPERTIES = ['total', 'revenue', 'value', 'amount', 'price', 'order_id'];

/**
 * The properties shown on a timeline row: the amount and order id first, then the other plain values in the
 * order sent, lists and objects (a basket of products) last, so a long basket never hides the amount.
 */
function previewProperties(properties: Record<string, unknown>): { shown: [string, unknown][]; hidden: number } {
  const all = Object.entries(properties);
  const rank = ([key, value]: [string, unknown]) => {
    const k = KEY_PROPERTIES.indexOf(key);
    if (k >= 0) return k;
    return value !== null && typeof value === 'object' ? KEY_PROPERTIES.length + 1 : KEY_PROPERTIES.length;
  };
  const sorted = all.map((entry, i) => ({ entry, i, r: rank(entry) })).sort((a, b) => a.r - b.r || a.i - b.i);
  return { shown: sorted.slice(0, PREVIEW_PROPERTIES).map((x) => x.entry), hidden: Math.max(0, all.length - PREVIEW_PROPERTIES) };
}

function EventBody({ event }: { event: ProfileEvent }) {
  const { t } = useI18n();
  const formatTime = useDateTime();
  const [open, setOpen] = useState(false);
  // An identify call carries what it set as traits, not properties: shown the same way.
  // Phones and emails masked (the timeline has no reveal switch; the 属性 tab does), also where an SDK repeats
  // them in context.traits.
  const masked = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'string' && isSensitiveKey(k) ? displayIdentifier(k, v, false) : v]));
  // What an identify or group call set (other calls' stored traits repeat context.traits, shown there).
  const traits = (event.type === 'identify' || event.type === 'group') && event.traits && Object.keys(event.traits).length ? masked(event.traits) : null;
  const contextTraits = event.context?.traits;
  const context =
    event.context && contextTraits !== null && typeof contextTraits === 'object' && !Array.isArray(contextTraits)
      ? { ...event.context, traits: masked(contextTraits as Record<string, unknown>) }
      : event.context;
  const { shown: preview, hidden } = previewProperties({ ...(event.properties ?? {}), ...(traits ?? {}) });
  return (
    <Flex vertical gap={4} data-testid="timeline-event">
      <Space size={8} wrap>
        <Tag color={EVENT_COLORS[event.type] ?? 'default'} style={{ marginInlineEnd: 0 }}>
          {eventTypeLabel(event.type, t)}
        </Tag>
        <Typography.Text strong>{eventTitle(event)}</Typography.Text>
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {t('profile.eventReceivedAt', { time: formatTime(event.receivedAt) })}
        </Typography.Text>
      </Space>
      {preview.length > 0 ? (
        <Space size={[6, 4]} wrap>
          {preview.map(([key, value]) => (
            <Tag key={key} variant="filled" style={{ marginInlineEnd: 0, maxWidth: 320, overflow: 'hidden', textOverflow: 'ellipsis' }}>
              <Typography.Text type="secondary">{key}:</Typography.Text> {formatValue(value)}
            </Tag>
          ))}
          {hidden > 0 ? (
            <Typography.Text type="secondary" style={{ fontSize: 12 }} data-testid="timeline-more-properties">
              {t('profile.moreProperties', { n: hidden })}
            </Typography.Text>
          ) : null}
        </Space>
      ) : null}
      <div>
        <Button type="link" size="small" style={{ padding: 0 }} onClick={() => setOpen(!open)}>
          {open ? '▾' : '▸'} {t('profile.eventProperties')} / {t('profile.eventContext')}
        </Button>
        {open ? (
          <pre
            style={{
              margin: '4px 0 0',
              padding: 12,
              background: '#fafafa',
              border: '1px solid #f0f0f0',
              borderRadius: 6,
              fontSize: 12,
              maxHeight: 320,
              overflow: 'auto',
            }}
          >
            {JSON.stringify({ messageId: event.messageId, ...(traits ? { traits } : {}), properties: event.properties, context }, null, 2)}
          </pre>
        ) : null}
      </div>
    </Flex>
  );
}

function TimelineTab({ profileId, refreshKey }: { profileId: string; refreshKey: number }) {
  const { t } = useI18n();
  const formatTime = useDateTime();
  const [events, setEvents] = useState<ProfileEvent[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [generation, setGeneration] = useState(0);

  // first page, again whenever the profile changes (unmerge moves events away)
  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    setError(null);
    api.listProfileEvents(profileId, { limit: EVENT_PAGE_SIZE }, controller.signal).then(
      (page) => {
        setEvents(page.data);
        setCursor(page.nextCursor);
        setDone(page.nextCursor === null);
        setLoading(false);
      },
      (err: unknown) => {
        if (isAbortError(err)) return;
        setError(err);
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [profileId, refreshKey, generation]);

  const loadMore = useCallback(async () => {
    if (!cursor) return;
    setLoading(true);
    setError(null);
    try {
      const page = await api.listProfileEvents(profileId, { limit: EVENT_PAGE_SIZE, cursor });
      setEvents((prev) => [...prev, ...page.data]);
      setCursor(page.nextCursor);
      setDone(page.nextCursor === null);
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  }, [profileId, cursor]);

  if (error && events.length === 0) return <ErrorAlert error={error} onRetry={() => setGeneration((g) => g + 1)} />;
  if (loading && events.length === 0) return <Skeleton active paragraph={{ rows: 8 }} />;
  if (events.length === 0) return <Empty description={t('profile.noEvents')} />;

  return (
    <div data-testid="timeline">
      <Timeline
        mode="start"
        titleSpan="150px"
        items={events.map((e) => ({
          key: e.id,
          color: EVENT_COLORS[e.type] ?? 'gray',
          title: (
            <Typography.Text type="secondary" style={{ fontVariantNumeric: 'tabular-nums', whiteSpace: 'nowrap' }}>
              {formatTime(e.timestamp)}
            </Typography.Text>
          ),
          content: <EventBody event={e} />,
        }))}
      />
      {error ? <ErrorAlert error={error} onRetry={() => void loadMore()} /> : null}
      <Flex justify="center">
        {done ? (
          <Typography.Text type="secondary">{t('profile.noMore')}</Typography.Text>
        ) : (
          <Button onClick={() => void loadMore()} loading={loading} data-testid="timeline-load-more">
            {t('profile.loadMore')}
          </Button>
        )}
      </Flex>
    </div>
  );
}

function MergesTab({ profile, reveal, onUnmerged }: { profile: Profile; reveal: boolean; onUnmerged: () => void }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const formatTime = useDateTime();
  const [busy, setBusy] = useState<string | null>(null);

  const unmerge = async (merge: Merge) => {
    setBusy(merge.id);
    try {
      const result = await api.unmerge(profile.id, merge.id);
      void message.success({
        content: richText(t('profile.unmerged'), {
          id: <Link to={`/profiles/${encodeURIComponent(result.restoredProfileId)}`}>{result.restoredProfileId}</Link>,
        }),
        duration: 5,
      });
      onUnmerged();
    } catch (err) {
      void message.error(describeError(err, t));
    } finally {
      setBusy(null);
    }
  };

  const profileCell = (id: string) =>
    id === profile.id ? (
      <Tag color="blue" style={{ marginInlineEnd: 0 }}>
        {t('profile.thisProfile')}
      </Tag>
    ) : (
      <ProfileLink id={id} />
    );

  const columns: TableColumnsType<Merge> = [
    { title: t('profile.colMergedAt'), dataIndex: 'createdAt', width: 150, render: (iso: string) => formatTime(iso) },
    { title: t('profile.colWinner'), dataIndex: 'winnerId', render: profileCell },
    { title: t('profile.colLoser'), dataIndex: 'loserId', render: profileCell },
    { title: t('profile.colReason'), dataIndex: 'reason', render: (reason: string) => <Typography.Text data-testid="merge-reason">{mergeReasonText(reason, reveal, t)}</Typography.Text> },
    { title: t('profile.colActor'), dataIndex: 'actor', responsive: ['xl'], render: (actor: string | null) => <span title={actor ?? undefined}>{actorLabel(actor, t)}</span> },
    {
      title: t('profile.colStatus'),
      key: 'status',
      render: (_, m) =>
        m.undoneAt ? (
          <Tag style={{ marginInlineEnd: 0 }}>{t('profile.mergeUndone', { time: formatTime(m.undoneAt) })}</Tag>
        ) : (
          <Tag color="green" style={{ marginInlineEnd: 0 }}>
            {t('profile.mergeActive')}
          </Tag>
        ),
    },
    {
      title: t('profile.colActions'),
      key: 'actions',
      fixed: 'right',
      width: 100,
      render: (_, m) =>
        m.undoneAt ? null : (
          <Popconfirm
            title={t('profile.unmergeConfirm')}
            description={<div style={{ maxWidth: 280 }}>{t('profile.unmergeConfirmText')}</div>}
            okText={t('profile.unmerge')}
            cancelText={t('common.cancel')}
            okButtonProps={{ 'data-testid': 'unmerge-confirm' } as Record<string, string>}
            onConfirm={() => unmerge(m)}
          >
            <Button size="small" danger loading={busy === m.id} data-testid="unmerge-button" data-merge-id={m.id}>
              {t('profile.unmerge')}
            </Button>
          </Popconfirm>
        ),
    },
  ];

  const merges = [...profile.merges].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return (
    <Table<Merge>
      rowKey="id"
      size="small"
      columns={columns}
      dataSource={merges}
      pagination={false}
      scroll={{ x: 760 }}
      locale={{ emptyText: t('profile.noMerges') }}
      data-testid="merges-table"
    />
  );
}

const DAY_MS = 86_400_000;

function TagsTab({ profile, onChanged }: { profile: Profile; onChanged: () => void }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const formatTime = useDateTime();
  const tags = profile.tags;
  const allTags = useRequest((signal) => api.listTags({}, signal), []);
  const [tagId, setTagId] = useState<string | undefined>(undefined);
  const [ttlDays, setTtlDays] = useState<number | null>(null);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<string | null>(null);

  const held = useMemo(() => new Set(tags.map((x) => x.id)), [tags]);
  // rule tags follow their rule: only manual and imported tags are applied by hand
  const options = useMemo(
    () =>
      (allTags.data?.data ?? [])
        .filter((x) => x.kind !== 'rule' && !held.has(x.id))
        .map((x) => ({ value: x.id, label: x.name })),
    [allTags.data, held],
  );

  const add = async () => {
    if (!tagId) return;
    setAdding(true);
    try {
      const expiresAt = ttlDays ? new Date(Date.now() + ttlDays * DAY_MS).toISOString() : undefined;
      const r = await api.applyProfileTag(profile.id, { tagId, ...(expiresAt ? { expiresAt } : {}) });
      void message.success(t('profile.tagAdded', { name: r.tag.name }));
      setTagId(undefined);
      setTtlDays(null);
      onChanged();
    } catch (err) {
      void message.error(describeError(err, t));
    } finally {
      setAdding(false);
    }
  };

  const remove = async (tag: AppliedTag) => {
    setRemoving(tag.id);
    try {
      await api.removeProfileTag(profile.id, tag.id);
      void message.success(t('profile.tagRemoved', { name: tag.name }));
      onChanged();
    } catch (err) {
      void message.error(describeError(err, t));
    } finally {
      setRemoving(null);
    }
  };

  const columns: TableColumnsType<AppliedTag> = [
    {
      title: t('profile.colTag'),
      dataIndex: 'name',
      render: (name: string) => (
        <Tag color="geekblue" style={{ marginInlineEnd: 0 }}>
          {name}
        </Tag>
      ),
    },
    {
      title: t('profile.colTagSource'),
      dataIndex: 'source',
      render: (source: string) => <Tag color={source === 'rule' ? 'purple' : undefined}>{tagSourceLabel(source, t)}</Tag>,
    },
    { title: t('profile.colAppliedBy'), dataIndex: 'appliedBy', render: (by: string | undefined) => <span title={by}>{actorLabel(by, t)}</span> },
    { title: t('profile.colAppliedAt'), dataIndex: 'appliedAt', render: (iso: string) => formatTime(iso) },
    {
      title: t('profile.colExpiresAt'),
      dataIndex: 'expiresAt',
      render: (iso: string | null | undefined) => (iso ? formatTime(iso) : <Typography.Text type="secondary">{t('tags.ttlForever')}</Typography.Text>),
    },
    {
      title: t('profile.colActions'),
      key: 'actions',
      width: 100,
      render: (_, tag) =>
        tag.source === 'rule' ? (
          <Tooltip title={t('profile.ruleTagHint')}>
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {t('tagSource.rule')}
            </Typography.Text>
          </Tooltip>
        ) : (
          <Popconfirm
            title={t('profile.removeTagConfirm', { name: tag.name })}
            okText={t('tags.remove')}
            okType="danger"
            cancelText={t('common.cancel')}
            okButtonProps={{ 'data-testid': 'profile-tag-remove-confirm' } as Record<string, string>}
            onConfirm={() => remove(tag)}
          >
            <Button size="small" danger type="link" loading={removing === tag.id} data-testid="profile-tag-remove" data-tag-name={tag.name}>
              {t('tags.remove')}
            </Button>
          </Popconfirm>
        ),
    },
  ];
  return (
    <Flex vertical gap={16}>
      <Flex gap={8} wrap align="center" data-testid="profile-tag-add-bar">
        <Select
          value={tagId}
          onChange={setTagId}
          options={options}
          showSearch={{ optionFilterProp: 'label' }}
          placeholder={t('profile.addTagPlaceholder')}
          notFoundContent={t('profile.noTagsToAdd')}
          loading={allTags.loading}
          style={{ width: 240 }}
          data-testid="profile-tag-select"
        />
        <InputNumber
          min={1}
          max={36500}
          precision={0}
          value={ttlDays}
          onChange={setTtlDays}
          suffix={t('builder.daysSuffix')}
          placeholder={t('profile.tagExpiryPlaceholder')}
          style={{ width: 150 }}
        />
        <Button type="primary" icon={<PlusOutlined />} disabled={!tagId} loading={adding} onClick={() => void add()} data-testid="profile-tag-add">
          {t('profile.addTag')}
        </Button>
      </Flex>
      {tags.length === 0 ? (
        <Empty description={t('profile.noTags')} />
      ) : (
        <>
          <Space size={[8, 8]} wrap>
            {tags.map((tag) => (
              <Tag key={tag.id} color="geekblue" style={{ fontSize: 13, padding: '2px 10px' }}>
                {tag.name}
              </Tag>
            ))}
          </Space>
          <Table<AppliedTag> rowKey="id" size="small" columns={columns} dataSource={tags} pagination={false} data-testid="tags-table" />
        </>
      )}
    </Flex>
  );
}

// ---------------------------------------------------------------------------------------------
// Page
// ---------------------------------------------------------------------------------------------

function Figure({ title, value, testId }: { title: string; value: ReactNode; testId: string }) {
  return (
    <Statistic
      title={title}
      valueRender={() => <span style={{ fontSize: 20, fontVariantNumeric: 'tabular-nums' }}>{value}</span>}
      data-testid={testId}
    />
  );
}

export function ProfileDetailPage() {
  const { id = '' } = useParams();
  const { t } = useI18n();
  const { message, modal } = App.useApp();
  const navigate = useNavigate();
  const back = useBack('/profiles');
  const formatTime = useDateTime();
  const [reveal, setReveal] = useReveal();
  const [tab, setTab] = useState('traits');
  const [exporting, setExporting] = useState(false);
  const [refreshKey, setRefreshKey] = useState(0);

  const { data: profile, error, loading, reload } = useRequest((signal) => api.getProfile(id, signal), [id, refreshKey]);
  const refresh = useCallback(() => setRefreshKey((k) => k + 1), []);

  const name = useMemo(() => (profile ? profileName(profile.traits) : null), [profile]);

  if (error && (!profile || profile.id !== id)) {
    if (isApiError(error) && error.status === 404) {
      return (
        <Result
          status="404"
          title={t('profile.notFound')}
          subTitle={t('profile.notFoundText', { id })}
          extra={
            <Link to="/profiles">
              <Button type="primary">{t('profile.backToList')}</Button>
            </Link>
          }
        />
      );
    }
    return <ErrorAlert error={error} onRetry={reload} />;
  }
  if (!profile || profile.id !== id) {
    return (
      <Card>
        <Skeleton avatar active paragraph={{ rows: 6 }} />
      </Card>
    );
  }

  const c = profile.computed;

  const exportData = async () => {
    setExporting(true);
    try {
      const data = await api.exportProfile(profile.id);
      downloadJson(data, `siyu-profile-${profile.id}.json`);
      void message.success(t('profile.exported'));
    } catch (err) {
      void message.error(describeError(err, t));
    } finally {
      setExporting(false);
    }
  };

  const confirmDelete = () => {
    void modal.confirm({
      title: t('profile.deleteTitle'),
      content: t('profile.deleteBody'),
      okText: t('profile.deleteOk'),
      okType: 'danger',
      cancelText: t('common.cancel'),
      width: 480,
      okButtonProps: { 'data-testid': 'profile-delete-confirm' } as Record<string, string>,
      onOk: async () => {
        try {
          const result = await api.deleteProfile(profile.id);
          void message.success(t('profile.deleted', { n: result.suppressedIdentifiers }));
          void navigate('/profiles', { replace: true });
        } catch (err) {
          void message.error(describeError(err, t));
        }
      },
    });
  };

  const revealSwitch = (
    <Flex align="center" gap={8}>
      {reveal ? <EyeOutlined /> : <EyeInvisibleOutlined />}
      <Typography.Text>{t('common.showFull')}</Typography.Text>
      <Switch size="small" checked={reveal} onChange={setReveal} data-testid="mask-toggle" />
    </Flex>
  );

  return (
    <>
      <Button type="link" icon={<ArrowLeftOutlined />} onClick={back} style={{ paddingInline: 0, marginBottom: 8 }}>
        {t('common.back')}
      </Button>

      <Card style={{ marginBottom: 16 }}>
        <Flex justify="space-between" align="flex-start" gap={16} wrap>
          <Flex gap={16} align="center">
            <Avatar size={56} icon={name ? undefined : <UserOutlined />} style={{ background: BRAND_COLOR, flex: 'none', fontSize: 24 }}>
              {name ? name.slice(0, 1) : null}
            </Avatar>
            <div>
              <Typography.Title level={4} style={{ margin: 0 }} data-testid="profile-name">
                {name ?? t('profiles.unnamed')}
              </Typography.Title>
              <Typography.Text type="secondary" copyable={{ text: profile.id }} style={{ fontFamily: 'monospace', fontSize: 12 }} data-testid="profile-id">
                {profile.id}
              </Typography.Text>
              <div style={{ marginTop: 6 }}>
                <Space size={[4, 4]} wrap>
                  {profile.tags.slice(0, 6).map((tag) => (
                    <Tag key={tag.id} color="geekblue" style={{ marginInlineEnd: 0 }}>
                      {tag.name}
                    </Tag>
                  ))}
                  <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                    {t('common.createdAt')} {formatTime(profile.createdAt)} · {t('common.updatedAt')} {formatTime(profile.updatedAt)}
                  </Typography.Text>
                </Space>
              </div>
            </div>
          </Flex>
          <Space wrap>
            <Button icon={<ReloadOutlined />} onClick={refresh} loading={loading} data-testid="profile-refresh">
              {t('common.refresh')}
            </Button>
            <Button icon={<DownloadOutlined />} onClick={() => void exportData()} loading={exporting} data-testid="profile-export">
              {t('profile.export')}
            </Button>
            <Button danger icon={<DeleteOutlined />} onClick={confirmDelete} data-testid="profile-delete">
              {t('profile.delete')}
            </Button>
          </Space>
        </Flex>

        <Row gutter={[24, 16]} style={{ marginTop: 24 }} data-testid="profile-figures">
          <Col xs={12} md={8} xl={3}>
            <Figure testId="figure-order-count" title={t('profile.orderCount')} value={formatNumber(c.order_count)} />
          </Col>
          <Col xs={12} md={8} xl={4}>
            <Figure testId="figure-total-spent" title={t('profile.totalSpent')} value={formatMoney(c.total_spent)} />
          </Col>
          <Col xs={12} md={8} xl={3}>
            <Figure
              testId="figure-avg-order-value"
              title={t('profile.avgOrderValue')}
              value={c.order_count > 0 ? formatMoney(c.avg_order_value ?? c.total_spent / c.order_count) : '—'}
            />
          </Col>
          <Col xs={12} md={8} xl={3}>
            <Figure testId="figure-event-count" title={t('profile.eventCount')} value={formatNumber(c.event_count)} />
          </Col>
          <Col xs={24} md={16} xl={11}>
            <Descriptions
              size="small"
              column={2}
              colon={false}
              styles={{ label: { color: 'rgba(0,0,0,0.45)' } }}
              items={[
                { key: 'firstOrder', label: t('profile.firstOrder'), children: formatTime(c.first_order_at) },
                { key: 'lastOrder', label: t('profile.lastOrder'), children: formatTime(c.last_order_at) },
                { key: 'firstSeen', label: t('profile.firstSeen'), children: formatTime(c.first_seen) },
                { key: 'lastSeen', label: t('profile.lastSeen'), children: formatTime(c.last_seen) },
                {
                  key: 'refunds',
                  label: t('profile.refunds'),
                  children: t('profile.refundSummary', { count: formatNumber(c.refund_count), amount: formatMoney(c.total_refunded) }),
                },
              ]}
              data-testid="profile-dates"
            />
          </Col>
        </Row>
      </Card>

      <Card>
        <Tabs
          activeKey={tab}
          onChange={setTab}
          tabBarExtraContent={tab === 'traits' || tab === 'identities' || tab === 'merges' ? revealSwitch : undefined}
          items={[
            {
              key: 'traits',
              label: <span data-testid="tab-traits">{t('profile.tabTraits')}</span>,
              children: <TraitsTab profile={profile} reveal={reveal} />,
            },
            {
              key: 'identities',
              label: (
                <span data-testid="tab-identities">
                  {t('profile.tabIdentities')} ({profile.identities.length})
                </span>
              ),
              children: <IdentitiesTab profile={profile} reveal={reveal} />,
            },
            {
              key: 'timeline',
              label: <span data-testid="tab-timeline">{t('profile.tabTimeline')}</span>,
              children: <TimelineTab profileId={profile.id} refreshKey={refreshKey} />,
            },
            {
              key: 'merges',
              label: (
                <span data-testid="tab-merges">
                  {t('profile.tabMerges')} ({profile.merges.length})
                </span>
              ),
              children: <MergesTab profile={profile} reveal={reveal} onUnmerged={refresh} />,
            },
            {
              key: 'tags',
              label: (
                <span data-testid="tab-tags">
                  {t('profile.tabTags')} ({profile.tags.length})
                </span>
              ),
              children: <TagsTab profile={profile} onChanged={refresh} />,
            },
          ]}
        />
      </Card>
    </>
  );
}
