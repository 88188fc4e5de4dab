import { useMemo, useState } from 'react';
import { Alert, App, Button, Col, Flex, Form, Input, InputNumber, Modal, Radio, Row, Select, Typography } from 'antd';
import { api, errorProblems, isApiError, type AudienceCatalog, type Problem, type TagGroup, type TagInput, type TagItem, type TagKind } from '../api';
import { useI18n } from '../i18n';
import { useLiveCount } from '../use-live-count';
import { ConditionBuilder, useDefinitionEditor } from './condition-builder';
import { describeError } from './describe-error';
import { problemsByField, splitByPrefix } from './form-problems';
import { LiveCountPanel, ProblemsAlert } from './live-count-panel';

interface FormValues {
  name: string;
  groupId?: string | null;
  description?: string;
  defaultTtlDays?: number | null;
}

const FIELDS = ['name', 'groupId', 'description', 'defaultTtlDays', 'kind'] as const;

function TagFormDialog({
  tag,
  groups,
  catalog,
  totalProfiles,
  defaultGroupId,
  onClose,
  onSaved,
}: {
  tag: TagItem | null;
  groups: TagGroup[];
  catalog: AudienceCatalog | undefined;
  totalProfiles: number | undefined;
  defaultGroupId: string | undefined;
  onClose: () => void;
  onSaved: (tag: TagItem) => void;
}) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [form] = Form.useForm<FormValues>();
  const [kind, setKind] = useState<TagKind>(tag?.kind ?? 'manual');
  const editor = useDefinitionEditor(tag?.definition ?? undefined);
  const [saving, setSaving] = useState(false);
  const [definitionProblems, setDefinitionProblems] = useState<Problem[]>([]);
  const [otherProblems, setOtherProblems] = useState<Problem[]>([]);
  const [error, setError] = useState<unknown>(null);
  const isRule = kind === 'rule';
  const live = useLiveCount(isRule && !editor.isEmpty ? editor.definition : null);

  // the live count's problems are the same paths the save would report
  const builderProblems = useMemo(() => (live.problems.length ? live.problems : definitionProblems), [live.problems, definitionProblems]);

  const submit = async (values: FormValues) => {
    if (isRule && !editor.definition) {
      void message.error(t('builder.fixLocal'));
      return;
    }
    const input: TagInput = {
      name: values.name.trim(),
      groupId: values.groupId ?? null,
      description: values.description?.trim() ? values.description.trim() : null,
      defaultTtlDays: isRule ? null : (values.defaultTtlDays ?? null),
    };
    if (!tag) input.kind = kind;
    if (isRule && editor.definition) input.definition = editor.definition;
    setSaving(true);
    setError(null);
    setDefinitionProblems([]);
    setOtherProblems([]);
    try {
      const saved = tag ? await api.updateTag(tag.id, input) : await api.createTag(input);
      void message.success(tag ? t('tags.updated', { name: saved.name }) : t('tags.created', { name: saved.name, n: saved.count }));
      if (saved.warnings?.length) void message.warning(t('tags.savedWithWarnings', { n: saved.warnings.length }));
      onSaved(saved);
    } catch (err) {
      const problems = errorProblems(err);
      if (problems.length) {
        const { under, rest } = splitByPrefix(problems, 'definition');
        const { byField, rest: unplaced } = problemsByField(rest, FIELDS);
        form.setFields([...byField].map(([name, errors]) => ({ name: name as keyof FormValues, errors })));
        setDefinitionProblems(under);
        setOtherProblems(unplaced);
      } else if (isApiError(err) && err.status === 409) {
        form.setFields([{ name: 'name', errors: [describeError(err, t)] }]);
      } else {
        setError(err);
      }
    } finally {
      setSaving(false);
    }
  };

  const fields = (
    <>
      <Form.Item name="name" label={t('tags.name')} rules={[{ required: true, whitespace: true, message: t('tags.nameRequired') }]}>
        <Input maxLength={100} placeholder={t('tags.namePlaceholder')} data-testid="tag-name" />
      </Form.Item>
      <Form.Item label={t('tags.kind')} required>
        <Radio.Group
          value={kind}
          onChange={(e) => setKind(e.target.value as TagKind)}
          disabled={tag !== null}
          optionType="button"
          options={(['manual', 'rule', 'imported'] as const).map((k) => ({ value: k, label: <span data-testid={`tag-kind-${k}`}>{t(`tagKind.${k}`)}</span> }))}
        />
        <Typography.Paragraph type="secondary" style={{ margin: '6px 0 0', fontSize: 12 }}>
          {t(`tagKind.${kind}Hint`)}
        </Typography.Paragraph>
      </Form.Item>
      <Form.Item name="groupId" label={t('tags.group')}>
        <Select allowClear placeholder={t('tags.noGroup')} options={groups.map((g) => ({ value: g.id, label: g.name }))} data-testid="tag-group" />
      </Form.Item>
      {isRule ? null : (
        <Form.Item name="defaultTtlDays" label={t('tags.ttl')} extra={t('tags.ttlHint')}>
          <InputNumber min={1} max={36500} precision={0} suffix={t('builder.daysSuffix')} placeholder={t('tags.ttlForever')} style={{ width: 200 }} data-testid="tag-ttl" />
        </Form.Item>
      )}
      <Form.Item name="description" label={t('tags.description')}>
        <Input.TextArea maxLength={1000} autoSize={{ minRows: 2, maxRows: 4 }} />
      </Form.Item>
    </>
  );

  return (
    <Modal
      open
      title={tag ? t('tags.editTitle', { name: tag.name }) : t('tags.createTitle')}
      width={isRule ? 1120 : 560}
      onCancel={onClose}
      footer={null}
      mask={{ closable: false }}
    >
      <Form<FormValues>
        form={form}
        layout="vertical"
        initialValues={{
          name: tag?.name ?? '',
          groupId: tag ? tag.groupId : (defaultGroupId ?? null),
          description: tag?.description ?? '',
          defaultTtlDays: tag?.defaultTtlDays ?? null,
        }}
        onFinish={(v) => void submit(v)}
        requiredMark={false}
        data-testid="tag-form"
      >
        {isRule ? (
          <Row gutter={20}>
            <Col span={7}>{fields}</Col>
            <Col span={17}>
              <Typography.Text strong style={{ display: 'block', marginBottom: 8 }}>
                {t('tags.rule')}
              </Typography.Text>
              <ConditionBuilder editor={editor} catalog={catalog} problems={builderProblems} testId="tag-rule-builder" />
              <div style={{ marginTop: 16 }}>
                <LiveCountPanel state={live} totalProfiles={totalProfiles} blocked={!editor.definition || editor.isEmpty} />
              </div>
            </Col>
          </Row>
        ) : (
          fields
        )}
        {otherProblems.length ? <ProblemsAlert problems={otherProblems} /> : null}
        {error ? <Alert type="error" showIcon title={describeError(error, t)} style={{ marginTop: 12 }} data-testid="error-alert" /> : null}
        <Flex justify="flex-end" gap={8} style={{ marginTop: 16 }}>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          <Button type="primary" htmlType="submit" loading={saving} data-testid="tag-submit">
            {tag ? t('common.save') : t('tags.createOk')}
          </Button>
        </Flex>
      </Form>
    </Modal>
  );
}

/** Create or edit a tag (manual, imported, or a rule tag with the condition builder). */
export function TagFormModal(props: {
  open: boolean;
  tag: TagItem | null;
  groups: TagGroup[];
  catalog: AudienceCatalog | undefined;
  totalProfiles: number | undefined;
  defaultGroupId?: string | undefined;
  onClose: () => void;
  onSaved: (tag: TagItem) => void;
}) {
  if (!props.open) return null;
  return (
    <TagFormDialog
      tag={props.tag}
      groups={props.groups}
      catalog={props.catalog}
      totalProfiles={props.totalProfiles}
      defaultGroupId={props.defaultGroupId}
      onClose={props.onClose}
      onSaved={props.onSaved}
    />
  );
}
