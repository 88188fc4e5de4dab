import { Suspense, useMemo, useState, type ReactNode } from 'react';
import { Button, Flex, Layout, Menu, Result, Segmented, Spin, Tag, Tooltip, Typography, type MenuProps } from 'antd';
import {
  ApartmentOutlined,
  ClusterOutlined,
  DashboardOutlined,
  HeatMapOutlined,
  LogoutOutlined,
  MenuFoldOutlined,
  MenuUnfoldOutlined,
  SafetyCertificateOutlined,
  ShopOutlined,
  SyncOutlined,
  TagsOutlined,
  TeamOutlined,
  WarningOutlined,
} from '@ant-design/icons';
import { Link, Outlet, useLocation, useNavigate } from 'react-router-dom';
import { api, clearToken } from '../api';
import { useI18n, type Language } from '../i18n';
import { useRequest } from '../use-request';
import { WorkspaceContext, type WorkspaceContextValue } from '../workspace-context';
import { describeError } from './describe-error';
import { ErrorBoundary } from './error-boundary';

const { Sider, Header, Content } = Layout;

function selectedMenuKey(pathname: string): string {
  if (pathname.startsWith('/profiles')) return 'profiles';
  if (pathname.startsWith('/tags')) return 'tags';
  if (pathname.startsWith('/segments')) return 'segments';
  if (pathname.startsWith('/layers')) return 'layers';
  if (pathname.startsWith('/identity/conflicts')) return 'conflicts';
  if (pathname.startsWith('/identity/types')) return 'identity-types';
  if (pathname.startsWith('/workspaces')) return 'workspaces';
  if (pathname.startsWith('/pipeline')) return 'pipeline';
  return pathname === '/' ? 'overview' : '';
}

function PageFallback() {
  return (
    <Flex justify="center" style={{ padding: 80 }}>
      <Spin size="large" />
    </Flex>
  );
}

