import { useState } from 'react';
import { Alert, Button, Card, Flex, Form, Input, Segmented, Typography } from 'antd';
import { KeyOutlined } from '@ant-design/icons';
import { Navigate, useLocation, useNavigate } from 'react-router-dom';
import { api, getToken, isApiError, setToken } from '../api';
import { describeError } from '../components/describe-error';
import { richText } from '../components/rich-text';
import { BRAND_COLOR } from '../theme';
import { useI18n, type Language } from '../i18n';

interface LoginState {
  from?: string;
  expired?: boolean;
}

/** `/login`: one admin-token field. The token is checked against /api/v1/me before it is stored. */
export function LoginPage() {
  const { t, language, setLanguage } = useI18n();
  const navigate = useNavigate();
  const location = useLocation();
  const state = (location.state ?? {}) as LoginState;
  const [token, setTokenValue] = useState('');
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<string | null>(null);

  if (getToken() && !submitting) return <Navigate to={state.from ?? '/'} replace />;

  const submit = async () => {
    const value = token.trim();
    if (!value) {
      setError(t('login.tokenRequired'));
      return;
    }
    setSubmitting(true);
    setError(null);
    try {
      await api.meWithToken(value);
      setToken(value);
      const target = state.from && state.from !== '/login' ? state.from : '/';
      void navigate(target, { replace: true });
    } catch (err) {
      setError(isApiError(err) && err.status === 401 ? t('login.invalid') : describeError(err, t));
    } finally {
      setSubmitting(false);
    }
  };

  return (
    <Flex
      vertical
      align="center"
      justify="center"
      style={{ minHeight: '100vh', padding: 24, background: 'linear-gradient(160deg, #eef3ff 0%, #f7f9fc 55%, #ffffff 100%)' }}
    >
      <Flex justify="flex-end" style={{ position: 'fixed', top: 16, right: 24 }}>
        <Segmented<Language>
          size="small"
          data-testid="lang-switch"
          value={language}
          onChange={setLanguage}
          options={[
            { value: 'zh-CN', label: <span data-testid="lang-zh">中文</span> },
            { value: 'en-US', label: <span data-testid="lang-en">English</span> },
          ]}
        />
      </Flex>
      <Card style={{ width: 440, maxWidth: '100%', boxShadow: '0 8px 24px rgba(31, 94, 255, 0.08)' }}>
        <Flex vertical align="center" gap={8} style={{ marginBottom: 24 }}>
          <span
            aria-hidden
            style={{
              display: 'inline-flex',
              alignItems: 'center',
              justifyContent: 'center',
              width: 48,
              height: 48,
              borderRadius: 12,
              background: BRAND_COLOR,
              color: '#fff',
              fontSize: 24,
              fontWeight: 700,
            }}
          >
            私
          </span>
          <Typography.Title level={3} style={{ margin: 0 }}>
            {t('app.name')}
          </Typography.Title>
          <Typography.Text type="secondary">{t('login.subtitle')}</Typography.Text>
        </Flex>
        {state.expired && !error ? (
          <Alert type="warning" showIcon title={t('login.sessionExpired')} style={{ marginBottom: 16 }} />
        ) : null}
        {error ? (
          <Alert type="error" showIcon title={error} style={{ marginBottom: 16 }} data-testid="login-error" />
        ) : null}
        <Form layout="vertical" onFinish={() => void submit()} requiredMark={false}>
          <Form.Item
            label={t('login.tokenLabel')}
            htmlFor="admin-token"
            extra={richText(t('login.hint'), { command: <Typography.Text code>npx siyu credentials</Typography.Text> })}
          >
            <Input.Password
              id="admin-token"
              size="large"
              autoFocus
              autoComplete="off"
              prefix={<KeyOutlined />}
              placeholder={t('login.tokenPlaceholder')}
              value={token}
              onChange={(e) => setTokenValue(e.target.value)}
              data-testid="login-token-input"
            />
          </Form.Item>
          <Button type="primary" htmlType="submit" size="large" block loading={submitting} data-testid="login-submit">
            {t('login.submit')}
          </Button>
        </Form>
      </Card>
    </Flex>
  );
}
