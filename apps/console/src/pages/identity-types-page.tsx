import { useState } from 'react';
import { Alert, App, Button, Card, Flex, Form, Input, InputNumber, Modal, Table, Tag, Tooltip, Typography, type TableColumnsType } from 'antd';
import { EditOutlined, InfoCircleOutlined, PlusOutlined, ReloadOutlined } from '@ant-design/icons';
import { api, errorProblems, type IdentityType, type Problem } from '../api';
import { describeError } from '../components/describe-error';
import { ErrorAlert } from '../components/error-alert';
import { problemsByField } from '../components/form-problems';
import { PageHeader } from '../components/page-header';
import { rowProps } from '../components/row-props';
import { identifierTypeLabel } from '../format';
import { useI18n } from '../i18n';
import { useRequest } from '../use-request';

interface TypeForm {
  type: string;
  priority: number | null;
  maxPerProfile: number | null;
}

const TYPE_FIELDS = ['type', 'priority', 'maxPerProfile'] as const;

/**
 * Adds a custom identifier type (a CRM id, a loyalty-card number…) or changes a type's priority and per-person
 * limit. Takes effect from the processor's next batch; what was merged before stays as it is.
 */
function IdentityTypeEditor({ editing, onClose, onSaved }: { editing: IdentityType | 'new'; onClose: () => void; onSaved: () => void }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [form] = Form.useForm<TypeForm>();
  const [saving, setSaving] = useState(false);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [error, setError] = useState<unknown>(null);
  const isNew = editing === 'new';
  const { byField, rest } = problemsByField(problems, TYPE_FIELDS);
  const fieldStatus = (f: (typeof TYPE_FIELDS)[number]) => {
    const list = byField.get(f);
    return list ? { validateStatus: 'error' as const, help: <span data-testid={`id-type-error-${f}`}>{list.join('；')}</span> } : {};
  };

  const save = async (values: TypeForm) => {
    setSaving(true);
    setProblems([]);
    setError(null);
    try {
      const saved = await api.putIdentityType({ type: values.type.trim(), priority: values.priority ?? Number.NaN, maxPerProfile: values.maxPerProfile ?? null });
      void message.success(t('idTypes.saved', { type: saved.type }));
      onSaved();
    } catch (err) {
      const found = errorProblems(err);
      if (found.length) setProblems(found);
      else setError(err);
    } finally {
      setSaving(false);
    }
  };

  return (
    <Modal
      open
      title={isNew ? t('idTypes.addTitle') : t('idTypes.editTitle', { type: editing.type })}
      onCancel={onClose}
      onOk={() => form.submit()}
      okText={t('common.save')}
      cancelText={t('common.cancel')}
      confirmLoading={saving}
      okButtonProps={{ 'data-testid': 'id-type-save' } as Record<string, string>}
      destroyOnHidden
    >
      <Form<TypeForm>
        form={form}
        layout="vertical"
        onFinish={(v) => void save(v)}
        initialValues={isNew ? { type: '', priority: 50, maxPerProfile: null } : { type: editing.type, priority: editing.priority, maxPerProfile: editing.maxPerProfile }}
        data-testid="id-type-form"
      >
        <Form.Item name="type" label={t('idTypes.colCode')} extra={t('idTypes.codeHint')} rules={[{ required: true, message: t('idTypes.codeRequired') }]} {...fieldStatus('type')}>
          <Input disabled={!isNew} placeholder="crm_id" maxLength={40} data-testid="id-type-code" />
        </Form.Item>
        <Form.Item name="priority" label={t('idTypes.colPriority')} extra={t('idTypes.priorityHint')} rules={[{ required: true, message: t('idTypes.priorityRequired') }]} {...fieldStatus('priority')}>
          <InputNumber min={0} max={1000} precision={0} style={{ width: 160 }} data-testid="id-type-priority" />
        </Form.Item>
        <Form.Item name="maxPerProfile" label={t('idTypes.colMax')} extra={t('idTypes.maxFieldHint')} {...fieldStatus('maxPerProfile')}>
          <InputNumber min={1} precision={0} style={{ width: 160 }} placeholder={t('common.unlimited')} data-testid="id-type-max" />
        </Form.Item>
      </Form>
      {rest.length ? <Alert type="error" showIcon title={rest.map((p) => p.message).join('；')} /> : null}
      {error ? <Alert type="error" showIcon title={describeError(error, t)} /> : null}
    </Modal>
  );
}

export function IdentityTypesPage() {
  const { t } = useI18n();
  const { data, error, loading, reload } = useRequest((signal) => api.listIdentityTypes(signal), []);
  const [editing, setEditing] = useState<IdentityType | 'new' | null>(null);
  const rows = [...(data?.data ?? [])].sort((a, b) => b.priority - a.priority);

  const columns: TableColumnsType<IdentityType> = [
    {
      title: t('idTypes.colType'),
      key: 'label',
      render: (_, r) => <Typography.Text strong>{identifierTypeLabel(r.type, t)}</Typography.Text>,
    },
    { title: t('idTypes.colCode'), dataIndex: 'type', render: (type: string) => <Typography.Text code>{type}</Typography.Text> },
    {
      title: t('idTypes.colPriority'),
      dataIndex: 'priority',
      align: 'right',
      sorter: (a, b) => a.priority - b.priority,
      defaultSortOrder: 'descend',
    },
    {
      title: (
        <Tooltip title={t('idTypes.maxHint')}>
          {t('idTypes.colMax')} <InfoCircleOutlined style={{ color: '#8c8c8c' }} />
        </Tooltip>
      ),
      dataIndex: 'maxPerProfile',
      align: 'right',
      render: (max: number | null) => (max === null ? <Typography.Text type="secondary">{t('common.unlimited')}</Typography.Text> : max),
    },
    {
      title: t('idTypes.colBuiltin'),
      dataIndex: 'builtin',
      render: (builtin: boolean) =>
        builtin ? <Tag color="blue">{t('idTypes.builtin')}</Tag> : <Tag color="purple">{t('idTypes.custom')}</Tag>,
    },
    {
      key: 'edit',
      width: 80,
      render: (_, r) => (
        <Button size="small" type="link" icon={<EditOutlined />} onClick={() => setEditing(r)} data-testid="id-type-edit" data-type={r.type}>
          {t('common.edit')}
        </Button>
      ),
    },
  ];

  return (
    <>
      <PageHeader
        title={t('idTypes.title')}
        subtitle={t('idTypes.subtitle')}
        extra={
          <Flex gap={8}>
            <Button icon={<ReloadOutlined />} onClick={reload} loading={loading}>
              {t('common.refresh')}
            </Button>
            <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing('new')} data-testid="id-type-add">
              {t('idTypes.add')}
            </Button>
          </Flex>
        }
      />
      {error ? <ErrorAlert error={error} onRetry={reload} /> : null}
      <Card>
        <Table<IdentityType>
          rowKey="type"
          columns={columns}
          dataSource={rows}
          loading={loading}
          pagination={false}
          size="middle"
          data-testid="identity-types-table"
          onRow={() => rowProps('identity-type-row')}
        />
      </Card>
      {editing ? (
        <IdentityTypeEditor
          editing={editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            reload();
          }}
        />
      ) : null}
    </>
  );
}
