import { useMemo, useState } from 'react';
import { Alert, App, Button, Card, Col, Form, Input, Result, Row, Skeleton } from 'antd';
import { ArrowLeftOutlined, SaveOutlined } from '@ant-design/icons';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { api, errorProblems, isApiError, type Problem, type Segment, type SegmentInput } from '../api';
import { ConditionBuilder, useDefinitionEditor } from '../components/condition-builder';
import { describeError } from '../components/describe-error';
import { ErrorAlert } from '../components/error-alert';
import { problemsByField, splitByPrefix } from '../components/form-problems';
import { LiveCountPanel, ProblemsAlert } from '../components/live-count-panel';
import { PageHeader } from '../components/page-header';
import { useBack } from '../use-back';
import { useI18n } from '../i18n';
import { useLiveCount } from '../use-live-count';
import { useRequest } from '../use-request';

interface FormValues {
  name: string;
  description?: string;
}

/** A starting point for a new segment: an empty "all" group. */
const EMPTY_DEFINITION = { version: 1, condition: { all: [] } };

/**
 * A new segment started from elsewhere (`/segments/new?name=…&definition=…`, e.g. a lifecycle stage or an RFM
 * group on the layers page): the name and definition it brings, or nothing when absent or not a definition.
 */
function startingPoint(params: URLSearchParams): { name?: string; definition?: Segment['definition'] } {
  const out: { name?: string; definition?: Segment['definition'] } = {};
  const name = params.get('name')?.trim();
  if (name) out.name = name.slice(0, 200);
  const raw = params.get('definition');
  if (raw) {
    try {
      const parsed = JSON.parse(raw) as unknown;
      if (parsed !== null && typeof parsed === 'object' && 'condition' in parsed) out.definition = parsed as Segment['definition'];
    } catch {
      // not JSON: start empty
    }
  }
  return out;
}