/** The signed-in shell: Sider menu, header with workspace / language / logout, and the page. */
export function AppLayout() {
  const { t, language, setLanguage } = useI18n();
  const location = useLocation();
  const navigate = useNavigate();
  const [collapsed, setCollapsed] = useState(false);
  const meRequest = useRequest((signal) => api.me(signal), []);
  const me = meRequest.data ?? null;

  const workspace = useMemo<WorkspaceContextValue>(
    () => ({ me, refreshMe: meRequest.reload }),
    [me, meRequest.reload],
  );

  const item = (key: string, to: string, icon: ReactNode, label: string) => ({
    key,
    icon,
    label: (
      <Link to={to} data-testid={`menu-${key}`}>
        {label}
      </Link>
    ),
  });

  const menuItems: MenuProps['items'] = [
    item('overview', '/', <DashboardOutlined />, t('menu.overview')),
    item('profiles', '/profiles', <TeamOutlined />, t('menu.profiles')),
    {
      type: 'group',
      key: 'audience',
      label: collapsed ? null : t('menu.groupAudience'),
      children: [
        item('tags', '/tags', <TagsOutlined />, t('menu.tags')),
        item('segments', '/segments', <ClusterOutlined />, t('menu.segments')),
        item('layers', '/layers', <HeatMapOutlined />, t('menu.layers')),
      ],
    },
    {
      type: 'group',
      key: 'identity',
      label: collapsed ? null : t('menu.groupIdentity'),
      children: [
        item('conflicts', '/identity/conflicts', <WarningOutlined />, t('menu.conflicts')),
        item('identity-types', '/identity/types', <ApartmentOutlined />, t('menu.identityTypes')),
      ],
    },
    {
      type: 'group',
      key: 'settings',
      label: collapsed ? null : t('menu.groupSettings'),
      children: [item('workspaces', '/workspaces', <ShopOutlined />, t('menu.workspaces')), item('pipeline', '/pipeline', <SyncOutlined />, t('menu.pipeline'))],
    },
  ];

  const logout = () => {
    clearToken();
    void navigate('/login', { replace: true });
  };

  let body: ReactNode;
  if (meRequest.error && !me) {
    body = (
      <Result
        status="warning"
        title={t('layout.loadFailed')}
        subTitle={describeError(meRequest.error, t)}
        extra={
          <Button type="primary" onClick={meRequest.reload}>
            {t('common.retry')}
          </Button>
        }
      />
    );
  } else if (!me) {
    body = (
      <Flex vertical align="center" gap={16} style={{ padding: 80 }}>
        <Spin size="large" />
        <Typography.Text type="secondary">{t('layout.loadingWorkspace')}</Typography.Text>
      </Flex>
    );
  } else {
    body = (
      <ErrorBoundary resetKey={location.pathname}>
        <Suspense fallback={<PageFallback />}>
          <Outlet />
        </Suspense>
      </ErrorBoundary>
    );
  }

  return (
    <WorkspaceContext value={workspace}>
      <Layout style={{ minHeight: '100vh' }}>
        <Sider
          width={216}
          collapsible
          collapsed={collapsed}
          onCollapse={setCollapsed}
          trigger={null}
          style={{ position: 'sticky', top: 0, height: '100vh', overflow: 'auto' }}
        >
          <Link to="/" data-testid="brand">
            <Flex align="center" gap={10} style={{ height: 64, padding: collapsed ? '0 24px' : '0 20px' }}>
              <span
                aria-hidden
                style={{
                  display: 'inline-flex',
                  alignItems: 'center',
                  justifyContent: 'center',
                  width: 30,
                  height: 30,
                  flex: 'none',
                  borderRadius: 8,
                  background: 'linear-gradient(135deg, #3b7bff, #1f5eff)',
                  color: '#fff',
                  fontWeight: 700,
                }}
              >
                私
              </span>
              {collapsed ? null : (
                <span style={{ color: '#fff', fontSize: 17, fontWeight: 600, whiteSpace: 'nowrap' }}>{t('app.name')}</span>
              )}
            </Flex>
          </Link>
          <Menu
            theme="dark"
            mode="inline"
            selectedKeys={[selectedMenuKey(location.pathname)]}
            items={menuItems}
            data-testid="side-menu"
          />
        </Sider>
        <Layout>
          <Header
            style={{
              display: 'flex',
              alignItems: 'center',
              gap: 16,
              borderBottom: '1px solid rgba(5, 5, 5, 0.06)',
              position: 'sticky',
              top: 0,
              zIndex: 10,
            }}
          >
            <Button
              type="text"
              icon={collapsed ? <MenuUnfoldOutlined /> : <MenuFoldOutlined />}
              onClick={() => setCollapsed(!collapsed)}
              aria-label="toggle menu"
            />
            <Flex align="center" gap={8} style={{ minWidth: 0 }}>
              <Typography.Text type="secondary">{t('header.workspace')}</Typography.Text>
              <Typography.Text strong ellipsis data-testid="header-workspace">
                {me?.workspace.name ?? '…'}
              </Typography.Text>
              {me?.instanceAdmin ? (
                <Tooltip title={t('header.instanceAdmin')}>
                  <Tag icon={<SafetyCertificateOutlined />} color="blue" style={{ marginInlineEnd: 0 }}>
                    admin
                  </Tag>
                </Tooltip>
              ) : null}
            </Flex>
            <Flex align="center" gap={12} style={{ marginLeft: 'auto' }}>
              <Segmented<Language>
                size="small"
                aria-label={t('header.language')}
                data-testid="lang-switch"
                value={language}
                onChange={setLanguage}
                options={[
                  { value: 'zh-CN', label: <span data-testid="lang-zh">中文</span> },
                  { value: 'en-US', label: <span data-testid="lang-en">English</span> },
                ]}
              />
              <Button icon={<LogoutOutlined />} onClick={logout} data-testid="logout">
                {t('header.logout')}
              </Button>
            </Flex>
          </Header>
          <Content style={{ padding: 24 }}>{body}</Content>
        </Layout>
      </Layout>
    </WorkspaceContext>
  );
}
