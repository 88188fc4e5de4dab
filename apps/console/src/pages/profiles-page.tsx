import { useMemo, useState } from 'react';
import { App, AutoComplete, Button, Card, Flex, Input, Select, Space, Switch, Table, Tag, Tooltip, Typography, type TableColumnsType } from 'antd';
import { EyeInvisibleOutlined, EyeOutlined, FilterOutlined, SearchOutlined, UserOutlined } from '@ant-design/icons';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { api, isApiError, type ProfileSummary } from '../api';
import { CursorPager } from '../components/cursor-pager';
import { describeError } from '../components/describe-error';
import { ErrorAlert } from '../components/error-alert';
import { PageHeader } from '../components/page-header';
import { rowProps } from '../components/row-props';
import { displayIdentifier, firstIdentity, formatMoney, formatNumber, identifierTypeLabel, profileName, shortId } from '../format';
import { useI18n } from '../i18n';
import { identityTypeOptions } from '../identity-type-options';
import { useCursorPages } from '../use-cursor-pages';
import { useRequest } from '../use-request';
import { useReveal } from '../use-reveal';
import { useDateTime } from '../workspace-context';

const TRAIT_PREFIX = 'trait.';
const COMMON_TRAITS = ['city', 'province', 'gender', 'name', 'nickname', 'member_level', 'first_source_channel', 'source'];

/** Filters live in the URL (`?q=…&trait.city=上海`) so Back from a profile returns to the same list. */
function readFilters(params: URLSearchParams): { q: string; traits: Record<string, string> } {
  const traits: Record<string, string> = {};
  for (const [key, value] of params) {
    if (key.startsWith(TRAIT_PREFIX) && key.length > TRAIT_PREFIX.length) traits[key.slice(TRAIT_PREFIX.length)] = value;
  }
  return { q: params.get('q') ?? '', traits };
}

function IdentityCell({ profile, type, reveal }: { profile: ProfileSummary; type: string; reveal: boolean }) {
  const { t } = useI18n();
  const id = firstIdentity(profile.identities, type);
  if (!id) return <Typography.Text type="secondary">—</Typography.Text>;
  return (
    <span style={{ fontVariantNumeric: 'tabular-nums' }}>
      {displayIdentifier(type, id.value, reveal)}
      {id.more > 0 ? (
        <Typography.Text type="secondary" style={{ marginInlineStart: 6, fontSize: 12 }}>
          {t('profiles.moreIdentities', { n: id.more })}
        </Typography.Text>
      ) : null}
    </span>
  );
}

const TAGS_SHOWN = 3;

/** The person's tags as small tags: the first {@link TAGS_SHOWN}, then "+N" with the rest in a tooltip. */
function TagsCell({ profile }: { profile: ProfileSummary }) {
  const { t } = useI18n();
  const tags = profile.tags ?? [];
  if (tags.length === 0) return <Typography.Text type="secondary">—</Typography.Text>;
  const rest = tags.slice(TAGS_SHOWN);
  return (
    <Flex wrap gap={4} data-testid="profile-tags">
      {tags.slice(0, TAGS_SHOWN).map((tag) => (
        <Tag key={tag.id} color="geekblue" style={{ marginInlineEnd: 0, fontSize: 12 }} data-testid="profile-tag" data-tag-name={tag.name}>
          {tag.name}
        </Tag>
      ))}
      {rest.length ? (
        <Tooltip
          title={rest.map((tag) => (
            <div key={tag.id}>{tag.name}</div>
          ))}
        >
          <Tag style={{ marginInlineEnd: 0, fontSize: 12 }} data-testid="profile-tags-more">
            {t('profiles.moreTags', { n: rest.length })}
          </Tag>
        </Tooltip>
      ) : null}
    </Flex>
  );
}