function SegmentEditor({ segment, start = {} }: { segment: Segment | null; start?: ReturnType<typeof startingPoint> }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const back = useBack('/segments');
  const [form] = Form.useForm<FormValues>();
  const editor = useDefinitionEditor(segment?.definition ?? start.definition ?? EMPTY_DEFINITION);
  const live = useLiveCount(editor.isEmpty ? null : editor.definition);
  const catalog = useRequest((signal) => api.audienceCatalog(signal), []);
  const stats = useRequest((signal) => api.stats(signal), []);
  const [saving, setSaving] = useState(false);
  const [saveProblems, setSaveProblems] = useState<Problem[]>([]);
  const [otherProblems, setOtherProblems] = useState<Problem[]>([]);
  const [error, setError] = useState<unknown>(null);

  // the live count validates the same definition the save sends: its problems are the builder's
  const builderProblems = useMemo(() => (live.problems.length ? live.problems : saveProblems), [live.problems, saveProblems]);

  const submit = async (values: FormValues) => {
    if (!editor.definition) {
      void message.error(t('builder.fixLocal'));
      return;
    }
    const input: SegmentInput = {
      name: values.name.trim(),
      description: values.description?.trim() ? values.description.trim() : null,
      definition: editor.definition,
    };
    setSaving(true);
    setError(null);
    setSaveProblems([]);
    setOtherProblems([]);
    try {
      const saved = segment ? await api.updateSegment(segment.id, input) : await api.createSegment(input);
      void message.success(segment ? t('segments.updated', { name: saved.name, n: saved.count }) : t('segments.created', { name: saved.name, n: saved.count }));
      if (saved.warnings?.length) void message.warning(t('tags.savedWithWarnings', { n: saved.warnings.length }));
      void navigate(`/segments/${encodeURIComponent(saved.id)}`, { replace: Boolean(segment) });
    } catch (err) {
      const problems = errorProblems(err);
      if (problems.length) {
        const { under, rest } = splitByPrefix(problems, 'definition');
        const { byField, rest: unplaced } = problemsByField(rest, ['name', 'description']);
        form.setFields([...byField].map(([name, errors]) => ({ name: name as keyof FormValues, errors })));
        setSaveProblems(under);
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

  return (
    <>
      <Button type="link" icon={<ArrowLeftOutlined />} onClick={back} style={{ paddingInline: 0, marginBottom: 8 }}>
        {t('common.back')}
      </Button>
      <PageHeader
        title={segment ? t('segments.editTitle', { name: segment.name }) : t('segments.createTitle')}
        subtitle={t('segments.editSubtitle')}
        extra={
          <Button type="primary" icon={<SaveOutlined />} loading={saving} onClick={() => form.submit()} data-testid="segment-save">
            {t('common.save')}
          </Button>
        }
      />
      {catalog.error ? <ErrorAlert error={catalog.error} onRetry={catalog.reload} /> : null}
      {error ? <ErrorAlert error={error} /> : null}
      {otherProblems.length ? (
        <div style={{ marginBottom: 16 }}>
          <ProblemsAlert problems={otherProblems} />
        </div>
      ) : null}
      <Row gutter={[16, 16]} align="top">
        <Col xs={24} xl={16}>
          <Card style={{ marginBottom: 16 }}>
            <Form<FormValues>
              form={form}
              layout="vertical"
              initialValues={{ name: segment?.name ?? start.name ?? '', description: segment?.description ?? '' }}
              onFinish={(v) => void submit(v)}
              requiredMark={false}
            >
              <Row gutter={16}>
                <Col xs={24} md={10}>
                  <Form.Item name="name" label={t('segments.name')} rules={[{ required: true, whitespace: true, message: t('segments.nameRequired') }]} style={{ marginBottom: 0 }}>
                    <Input maxLength={200} placeholder={t('segments.namePlaceholder')} data-testid="segment-name" />
                  </Form.Item>
                </Col>
                <Col xs={24} md={14}>
                  <Form.Item name="description" label={t('segments.description')} style={{ marginBottom: 0 }}>
                    <Input maxLength={2000} placeholder={t('segments.descriptionPlaceholder')} data-testid="segment-description" />
                  </Form.Item>
                </Col>
              </Row>
            </Form>
          </Card>
          <Card title={t('segments.conditions')}>
            <ConditionBuilder editor={editor} catalog={catalog.data} problems={builderProblems} excludeSegmentId={segment?.id} />
          </Card>
        </Col>
        <Col xs={24} xl={8} style={{ position: 'sticky', top: 88 }}>
          <LiveCountPanel state={live} totalProfiles={stats.data?.profiles} blocked={!editor.definition || editor.isEmpty} />
          {segment ? (
            <Alert type="info" showIcon style={{ marginTop: 16 }} title={t('segments.savedCount', { n: segment.count })} description={t('segments.redefineHint')} />
          ) : null}
        </Col>
      </Row>
    </>
  );
}

/** `/segments/new` and `/segments/:id/edit`. */
export function SegmentEditPage() {
  const { id } = useParams();
  const [params] = useSearchParams();
  const start = useMemo(() => startingPoint(params), [params]);
  const { t } = useI18n();
  const existing = useRequest((signal) => (id ? api.getSegment(id, signal) : Promise.resolve(null)), [id]);

  // Keyed by the query: another prefilled link (or plain /segments/new) while this page is open starts afresh.
  if (!id) return <SegmentEditor key={params.toString()} segment={null} start={start} />;
  if (existing.error) {
    if (isApiError(existing.error) && existing.error.status === 404) {
      return (
        <Result
          status="404"
          title={t('segments.notFound')}
          extra={
            <Link to="/segments">
              <Button type="primary">{t('segments.backToList')}</Button>
            </Link>
          }
        />
      );
    }
    return <ErrorAlert error={existing.error} onRetry={existing.reload} />;
  }
  if (!existing.data || existing.data.id !== id) {
    return (
      <Card>
        <Skeleton active paragraph={{ rows: 8 }} />
      </Card>
    );
  }
  return <SegmentEditor key={existing.data.id} segment={existing.data} />;
}
