import { useState } from 'react';
import { Alert, App, Button, Card, Flex, Form, Input, Modal, Select, Table, Tag, Tooltip, Typography, type TableColumnsType } from 'antd';
import { PlusOutlined, ReloadOutlined } from '@ant-design/icons';
import { api, type CreatedWorkspace, type Workspace } from '../api';
import { describeError } from '../components/describe-error';
import { ErrorAlert } from '../components/error-alert';
import { PageHeader } from '../components/page-header';
import { rowProps } from '../components/row-props';
import { DEFAULT_TIME_ZONE } from '../format';
import { useI18n } from '../i18n';
import { useRequest } from '../use-request';
import { useDateTime, useWorkspace } from '../workspace-context';

const TIME_ZONES = [
  'Asia/Shanghai',
  'Asia/Hong_Kong',
  'Asia/Taipei',
  'Asia/Singapore',
  'Asia/Tokyo',
  'Asia/Seoul',
  'Asia/Bangkok',
  'Asia/Kuala_Lumpur',
  'Asia/Dubai',
  'Europe/London',
  'Europe/Paris',
  'Europe/Berlin',
  'America/New_York',
  'America/Los_Angeles',
  'Australia/Sydney',
  'UTC',
];

interface CreateForm {
  name: string;
  timeZone: string;
}

function SecretField({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div>
      <Typography.Text strong>{label}</Typography.Text>
      <Typography.Paragraph
        copyable={{ text: value }}
        data-testid={testId}
        style={{
          marginTop: 6,
          padding: '8px 12px',
          background: '#f5f7fa',
          border: '1px solid #e5e8ef',
          borderRadius: 6,
          fontFamily: 'monospace',
          wordBreak: 'break-all',
        }}
      >
        {value}
      </Typography.Paragraph>
    </div>
  );
}

export function WorkspacesPage() {
  const { t } = useI18n();
  const { message } = App.useApp();
  const formatTime = useDateTime();
  const { me } = useWorkspace();
  const { data, error, loading, reload } = useRequest((signal) => api.listWorkspaces(signal), []);
  const [creating, setCreating] = useState(false);
  const [submitting, setSubmitting] = useState(false);
  const [created, setCreated] = useState<CreatedWorkspace | null>(null);
  const [form] = Form.useForm<CreateForm>();
  const canCreate = me?.instanceAdmin ?? false;

  const submit = async (values: CreateForm) => {
    setSubmitting(true);
    try {
      const result = await api.createWorkspace({ name: values.name.trim(), timeZone: values.timeZone });
      setCreating(false);
      form.resetFields();
      setCreated(result);
      void message.success(t('workspaces.created', { name: result.workspace.name }));
      reload();
    } catch (err) {
      void message.error(describeError(err, t));
    } finally {
      setSubmitting(false);
    }
  };

  const columns: TableColumnsType<Workspace> = [
    {
      title: t('workspaces.colName'),
      dataIndex: 'name',
      render: (name: string, w) => (
        <Flex gap={8} align="center">
          <Typography.Text strong>{name}</Typography.Text>
          {w.id === me?.workspace.id ? (
            <Tag color="blue" style={{ marginInlineEnd: 0 }}>
              {t('workspaces.current')}
            </Tag>
          ) : null}
        </Flex>
      ),
    },
    {
      title: t('workspaces.colId'),
      dataIndex: 'id',
      render: (id: string) => (
        <Typography.Text copyable type="secondary" style={{ fontFamily: 'monospace', fontSize: 12 }}>
          {id}
        </Typography.Text>
      ),
    },
    { title: t('workspaces.colTimeZone'), dataIndex: 'timeZone' },
    { title: t('common.createdAt'), dataIndex: 'createdAt', render: (iso: string) => formatTime(iso) },
  ];

  const createButton = (
    <Button
      type="primary"
      icon={<PlusOutlined />}
      disabled={!canCreate}
      onClick={() => setCreating(true)}
      data-testid="workspace-create"
    >
      {t('workspaces.create')}
    </Button>
  );

  return (
    <>
      <PageHeader
        title={t('workspaces.title')}
        subtitle={t('workspaces.subtitle')}
        extra={
          <>
            <Button icon={<ReloadOutlined />} onClick={reload} loading={loading}>
              {t('common.refresh')}
            </Button>
            {canCreate ? createButton : <Tooltip title={t('workspaces.adminOnly')}>{createButton}</Tooltip>}
          </>
        }
      />
      {error ? <ErrorAlert error={error} onRetry={reload} /> : null}
      <Card>
        <Table<Workspace>
          rowKey="id"
          columns={columns}
          dataSource={data?.data ?? []}
          loading={loading}
          pagination={false}
          size="middle"
          data-testid="workspaces-table"
          onRow={() => rowProps('workspace-row')}
        />
      </Card>

      <Modal
        title={t('workspaces.create')}
        open={creating}
        onCancel={() => setCreating(false)}
        okText={t('workspaces.createOk')}
        cancelText={t('common.cancel')}
        confirmLoading={submitting}
        onOk={() => form.submit()}
        okButtonProps={{ 'data-testid': 'workspace-create-submit' } as Record<string, string>}
        destroyOnHidden
      >
        <Form<CreateForm>
          form={form}
          layout="vertical"
          initialValues={{ timeZone: me?.workspace.timeZone || DEFAULT_TIME_ZONE }}
          onFinish={(values) => void submit(values)}
          style={{ marginTop: 16 }}
        >
          <Form.Item
            name="name"
            label={t('workspaces.name')}
            rules={[{ required: true, whitespace: true, message: t('workspaces.nameRequired') }]}
          >
            <Input placeholder={t('workspaces.namePlaceholder')} maxLength={100} autoFocus data-testid="workspace-name-input" />
          </Form.Item>
          <Form.Item name="timeZone" label={t('workspaces.timeZone')}>
            <Select
              showSearch
              options={TIME_ZONES.map((tz) => ({ value: tz, label: tz }))}
              data-testid="workspace-timezone"
            />
          </Form.Item>
        </Form>
      </Modal>

      <Modal
        title={t('workspaces.keysTitle')}
        open={created !== null}
        closable={false}
        mask={{ closable: false }}
        keyboard={false}
        onOk={() => setCreated(null)}
        okText={t('workspaces.keysSaved')}
        okButtonProps={{ 'data-testid': 'workspace-keys-done' } as Record<string, string>}
        cancelButtonProps={{ style: { display: 'none' } }}
        width={600}
      >
        {created ? (
          <Flex vertical gap={12} data-testid="workspace-keys">
            <Alert type="warning" showIcon title={t('workspaces.keysWarning')} />
            <Typography.Text type="secondary">
              {created.workspace.name} · {created.workspace.id}
            </Typography.Text>
            <SecretField label={t('workspaces.writeKey')} value={created.writeKey} testId="workspace-write-key" />
            <SecretField label={t('workspaces.adminToken')} value={created.adminToken} testId="workspace-admin-token" />
          </Flex>
        ) : null}
      </Modal>
    </>
  );
}
