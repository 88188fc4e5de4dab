import { Button, Flex, Select, Typography } from 'antd';
import { LeftOutlined, RightOutlined } from '@ant-design/icons';
import { useI18n } from '../i18n';
import { PAGE_SIZES, type CursorPages } from '../use-cursor-pages';

/** Previous / next pager for cursor-paginated lists (the API has no total count). */
export function CursorPager({ pages, testIdPrefix }: { pages: CursorPages<unknown>; testIdPrefix: string }) {
  const { t } = useI18n();
  return (
    <Flex justify="flex-end" align="center" gap={8} style={{ marginTop: 16 }}>
      <Typography.Text type="secondary" data-testid={`${testIdPrefix}-page`}>
        {t('common.pageN', { page: pages.page })}
      </Typography.Text>
      <Button
        icon={<LeftOutlined />}
        disabled={!pages.hasPrev || pages.loading}
        onClick={pages.prev}
        data-testid={`${testIdPrefix}-prev`}
      >
        {t('common.prevPage')}
      </Button>
      <Button disabled={!pages.hasNext} onClick={pages.next} data-testid={`${testIdPrefix}-next`}>
        {t('common.nextPage')}
        <RightOutlined />
      </Button>
      <Select
        value={pages.limit}
        onChange={pages.setLimit}
        style={{ width: 110 }}
        options={PAGE_SIZES.map((n) => ({ value: n, label: t('common.perPage', { n }) }))}
      />
    </Flex>
  );
}
