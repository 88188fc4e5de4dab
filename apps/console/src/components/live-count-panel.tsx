import { Alert, Card, Empty, Flex, Progress, Spin, Tag, Tooltip, Typography } from 'antd';
import { ThunderboltOutlined, UserOutlined } from '@ant-design/icons';
import type { Problem } from '../api';
import { displayIdentifier, firstIdentity, formatMoney, formatNumber, profileName } from '../format';
import { useI18n } from '../i18n';
import { BRAND_COLOR } from '../theme';
import type { LiveCountState } from '../use-live-count';
import { ErrorAlert } from './error-alert';
import { ProfileLink } from './profile-link';

/**
 * The live audience count beside a builder: how many match now (and their share of all profiles),
 * how it was counted, up to 10 sample profiles (phones masked), warnings and validation problems.
 */
export function LiveCountPanel({ state, totalProfiles, blocked }: { state: LiveCountState; totalProfiles: number | undefined; blocked?: boolean }) {
  const { t } = useI18n();
  const { result, problems, error, loading } = state;
  const share = result && totalProfiles ? Math.min(100, (result.count / totalProfiles) * 100) : null;

  let body;
  if (blocked) {
    body = <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('liveCount.blocked')} />;
  } else if (error) {
    body = <ErrorAlert error={error} />;
  } else if (problems.length) {
    body = <ProblemsAlert problems={problems} />;
  } else if (!result) {
    body = (
      <Flex justify="center" style={{ padding: 32 }}>
        <Spin />
      </Flex>
    );
  } else {
    body = (
      <Flex vertical gap={16}>
        <Flex align="center" gap={20}>
          <Progress
            type="circle"
            size={92}
            percent={share ?? 0}
            strokeColor={BRAND_COLOR}
            format={() => (share === null ? '—' : `${share < 10 ? share.toFixed(1) : Math.round(share)}%`)}
          />
          <div>
            <Typography.Text type="secondary">{t('liveCount.matching')}</Typography.Text>
            <div style={{ fontSize: 34, fontWeight: 600, lineHeight: 1.2, fontVariantNumeric: 'tabular-nums' }} data-testid="live-count-value">
              {formatNumber(result.count)}
            </div>
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {totalProfiles === undefined ? null : t('liveCount.ofTotal', { total: formatNumber(totalProfiles) })}
            </Typography.Text>
          </div>
        </Flex>
        <Flex align="center" gap={6} wrap>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t('liveCount.method')}
          </Typography.Text>
          <Tooltip title={result.method === 'bitmap' ? t('liveCount.methodBitmapHint') : t('liveCount.methodBulkHint')}>
            <Tag color={result.method === 'bitmap' ? 'green' : 'blue'} icon={<ThunderboltOutlined />} data-testid="live-count-method" data-method={result.method}>
              {result.method === 'bitmap' ? t('liveCount.methodBitmap') : t('liveCount.methodBulk')}
            </Tag>
          </Tooltip>
        </Flex>
        {result.warnings.length ? (
          <Alert
            type="warning"
            showIcon
            data-testid="live-count-warnings"
            title={t('liveCount.warnings')}
            description={
              <ul style={{ margin: 0, paddingInlineStart: 18 }}>
                {result.warnings.map((w, i) => (
                  <li key={i}>
                    {w.message} <Typography.Text type="secondary" style={{ fontSize: 11, fontFamily: 'monospace' }}>({w.path})</Typography.Text>
                  </li>
                ))}
              </ul>
            }
          />
        ) : null}
        <div>
          <Typography.Text strong>{t('liveCount.sample')}</Typography.Text>
          {result.sample.length === 0 ? (
            <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('liveCount.nobody')} />
          ) : (
            <Flex vertical gap={0} style={{ marginTop: 6 }} data-testid="live-count-sample">
              {result.sample.map((p) => {
                const name = profileName(p.traits);
                const phone = firstIdentity(p.identities, 'phone');
                return (
                  <Flex key={p.id} align="center" justify="space-between" gap={8} style={{ padding: '6px 0', borderBottom: '1px solid #f5f5f5' }} data-testid="live-count-sample-row">
                    <Flex align="center" gap={6} style={{ minWidth: 0 }}>
                      <UserOutlined style={{ color: '#8c8c8c' }} />
                      <ProfileLink id={p.id} label={name ?? t('profiles.unnamed')} />
                    </Flex>
                    <Typography.Text type="secondary" style={{ fontVariantNumeric: 'tabular-nums', fontSize: 12, whiteSpace: 'nowrap' }}>
                      {phone ? displayIdentifier('phone', phone.value, false) : '—'} · {formatMoney(p.computed.total_spent)}
                    </Typography.Text>
                  </Flex>
                );
              })}
            </Flex>
          )}
        </div>
      </Flex>
    );
  }

  return (
    <Card
      title={
        <Flex align="center" gap={8}>
          <ThunderboltOutlined style={{ color: BRAND_COLOR }} />
          {t('liveCount.title')}
          {loading && (result || problems.length) ? <Spin size="small" /> : null}
        </Flex>
      }
      data-testid="live-count"
      data-loading={loading ? 'true' : 'false'}
    >
      {body}
    </Card>
  );
}

export function ProblemsAlert({ problems, title }: { problems: readonly Problem[]; title?: string }) {
  const { t } = useI18n();
  return (
    <Alert
      type="error"
      showIcon
      data-testid="problems-alert"
      title={title ?? t('builder.problemsTitle', { n: problems.length })}
      description={
        <ul style={{ margin: 0, paddingInlineStart: 18 }}>
          {problems.map((p, i) => (
            <li key={i}>
              <Typography.Text code>{p.path}</Typography.Text> {p.message}
            </li>
          ))}
        </ul>
      }
    />
  );
}
