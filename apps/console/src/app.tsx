import { lazy, useEffect, type ReactNode } from 'react';
import { App as AntApp, ConfigProvider, theme } from 'antd';
import zhCN from 'antd/es/locale/zh_CN';
import enUS from 'antd/es/locale/en_US';
import { BrowserRouter, Navigate, Route, Routes, useLocation, useNavigate } from 'react-router-dom';
import { getToken, setUnauthorizedHandler } from './api';
import { I18nProvider, useI18n } from './i18n';
import { BRAND_COLOR } from './theme';
import { AppLayout } from './components/app-layout';
import { LoginPage } from './pages/login-page';
import { NotFoundPage } from './pages/not-found-page';

// Each page is its own chunk; the login page and the shell load with the entry.
const OverviewPage = lazy(() => import('./pages/overview-page').then((m) => ({ default: m.OverviewPage })));
const ProfilesPage = lazy(() => import('./pages/profiles-page').then((m) => ({ default: m.ProfilesPage })));
const ProfileDetailPage = lazy(() =>
  import('./pages/profile-detail-page').then((m) => ({ default: m.ProfileDetailPage })),
);
const ConflictsPage = lazy(() => import('./pages/conflicts-page').then((m) => ({ default: m.ConflictsPage })));
const PipelinePage = lazy(() => import('./pages/pipeline-page').then((m) => ({ default: m.PipelinePage })));
const IdentityTypesPage = lazy(() =>
  import('./pages/identity-types-page').then((m) => ({ default: m.IdentityTypesPage })),
);
const TagsPage = lazy(() => import('./pages/tags-page').then((m) => ({ default: m.TagsPage })));
const SegmentsPage = lazy(() => import('./pages/segments-page').then((m) => ({ default: m.SegmentsPage })));
const SegmentEditPage = lazy(() => import('./pages/segment-edit-page').then((m) => ({ default: m.SegmentEditPage })));
const SegmentDetailPage = lazy(() =>
  import('./pages/segment-detail-page').then((m) => ({ default: m.SegmentDetailPage })),
);
const LayersPage = lazy(() => import('./pages/layers-page').then((m) => ({ default: m.LayersPage })));
const WorkspacesPage = lazy(() => import('./pages/workspaces-page').then((m) => ({ default: m.WorkspacesPage })));

/** Any 401 from the API (token revoked, wrong workspace) lands here: back to /login, remembering the page. */
function UnauthorizedRedirect() {
  const navigate = useNavigate();
  const location = useLocation();
  useEffect(() => {
    setUnauthorizedHandler(() => {
      if (location.pathname === '/login') return;
      void navigate('/login', { replace: true, state: { from: location.pathname + location.search, expired: true } });
    });
    return () => setUnauthorizedHandler(null);
  }, [navigate, location]);
  return null;
}

function RequireAuth({ children }: { children: ReactNode }) {
  const location = useLocation();
  if (!getToken()) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return children;
}

function LocalizedApp() {
  const { language, t } = useI18n();

  useEffect(() => {
    document.documentElement.lang = language;
    document.title = t('app.title');
  }, [language, t]);

  return (
    <ConfigProvider
      locale={language === 'zh-CN' ? zhCN : enUS}
      // "登录", not "登 录": antd spaces out two-character Chinese button labels by default
      button={{ autoInsertSpace: false }}
      theme={{
        algorithm: theme.defaultAlgorithm,
        token: { colorPrimary: BRAND_COLOR, borderRadius: 6 },
        components: { Layout: { siderBg: '#001529', headerBg: '#ffffff', headerPadding: '0 24px' } },
      }}
    >
      {/* The router wraps AntApp so that message/modal content rendered by App.useApp() (outside the
          routes) may hold a <Link>: the unmerge notice links to the restored profile. */}
      <BrowserRouter>
        <AntApp>
          <UnauthorizedRedirect />
          <Routes>
            <Route path="/login" element={<LoginPage />} />
            <Route
              element={
                <RequireAuth>
                  <AppLayout />
                </RequireAuth>
              }
            >
              <Route index element={<OverviewPage />} />
              <Route path="profiles" element={<ProfilesPage />} />
              <Route path="profiles/:id" element={<ProfileDetailPage />} />
              <Route path="tags" element={<TagsPage />} />
              <Route path="segments" element={<SegmentsPage />} />
              <Route path="segments/new" element={<SegmentEditPage />} />
              <Route path="segments/:id" element={<SegmentDetailPage />} />
              <Route path="segments/:id/edit" element={<SegmentEditPage />} />
              <Route path="layers" element={<LayersPage />} />
              <Route path="identity/conflicts" element={<ConflictsPage />} />
              <Route path="identity/types" element={<IdentityTypesPage />} />
              <Route path="workspaces" element={<WorkspacesPage />} />
              <Route path="pipeline" element={<PipelinePage />} />
              <Route path="*" element={<NotFoundPage />} />
            </Route>
          </Routes>
        </AntApp>
      </BrowserRouter>
    </ConfigProvider>
  );
}

export function App() {
  return (
    <I18nProvider>
      <LocalizedApp />
    </I18nProvider>
  );
}
