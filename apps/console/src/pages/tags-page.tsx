import { useMemo, useState } from 'react';
import {
  App,
  Button,
  Card,
  Drawer,
  Flex,
  Form,
  Input,
  Modal,
  Popconfirm,
  Segmented,
  Select,
  Space,
  Table,
  Tag,
  Tooltip,
  Typography,
  type TableColumnsType,
} from 'antd';
import {
  DeleteOutlined,
  EditOutlined,
  FolderAddOutlined,
  HistoryOutlined,
  MinusCircleOutlined,
  PlusCircleOutlined,
  PlusOutlined,
  ReloadOutlined,
} from '@ant-design/icons';
import { Link } from 'react-router-dom';
import { api, errorDependants, errorProblems, isApiError, type TagGroup, type TagItem, type TagKind } from '../api';
import { describeError } from '../components/describe-error';
import { EChart, type ChartOption } from '../components/echart';
import { ErrorAlert } from '../components/error-alert';
import { MembershipHistoryTimeline } from '../components/membership-history';
import { PageHeader } from '../components/page-header';
import { rowProps } from '../components/row-props';
import { TagBulkModal, type BulkAction } from '../components/tag-bulk-modal';
import { TagFormModal } from '../components/tag-form-modal';
import { formatNumber } from '../format';
import { useI18n, type Translate } from '../i18n';
import { useRequest } from '../use-request';
import { useDateTime } from '../workspace-context';

const KIND_COLORS: Record<TagKind, string> = { manual: 'blue', rule: 'purple', imported: 'cyan' };
const ALL = '__all__';
const UNGROUPED = '__none__';
const CHART_TOP = 12;

export function tagKindLabel(kind: TagKind, t: Translate): string {
  return t(`tagKind.${kind}`);
}

function topTagsOption(tags: TagItem[], t: Translate): ChartOption {
  const rows = [...tags]
    .sort((a, b) => b.count - a.count)
    .slice(0, CHART_TOP)
    .reverse();
  return {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: 'value', minInterval: 1, splitLine: { lineStyle: { type: 'dashed' } } },
    yAxis: { type: 'category', data: rows.map((r) => r.name), axisTick: { show: false }, axisLabel: { width: 120, overflow: 'truncate' } },
    series: [
      {
        name: t('tags.colCount'),
        type: 'bar',
        barMaxWidth: 18,
        data: rows.map((r) => ({ value: r.count, itemStyle: { color: r.kind === 'rule' ? '#9254de' : r.kind === 'imported' ? '#13c2c2' : '#1f5eff', borderRadius: [0, 4, 4, 0] } })),
        label: { show: true, position: 'right' },
      },
    ],
  };
}

/** The `details.tags` of a 409 answer to deleting a tag group (the tags it still holds). */
function heldTags(err: unknown): { id: string; name: string }[] {
  if (!isApiError(err) || err.status !== 409) return [];
  const list = err.details?.tags;
  if (!Array.isArray(list)) return [];
  return (list as unknown[]).filter(
    (x): x is { id: string; name: string } =>
      typeof x === 'object' && x !== null && typeof (x as { id?: unknown }).id === 'string' && typeof (x as { name?: unknown }).name === 'string',
  );
}