export function ProfilesPage() {
  const { t } = useI18n();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const formatTime = useDateTime();
  const [reveal, setReveal] = useReveal();
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => readFilters(params), [params]);

  const [searchText, setSearchText] = useState(filters.q);
  const [lookupType, setLookupType] = useState('phone');
  const [lookupValue, setLookupValue] = useState('');
  const [lookingUp, setLookingUp] = useState(false);
  const [traitName, setTraitName] = useState('');
  const [traitValue, setTraitValue] = useState('');

  const types = useRequest((signal) => api.listIdentityTypes(signal), []);
  const typeOptions = useMemo(() => identityTypeOptions(types.data?.data, t), [types.data, t]);

  const pages = useCursorPages(
    (query: typeof filters, page, signal) => api.listProfiles({ ...page, q: query.q, traits: query.traits }, signal),
    filters,
  );

  const updateParams = (next: { q?: string; traits?: Record<string, string> }) => {
    const q = next.q ?? filters.q;
    const traits = next.traits ?? filters.traits;
    const out = new URLSearchParams();
    if (q.trim()) out.set('q', q.trim());
    for (const [name, value] of Object.entries(traits)) out.set(`${TRAIT_PREFIX}${name}`, value);
    setParams(out);
  };

  const lookup = async () => {
    const value = lookupValue.trim();
    if (!value) {
      void message.warning(t('profiles.lookupEmpty'));
      return;
    }
    setLookingUp(true);
    try {
      const profile = await api.lookupProfile(lookupType, value);
      void navigate(`/profiles/${encodeURIComponent(profile.id)}`);
    } catch (err) {
      if (isApiError(err) && err.status === 404) {
        void message.info(t('profiles.lookupNotFound', { type: identifierTypeLabel(lookupType, t), value }));
      } else {
        void message.error(describeError(err, t));
      }
    } finally {
      setLookingUp(false);
    }
  };

  const addTraitFilter = () => {
    const name = traitName.trim();
    const value = traitValue.trim();
    if (!name || !value) {
      void message.warning(t('profiles.filterNeedsBoth'));
      return;
    }
    updateParams({ traits: { ...filters.traits, [name]: value } });
    setTraitName('');
    setTraitValue('');
  };

  const removeTraitFilter = (name: string) => {
    const { [name]: _removed, ...rest } = filters.traits;
    updateParams({ traits: rest });
  };

  const columns: TableColumnsType<ProfileSummary> = [
    {
      title: t('profiles.colCustomer'),
      key: 'customer',
      render: (_, p) => {
        const name = profileName(p.traits);
        return (
          <Flex vertical gap={2}>
            <Typography.Text strong={Boolean(name)} type={name ? undefined : 'secondary'}>
              <UserOutlined style={{ marginInlineEnd: 6, color: '#8c8c8c' }} />
              {name ?? t('profiles.unnamed')}
            </Typography.Text>
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
      render: (_, p) => <IdentityCell profile={p} type="phone" reveal={reveal} />,
    },
    {
      title: t('profiles.colEmail'),
      key: 'email',
      render: (_, p) => <IdentityCell profile={p} type="email" reveal={reveal} />,
    },
    {
      title: t('profiles.colTags'),
      key: 'tags',
      width: 280,
      render: (_, p) => <TagsCell profile={p} />,
    },
    {
      title: t('profiles.colOrders'),
      key: 'orders',
      align: 'right',
      render: (_, p) => formatNumber(p.computed.order_count),
    },
    {
      title: t('profiles.colSpent'),
      key: 'spent',
      align: 'right',
      render: (_, p) => <span style={{ fontVariantNumeric: 'tabular-nums' }}>{formatMoney(p.computed.total_spent)}</span>,
    },
    {
      title: t('profiles.colLastSeen'),
      key: 'lastSeen',
      render: (_, p) => formatTime(p.computed.last_seen),
    },
    {
      title: t('profiles.colCreated'),
      key: 'created',
      responsive: ['xl'],
      render: (_, p) => formatTime(p.createdAt),
    },
  ];

  const traitEntries = Object.entries(filters.traits);

  return (
    <>
      <PageHeader title={t('profiles.title')} subtitle={t('profiles.subtitle')} />

      <Card style={{ marginBottom: 16 }}>
        <Flex vertical gap={12}>
          <Flex gap={12} wrap align="center">
            <Typography.Text strong style={{ minWidth: 88 }}>
              {t('profiles.lookupTitle')}
            </Typography.Text>
            <Space.Compact style={{ flex: '1 1 420px', maxWidth: 560 }}>
              <Select
                value={lookupType}
                onChange={setLookupType}
                options={typeOptions}
                style={{ width: 170 }}
                popupMatchSelectWidth={false}
                data-testid="lookup-type"
              />
              <Input
                value={lookupValue}
                onChange={(e) => setLookupValue(e.target.value)}
                onPressEnter={() => void lookup()}
                placeholder={t('profiles.lookupPlaceholder')}
                allowClear
                data-testid="lookup-input"
              />
              <Button type="primary" icon={<SearchOutlined />} loading={lookingUp} onClick={() => void lookup()} data-testid="lookup-submit">
                {t('profiles.lookupButton')}
              </Button>
            </Space.Compact>
          </Flex>
          <Flex gap={12} wrap align="center">
            <Typography.Text strong style={{ minWidth: 88 }}>
              {t('profiles.traitFilter')}
            </Typography.Text>
            <Space.Compact style={{ flex: '1 1 420px', maxWidth: 560 }}>
              <AutoComplete
                value={traitName}
                onChange={setTraitName}
                placeholder={t('profiles.traitName')}
                options={COMMON_TRAITS.map((v) => ({ value: v }))}
                filterOption={(input, option) => String(option?.value ?? '').includes(input.trim())}
                style={{ width: 170 }}
                data-testid="trait-filter-name"
              />
              <Input
                value={traitValue}
                onChange={(e) => setTraitValue(e.target.value)}
                onPressEnter={addTraitFilter}
                placeholder={t('profiles.traitValue')}
                data-testid="trait-filter-value"
              />
              <Button icon={<FilterOutlined />} onClick={addTraitFilter} data-testid="trait-filter-apply">
                {t('profiles.addFilter')}
              </Button>
            </Space.Compact>
            {traitEntries.map(([name, value]) => (
              <Tag key={name} closable color="blue" onClose={() => removeTraitFilter(name)} data-testid="trait-filter-tag">
                {name} = {value}
              </Tag>
            ))}
            {traitEntries.length > 1 ? (
              <Button type="link" size="small" onClick={() => updateParams({ traits: {} })}>
                {t('profiles.clearFilters')}
              </Button>
            ) : null}
          </Flex>
        </Flex>
      </Card>

      <Card>
        <Flex justify="space-between" gap={12} wrap style={{ marginBottom: 16 }}>
          <Input.Search
            value={searchText}
            onChange={(e) => setSearchText(e.target.value)}
            onSearch={(q) => updateParams({ q })}
            placeholder={t('profiles.searchPlaceholder')}
            allowClear
            style={{ maxWidth: 360 }}
            data-testid="profile-search"
          />
          <Tooltip title={reveal ? t('common.masked') : t('common.showFull')}>
            <Flex align="center" gap={8}>
              {reveal ? <EyeOutlined /> : <EyeInvisibleOutlined />}
              <Typography.Text>{t('common.showFull')}</Typography.Text>
              <Switch size="small" checked={reveal} onChange={setReveal} data-testid="mask-toggle" />
            </Flex>
          </Tooltip>
        </Flex>
        {pages.error ? <ErrorAlert error={pages.error} onRetry={pages.reload} /> : null}
        <Table<ProfileSummary>
          rowKey="id"
          columns={columns}
          dataSource={pages.rows}
          loading={pages.loading}
          pagination={false}
          size="middle"
          scroll={{ x: 1140 }}
          locale={{ emptyText: t('profiles.empty') }}
          data-testid="profiles-table"
          onRow={(p) =>
            rowProps('profile-row', {
              'data-profile-id': p.id,
              style: { cursor: 'pointer' },
              onClick: () => void navigate(`/profiles/${encodeURIComponent(p.id)}`),
            })
          }
        />
        <CursorPager pages={pages} testIdPrefix="profiles" />
      </Card>
    </>
  );
}