/** Creates a group, or with `group` renames / re-describes it. */
function GroupModal({ open, group, onClose, onSaved }: { open: boolean; group: TagGroup | null; onClose: () => void; onSaved: (g: TagGroup) => void }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [form] = Form.useForm<{ name: string; description?: string }>();
  const [busy, setBusy] = useState(false);
  const submit = async (values: { name: string; description?: string }) => {
    setBusy(true);
    try {
      const input = { name: values.name.trim(), description: values.description?.trim() || null };
      const g = group ? await api.updateTagGroup(group.id, input) : await api.createTagGroup(input);
      void message.success(t(group ? 'tagGroups.updated' : 'tagGroups.created', { name: g.name }));
      form.resetFields();
      onSaved(g);
    } catch (err) {
      const problems = errorProblems(err);
      const name = problems.filter((p) => p.path === 'name').map((p) => p.message);
      form.setFields([{ name: 'name', errors: name.length ? name : [describeError(err, t)] }]);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      open={open}
      title={group ? t('tagGroups.editTitle', { name: group.name }) : t('tagGroups.createTitle')}
      onCancel={onClose}
      okText={group ? t('common.save') : t('tagGroups.createOk')}
      cancelText={t('common.cancel')}
      confirmLoading={busy}
      onOk={() => form.submit()}
      okButtonProps={{ 'data-testid': 'tag-group-submit' } as Record<string, string>}
      destroyOnHidden
    >
      <Form
        form={form}
        layout="vertical"
        onFinish={(v) => void submit(v)}
        requiredMark={false}
        initialValues={group ? { name: group.name, description: group.description ?? '' } : undefined}
        data-testid="tag-group-form"
      >
        <Form.Item name="name" label={t('tagGroups.name')} rules={[{ required: true, whitespace: true, message: t('tagGroups.nameRequired') }]}>
          <Input maxLength={100} placeholder={t('tagGroups.namePlaceholder')} data-testid="tag-group-name" />
        </Form.Item>
        <Form.Item name="description" label={t('tags.description')}>
          <Input.TextArea maxLength={1000} autoSize={{ minRows: 2, maxRows: 4 }} data-testid="tag-group-description-input" />
        </Form.Item>
      </Form>
    </Modal>
  );
}

export function TagsPage() {
  const { t } = useI18n();
  const { message, modal } = App.useApp();
  const formatTime = useDateTime();
  const [group, setGroup] = useState<string>(ALL);
  const [kind, setKind] = useState<TagKind | undefined>(undefined);
  const [formTag, setFormTag] = useState<TagItem | null | undefined>(undefined); // undefined: closed; null: new
  const [groupOpen, setGroupOpen] = useState(false);
  const [editGroup, setEditGroup] = useState<TagGroup | null>(null);
  const [deletingGroup, setDeletingGroup] = useState<string | null>(null);
  const [bulk, setBulk] = useState<{ tag: TagItem; action: BulkAction } | null>(null);
  const [historyTag, setHistoryTag] = useState<TagItem | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);

  const groups = useRequest((signal) => api.listTagGroups(signal), []);
  const tags = useRequest((signal) => api.listTags({}, signal), []);
  const catalog = useRequest((signal) => api.audienceCatalog(signal), [tags.data]);
  const stats = useRequest((signal) => api.stats(signal), []);

  const groupList = useMemo(() => groups.data?.data ?? [], [groups.data]);
  const groupName = useMemo(() => new Map(groupList.map((g) => [g.id, g.name])), [groupList]);
  const selectedGroup = useMemo(() => groupList.find((g) => g.id === group) ?? null, [groupList, group]);
  const allTags = useMemo(() => tags.data?.data ?? [], [tags.data]);
  const rows = useMemo(
    () =>
      allTags.filter(
        (x) => (group === ALL || (group === UNGROUPED ? x.groupId === null : x.groupId === group)) && (kind === undefined || x.kind === kind),
      ),
    [allTags, group, kind],
  );
  const maxCount = Math.max(1, ...allTags.map((x) => x.count));
  const chart = useMemo(() => (allTags.some((x) => x.count > 0) ? topTagsOption(allTags, t) : null), [allTags, t]);

  const remove = async (tag: TagItem) => {
    setDeleting(tag.id);
    try {
      await api.deleteTag(tag.id);
      void message.success(t('tags.deleted', { name: tag.name }));
      tags.reload();
    } catch (err) {
      const dependants = errorDependants(err);
      if (isApiError(err) && err.status === 409) {
        const dialog = modal.error({
          title: t('tags.deleteBlockedTitle', { name: tag.name }),
          width: 520,
          content: (
            <div data-testid="delete-blocked">
              <Typography.Paragraph>{t('tags.deleteBlockedText')}</Typography.Paragraph>
              {dependants.length ? (
                <ul style={{ paddingInlineStart: 18 }}>
                  {dependants.map((d) => (
                    <li key={`${d.kind}:${d.id}`}>
                      <Tag style={{ marginInlineEnd: 6 }}>{d.kind === 'segment' ? t('tags.dependantSegment') : t('tags.dependantRuleTag')}</Tag>
                      {d.kind === 'segment' ? <Link to={`/segments/${encodeURIComponent(d.id)}`} onClick={() => dialog.destroy()}>{d.name}</Link> : d.name}
                    </li>
                  ))}
                </ul>
              ) : null}
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {describeError(err, t)}
              </Typography.Text>
            </div>
          ),
        });
      } else {
        void message.error(describeError(err, t));
      }
    } finally {
      setDeleting(null);
    }
  };

  const removeGroup = async (g: TagGroup) => {
    setDeletingGroup(g.id);
    try {
      await api.deleteTagGroup(g.id);
      void message.success(t('tagGroups.deleted', { name: g.name }));
      setGroup(ALL);
      groups.reload();
    } catch (err) {
      if (isApiError(err) && err.status === 409) {
        const held = heldTags(err);
        modal.error({
          title: t('tagGroups.deleteBlockedTitle', { name: g.name }),
          width: 520,
          content: (
            <div data-testid="group-delete-blocked">
              <Typography.Paragraph>{t('tagGroups.deleteBlockedText')}</Typography.Paragraph>
              {held.length ? (
                <Flex wrap gap={6} style={{ marginBottom: 12 }}>
                  {held.map((x) => (
                    <Tag key={x.id} color="geekblue" style={{ marginInlineEnd: 0 }} data-testid="group-delete-blocked-tag">
                      {x.name}
                    </Tag>
                  ))}
                </Flex>
              ) : null}
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {describeError(err, t)}
              </Typography.Text>
            </div>
          ),
        });
        tags.reload(); // the list may be out of date: show the tags the group holds now
      } else {
        if (isApiError(err) && err.status === 404) {
          setGroup(ALL);
          groups.reload();
        }
        void message.error(describeError(err, t));
      }
    } finally {
      setDeletingGroup(null);
    }
  };

  const columns: TableColumnsType<TagItem> = [
    {
      title: t('tags.colName'),
      key: 'name',
      render: (_, tag) => (
        <Flex vertical gap={2}>
          <span>
            <Tag color="geekblue" style={{ fontSize: 13, marginInlineEnd: 0 }}>
              {tag.name}
            </Tag>
          </span>
          {tag.description ? (
            <Typography.Text type="secondary" style={{ fontSize: 12 }} ellipsis={{ tooltip: tag.description }}>
              {tag.description}
            </Typography.Text>
          ) : null}
        </Flex>
      ),
    },
    {
      title: t('tags.colGroup'),
      key: 'group',
      width: 140,
      render: (_, tag) => (tag.groupId ? (groupName.get(tag.groupId) ?? tag.groupId) : <Typography.Text type="secondary">{t('tags.noGroup')}</Typography.Text>),
    },
    {
      title: t('tags.colKind'),
      dataIndex: 'kind',
      width: 90,
      render: (k: TagKind) => (
        <Tag color={KIND_COLORS[k]} style={{ marginInlineEnd: 0 }}>
          {tagKindLabel(k, t)}
        </Tag>
      ),
    },
    {
      title: t('tags.colCount'),
      dataIndex: 'count',
      width: 170,
      render: (count: number) => (
        <Flex align="center" gap={8}>
          <div style={{ flex: 1, height: 6, background: '#f0f0f0', borderRadius: 3, overflow: 'hidden', minWidth: 60 }}>
            <div style={{ width: `${(count / maxCount) * 100}%`, height: '100%', background: '#1f5eff' }} />
          </div>
          <span style={{ fontVariantNumeric: 'tabular-nums', minWidth: 32, textAlign: 'right' }} data-testid="tag-count">
            {formatNumber(count)}
          </span>
        </Flex>
      ),
    },
    {
      title: t('tags.colExpiry'),
      dataIndex: 'defaultTtlDays',
      width: 120,
      render: (days: number | null, tag) =>
        tag.kind === 'rule' ? (
          <Typography.Text type="secondary">{t('tags.ruleKeepsCurrent')}</Typography.Text>
        ) : days ? (
          t('tags.ttlDays', { n: days })
        ) : (
          <Typography.Text type="secondary">{t('tags.ttlForever')}</Typography.Text>
        ),
    },
    { title: t('common.updatedAt'), dataIndex: 'updatedAt', width: 150, responsive: ['xl'], render: (iso: string) => formatTime(iso) },
    {
      title: t('profile.colActions'),
      key: 'actions',
      fixed: 'right',
      width: 290,
      render: (_, tag) => {
        const rule = tag.kind === 'rule';
        return (
          <Space size={2}>
            <Tooltip title={rule ? t('tags.ruleNoManual') : undefined}>
              <Button size="small" type="link" icon={<PlusCircleOutlined />} disabled={rule} onClick={() => setBulk({ tag, action: 'apply' })} data-testid="tag-bulk-apply">
                {t('tags.apply')}
              </Button>
            </Tooltip>
            <Button size="small" type="link" icon={<MinusCircleOutlined />} disabled={rule} onClick={() => setBulk({ tag, action: 'remove' })} data-testid="tag-bulk-remove">
              {t('tags.remove')}
            </Button>
            <Tooltip title={t('tags.history')}>
              <Button size="small" type="text" icon={<HistoryOutlined />} onClick={() => setHistoryTag(tag)} data-testid="tag-history" aria-label={t('tags.history')} />
            </Tooltip>
            <Tooltip title={t('common.edit')}>
              <Button size="small" type="text" icon={<EditOutlined />} onClick={() => setFormTag(tag)} data-testid="tag-edit" aria-label={t('common.edit')} />
            </Tooltip>
            <Popconfirm
              title={t('tags.deleteConfirm', { name: tag.name })}
              description={<div style={{ maxWidth: 280 }}>{t('tags.deleteConfirmText')}</div>}
              okText={t('common.delete')}
              okType="danger"
              cancelText={t('common.cancel')}
              okButtonProps={{ 'data-testid': 'tag-delete-confirm' } as Record<string, string>}
              onConfirm={() => remove(tag)}
            >
              <Button size="small" type="text" danger icon={<DeleteOutlined />} loading={deleting === tag.id} data-testid="tag-delete" aria-label={t('common.delete')} />
            </Popconfirm>
          </Space>
        );
      },
    },
  ];

  const groupOptions = [
    { value: ALL, label: t('tags.allGroups') },
    ...groupList.map((g) => ({
      value: g.id,
      label: (
        <span data-testid="tag-group-option" data-group-id={g.id} data-group-name={g.name}>
          {g.name}
        </span>
      ),
    })),
    { value: UNGROUPED, label: t('tags.noGroup') },
  ];

  return (
    <>
      <PageHeader
        title={t('tags.title')}
        subtitle={t('tags.subtitle')}
        extra={
          <>
            <Button icon={<FolderAddOutlined />} onClick={() => setGroupOpen(true)} data-testid="tag-group-create">
              {t('tagGroups.create')}
            </Button>
            <Button type="primary" icon={<PlusOutlined />} onClick={() => setFormTag(null)} data-testid="tag-create">
              {t('tags.create')}
            </Button>
          </>
        }
      />
      {chart ? (
        <Card title={t('tags.chartTitle')} style={{ marginBottom: 16 }} styles={{ body: { paddingTop: 8 } }} data-testid="tags-chart">
          <EChart option={chart} height={Math.max(140, Math.min(CHART_TOP, allTags.length) * 30)} />
        </Card>
      ) : null}
      <Card>
        <Flex justify="space-between" align="center" gap={12} wrap style={{ marginBottom: 16 }}>
          <Flex align="center" gap={4} wrap>
            <Segmented value={group} onChange={(v) => setGroup(String(v))} options={groupOptions} data-testid="tag-group-filter" />
            {selectedGroup ? (
              <Space size={2} data-testid="tag-group-actions" data-group-id={selectedGroup.id} data-group-name={selectedGroup.name}>
                <Tooltip title={t('tagGroups.edit')}>
                  <Button
                    size="small"
                    type="text"
                    icon={<EditOutlined />}
                    onClick={() => setEditGroup(selectedGroup)}
                    data-testid="tag-group-edit"
                    aria-label={t('tagGroups.edit')}
                  />
                </Tooltip>
                <Popconfirm
                  title={t('tagGroups.deleteConfirm', { name: selectedGroup.name })}
                  description={<div style={{ maxWidth: 280 }}>{t('tagGroups.deleteConfirmText')}</div>}
                  okText={t('common.delete')}
                  okType="danger"
                  cancelText={t('common.cancel')}
                  okButtonProps={{ 'data-testid': 'tag-group-delete-confirm' } as Record<string, string>}
                  onConfirm={() => removeGroup(selectedGroup)}
                >
                  <Button
                    size="small"
                    type="text"
                    danger
                    icon={<DeleteOutlined />}
                    loading={deletingGroup === selectedGroup.id}
                    data-testid="tag-group-delete"
                    aria-label={t('tagGroups.delete')}
                  />
                </Popconfirm>
              </Space>
            ) : null}
          </Flex>
          <Flex gap={8}>
            <Select
              allowClear
              value={kind}
              onChange={(k: TagKind | undefined) => setKind(k)}
              placeholder={t('tags.allKinds')}
              style={{ width: 130 }}
              options={(['manual', 'rule', 'imported'] as const).map((k) => ({ value: k, label: tagKindLabel(k, t) }))}
            />
            <Button icon={<ReloadOutlined />} onClick={tags.reload} loading={tags.loading}>
              {t('common.refresh')}
            </Button>
          </Flex>
        </Flex>
        {selectedGroup?.description ? (
          <Typography.Paragraph type="secondary" style={{ marginTop: -8, marginBottom: 12, fontSize: 12 }} data-testid="tag-group-description">
            {selectedGroup.description}
          </Typography.Paragraph>
        ) : null}
        {tags.error ? <ErrorAlert error={tags.error} onRetry={tags.reload} /> : null}
        {groups.error ? <ErrorAlert error={groups.error} onRetry={groups.reload} /> : null}
        <Table<TagItem>
          rowKey="id"
          columns={columns}
          dataSource={rows}
          loading={tags.loading && !tags.data}
          pagination={rows.length > 50 ? { pageSize: 50 } : false}
          size="middle"
          scroll={{ x: 940 }}
          locale={{ emptyText: t('tags.empty') }}
          data-testid="tags-table"
          onRow={(tag) => rowProps('tag-row', { 'data-tag-id': tag.id, 'data-tag-name': tag.name })}
        />
      </Card>

      <GroupModal
        open={groupOpen}
        group={null}
        onClose={() => setGroupOpen(false)}
        onSaved={(g) => {
          setGroupOpen(false);
          groups.reload();
          setGroup(g.id);
        }}
      />
      {editGroup ? (
        // keyed by the group: a fresh form filled with its current name and description each time
        <GroupModal
          key={editGroup.id}
          open
          group={editGroup}
          onClose={() => setEditGroup(null)}
          onSaved={() => {
            setEditGroup(null);
            groups.reload();
          }}
        />
      ) : null}
      <TagFormModal
        open={formTag !== undefined}
        tag={formTag ?? null}
        groups={groupList}
        catalog={catalog.data}
        totalProfiles={stats.data?.profiles}
        defaultGroupId={group !== ALL && group !== UNGROUPED ? group : undefined}
        onClose={() => setFormTag(undefined)}
        onSaved={() => {
          setFormTag(undefined);
          tags.reload();
        }}
      />
      <TagBulkModal tag={bulk?.tag ?? null} action={bulk?.action ?? 'apply'} onClose={() => setBulk(null)} onDone={tags.reload} />
      <Drawer
        open={historyTag !== null}
        onClose={() => setHistoryTag(null)}
        title={historyTag ? t('tags.historyTitle', { name: historyTag.name }) : ''}
        size={480}
        destroyOnHidden
      >
        {historyTag ? (
          <div data-testid="tag-history-drawer">
            <MembershipHistoryTimeline loadKey={historyTag.id} load={(q, signal) => api.tagHistory(historyTag.id, q, signal)} />
          </div>
        ) : null}
      </Drawer>
    </>
  );
}
