/**
 * The visual condition builder: nested all / any groups of typed rules (traits, computed traits,
 * tags, behaviour, did-not-do, sequences, segments, lifecycle, RFM), with a JSON view for power
 * users. The server's validation problems are shown under the rule or group they point at.
 */
import { useCallback, useMemo, useState, type ReactNode } from 'react';
import {
  Alert,
  AutoComplete,
  Button,
  Dropdown,
  Flex,
  Input,
  InputNumber,
  Segmented,
  Select,
  Switch,
  Tag,
  Tooltip,
  Typography,
  type MenuProps,
} from 'antd';
import {
  ApartmentOutlined,
  ArrowRightOutlined,
  CalculatorOutlined,
  CloseOutlined,
  CodeOutlined,
  DeleteOutlined,
  FieldTimeOutlined,
  FilterOutlined,
  FundOutlined,
  HeatMapOutlined,
  IdcardOutlined,
  NodeIndexOutlined,
  PlusOutlined,
  StopOutlined,
  TagOutlined,
  TeamOutlined,
  ThunderboltOutlined,
} from '@ant-design/icons';
import { LIFECYCLE_STAGES, RFM_SEGMENTS, type AudienceCatalog, type ConditionDefinitionJson, type Problem } from '../api';
import {
  COMPUTED_TRAITS,
  MEASURE_OPS,
  MONEY_COMPUTED,
  RULE_KINDS,
  coerceText,
  computedType,
  fenToYuan,
  fromDefinition,
  hasUnfinishedRule,
  newGroup,
  newRule,
  opsForType,
  placeProblems,
  toDefinition,
  updateNode,
  valueForOp,
  valueShape,
  yuanToFen,
  type BuilderNode,
  type ComparisonOp,
  type GroupNode,
  type MeasureFn,
  type PropertyFilterDraft,
  type RuleKind,
  type RuleNode,
  type ValueType,
  type WindowDraft,
  type WindowType,
} from '../conditions';
import { useI18n, type Translate } from '../i18n';
import { comparisonOpLabel, computedLabel, lifecycleLabel, rfmSegmentLabel, ruleKindLabel } from './condition-labels';

// ---------------------------------------------------------------------------------------------
// Editor state (visual tree or JSON text)
// ---------------------------------------------------------------------------------------------

export type EditorMode = 'visual' | 'json';

export interface DefinitionEditor {
  root: GroupNode;
  setRoot: (root: GroupNode) => void;
  mode: EditorMode;
  /** Switches views; a JSON text that does not parse keeps the JSON view and returns the parse error. */
  switchMode: (mode: EditorMode) => string | null;
  jsonText: string;
  setJsonText: (text: string) => void;
  /** What to send, or null while something cannot be written yet (a JSON text that does not parse). */
  definition: ConditionDefinitionJson | null;
  /**
   * The visual tree has no condition yet, or a rule still lacks its trait, event, tag… (nothing worth counting
   * yet: a row just added is not an error).
   */
  isEmpty: boolean;
  /** Each builder node's JSON path (visual view only). */
  paths: ReadonlyMap<string, string>;
  /** Problems found locally, keyed by builder node (or `json` for the JSON view). */
  localProblems: ReadonlyMap<string, string>;
  /** Replaces everything with a stored definition (visual view). */
  reset: (definition: unknown) => void;
}

const pretty = (x: unknown) => JSON.stringify(x, null, 2);

/** State of one definition being edited; `pathPrefix` is where the definition sits in the request body. */
export function useDefinitionEditor(initial: unknown, pathPrefix = 'definition'): DefinitionEditor {
  const [root, setRoot] = useState<GroupNode>(() => fromDefinition(initial));
  const [mode, setMode] = useState<EditorMode>('visual');
  const [jsonText, setJsonText] = useState('');

  const serialized = useMemo(() => toDefinition(root, pathPrefix), [root, pathPrefix]);
  const parsedJson = useMemo(() => {
    if (mode !== 'json') return null;
    try {
      return { ok: true as const, value: JSON.parse(jsonText) as unknown };
    } catch (err) {
      return { ok: false as const, error: err instanceof Error ? err.message : String(err) };
    }
  }, [mode, jsonText]);

  const switchMode = useCallback(
    (next: EditorMode): string | null => {
      if (next === mode) return null;
      if (next === 'json') {
        setJsonText(pretty(serialized.definition));
        setMode('json');
        return null;
      }
      if (parsedJson && !parsedJson.ok) return parsedJson.error;
      setRoot(fromDefinition(parsedJson?.value));
      setMode('visual');
      return null;
    },
    [mode, serialized, parsedJson],
  );

  const reset = useCallback((definition: unknown) => {
    setRoot(fromDefinition(definition));
    setMode('visual');
  }, []);

  let definition: ConditionDefinitionJson | null;
  let localProblems: ReadonlyMap<string, string>;
  if (mode === 'json') {
    definition = parsedJson?.ok ? (parsedJson.value as ConditionDefinitionJson) : null;
    localProblems = parsedJson && !parsedJson.ok ? new Map([['json', parsedJson.error]]) : new Map();
  } else {
    localProblems = serialized.localProblems;
    definition = localProblems.size ? null : serialized.definition;
  }
  return {
    root,
    setRoot,
    mode,
    switchMode,
    jsonText,
    setJsonText,
    definition,
    isEmpty: mode === 'visual' && (root.children.length === 0 || hasUnfinishedRule(root)),
    paths: mode === 'visual' ? serialized.paths : new Map(),
    localProblems,
    reset,
  };
}

// ---------------------------------------------------------------------------------------------
// Builder
// ---------------------------------------------------------------------------------------------

interface BuilderContext {
  t: Translate;
  catalog: AudienceCatalog | undefined;
  excludeSegmentId: string | undefined;
  problems: ReadonlyMap<string, Problem[]>;
  local: ReadonlyMap<string, string>;
  update: (key: string, fn: (node: BuilderNode) => BuilderNode | null) => void;
}

const KIND_ICONS: Record<RuleKind, ReactNode> = {
  trait: <IdcardOutlined />,
  computed: <CalculatorOutlined />,
  tag: <TagOutlined />,
  event: <ThunderboltOutlined />,
  not_done: <StopOutlined />,
  sequence: <NodeIndexOutlined />,
  segment: <TeamOutlined />,
  lifecycle: <FundOutlined />,
  rfm_segment: <HeatMapOutlined />,
  rfm: <HeatMapOutlined />,
  json: <CodeOutlined />,
};

const KIND_COLORS: Record<RuleKind, string> = {
  trait: 'blue',
  computed: 'cyan',
  tag: 'geekblue',
  event: 'purple',
  not_done: 'magenta',
  sequence: 'volcano',
  segment: 'green',
  lifecycle: 'gold',
  rfm_segment: 'orange',
  rfm: 'orange',
  json: 'default',
};

function ProblemList({ problems, local, testId = 'rule-problems' }: { problems: Problem[] | undefined; local?: string | undefined; testId?: string }) {
  const { t } = useI18n();
  if (!problems?.length && !local) return null;
  return (
    <Flex vertical gap={2} data-testid={testId} style={{ marginTop: 6 }}>
      {local ? (
        <Typography.Text type="danger" style={{ fontSize: 12 }}>
          {t('builder.jsonInvalid', { message: local })}
        </Typography.Text>
      ) : null}
      {problems?.map((p, i) => (
        <Typography.Text key={i} type="danger" style={{ fontSize: 12 }}>
          {p.message}{' '}
          <Typography.Text type="secondary" style={{ fontSize: 11, fontFamily: 'monospace' }}>
            ({p.path})
          </Typography.Text>
        </Typography.Text>
      ))}
    </Flex>
  );
}

/** Value editor for a comparison: its shape follows the op; money shows yuan and stores fen. */
function ValueInput(props: { op: ComparisonOp; type: ValueType | null | undefined; money?: boolean; value: unknown; onChange: (v: unknown) => void }) {
  const { t } = useI18n();
  const { op, type, money = false, value, onChange } = props;
  const shape = valueShape(op);
  if (shape === 'none') return null;

  if (shape === 'days') {
    const days = typeof value === 'object' && value !== null && 'days' in value ? (value as { days: unknown }).days : null;
    return (
      <InputNumber
        min={op === 'anniversary_within_next' ? 0 : 1}
        max={op === 'anniversary_within_next' ? 366 : undefined}
        precision={0}
        value={typeof days === 'number' ? days : null}
        onChange={(n) => onChange({ days: n })}
        suffix={t('builder.daysWithin')}
        style={{ width: 130 }}
        data-testid="rule-value"
      />
    );
  }

  const single = (v: unknown, set: (v: unknown) => void, testId: string, placeholder?: string) => {
    if (money) {
      return (
        <InputNumber
          min={0}
          precision={2}
          prefix="¥"
          value={fenToYuan(v)}
          onChange={(n) => set(yuanToFen(n))}
          placeholder={placeholder ?? t('builder.amountPlaceholder')}
          style={{ width: 150 }}
          data-testid={testId}
        />
      );
    }
    if (type === 'number') {
      return (
        <InputNumber
          value={typeof v === 'number' ? v : null}
          onChange={(n) => set(n ?? undefined)}
          placeholder={placeholder ?? t('builder.numberPlaceholder')}
          style={{ width: 130 }}
          data-testid={testId}
        />
      );
    }
    if (type === 'boolean' && shape === 'scalar') {
      return (
        <Select
          value={typeof v === 'boolean' ? String(v) : undefined}
          onChange={(s: string) => set(s === 'true')}
          options={[
            { value: 'true', label: t('builder.true') },
            { value: 'false', label: t('builder.false') },
          ]}
          placeholder={t('builder.choose')}
          style={{ width: 110 }}
          data-testid={testId}
        />
      );
    }
    if (type === 'date' && shape !== 'text') {
      return (
        <Input
          type="date"
          value={typeof v === 'string' ? v.slice(0, 10) : ''}
          onChange={(e) => set(e.target.value || undefined)}
          style={{ width: 160 }}
          data-testid={testId}
        />
      );
    }
    return (
      <Input
        value={v === undefined || v === null ? '' : String(v)}
        onChange={(e) => set(coerceText(e.target.value, type, shape))}
        placeholder={placeholder ?? t('builder.valuePlaceholder')}
        style={{ width: 170 }}
        data-testid={testId}
      />
    );
  };

  if (shape === 'range') {
    const pair = Array.isArray(value) ? value : [null, null];
    return (
      <Flex align="center" gap={6}>
        {single(pair[0], (v) => onChange([v ?? null, pair[1] ?? null]), 'rule-value-low', t('builder.low'))}
        <Typography.Text type="secondary">{t('builder.to')}</Typography.Text>
        {single(pair[1], (v) => onChange([pair[0] ?? null, v ?? null]), 'rule-value-high', t('builder.high'))}
      </Flex>
    );
  }

  if (shape === 'list') {
    const list = Array.isArray(value) ? value : [];
    const shown = list.map((v) => (money && typeof v === 'number' ? String(v / 100) : String(v)));
    return (
      <Select
        mode="tags"
        value={shown}
        onChange={(vals: string[]) =>
          onChange(vals.map((s) => (money ? (yuanToFen(Number(s)) ?? s) : coerceText(s, type === 'array' ? 'string' : type, 'scalar'))))
        }
        tokenSeparators={[',', '，']}
        open={false}
        suffixIcon={null}
        placeholder={t('builder.listPlaceholder')}
        style={{ minWidth: 220 }}
        data-testid="rule-value"
      />
    );
  }

  return single(value, onChange, 'rule-value');
}

function OpSelect<T extends string>({ value, ops, onChange, labels }: { value: T; ops: readonly T[]; onChange: (op: T) => void; labels: (op: T) => string }) {
  return (
    <Select<T>
      value={value}
      onChange={onChange}
      options={ops.map((op) => ({ value: op, label: labels(op) }))}
      popupMatchSelectWidth={false}
      style={{ width: 118 }}
      data-testid="rule-op"
    />
  );
}

function WindowInput({ value, onChange }: { value: WindowDraft; onChange: (w: WindowDraft) => void }) {
  const { t } = useI18n();
  return (
    <Flex align="center" gap={6} wrap>
      <Select<WindowType>
        value={value.type}
        onChange={(type) => onChange({ ...value, type })}
        options={(['last_days', 'between', 'ever'] as const).map((w) => ({ value: w, label: t(`window.${w}`) }))}
        style={{ width: 118 }}
        data-testid="rule-window"
      />
      {value.type === 'last_days' ? (
        <InputNumber
          min={1}
          precision={0}
          value={value.days}
          onChange={(days) => onChange({ ...value, days })}
          suffix={t('builder.daysSuffix')}
          style={{ width: 120 }}
          data-testid="rule-window-days"
        />
      ) : null}
      {value.type === 'between' ? (
        <>
          <Input type="date" value={value.from.slice(0, 10)} onChange={(e) => onChange({ ...value, from: e.target.value })} style={{ width: 150 }} />
          <Typography.Text type="secondary">{t('builder.to')}</Typography.Text>
          <Input type="date" value={value.to.slice(0, 10)} onChange={(e) => onChange({ ...value, to: e.target.value })} style={{ width: 150 }} />
        </>
      ) : null}
    </Flex>
  );
}

function EventInput({ value, onChange, catalog, testId = 'rule-event' }: { value: string; onChange: (v: string) => void; catalog: AudienceCatalog | undefined; testId?: string }) {
  const { t } = useI18n();
  const options = useMemo(() => (catalog?.events ?? []).map((e) => ({ value: e })), [catalog]);
  return (
    <AutoComplete
      value={value}
      onChange={onChange}
      options={options}
      filterOption={(input, option) => String(option?.value ?? '').toLowerCase().includes(input.trim().toLowerCase())}
      placeholder={t('builder.eventPlaceholder')}
      style={{ width: 200 }}
      data-testid={testId}
    />
  );
}

function WhereFilters({ where, onChange }: { where: PropertyFilterDraft[]; onChange: (w: PropertyFilterDraft[]) => void }) {
  const { t } = useI18n();
  const set = (i: number, f: PropertyFilterDraft) => onChange(where.map((x, j) => (j === i ? f : x)));
  return (
    <Flex vertical gap={6} style={{ width: '100%' }}>
      {where.map((f, i) => (
        <Flex key={i} align="center" gap={6} wrap data-testid="rule-where">
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            <FilterOutlined /> {t('builder.where')}
          </Typography.Text>
          <Input value={f.property} onChange={(e) => set(i, { ...f, property: e.target.value })} placeholder={t('builder.propertyPlaceholder')} style={{ width: 140 }} />
          <OpSelect value={f.op} ops={opsForType(undefined).filter((op) => op !== 'anniversary_within_next')} onChange={(op) => set(i, { ...f, op, value: valueForOp(op, f.op, f.value) })} labels={(op) => comparisonOpLabel(op, t)} />
          <ValueInput op={f.op} type={undefined} value={f.value} onChange={(value) => set(i, { ...f, value })} />
          <Button type="text" size="small" icon={<CloseOutlined />} onClick={() => onChange(where.filter((_, j) => j !== i))} aria-label={t('builder.remove')} />
        </Flex>
      ))}
      <div>
        <Button type="link" size="small" icon={<PlusOutlined />} style={{ paddingInline: 0 }} onClick={() => onChange([...where, { property: '', op: 'eq', value: '' }])} data-testid="rule-add-where">
          {t('builder.addWhere')}
        </Button>
      </div>
    </Flex>
  );
}

const SCORE_OPTIONS = [5, 4, 3, 2, 1].map((n) => ({ value: n, label: String(n) }));

/** The fields of one rule. */
function RuleFields({ node, ctx }: { node: RuleNode; ctx: BuilderContext }) {
  const { t, catalog } = ctx;
  const set = (patch: Partial<RuleNode>) => ctx.update(node.key, (n) => ({ ...n, ...patch }) as BuilderNode);

  switch (node.kind) {
    case 'trait': {
      const type = catalog?.traits.find((x) => x.name === node.trait)?.type ?? undefined;
      return (
        <>
          <AutoComplete
            value={node.trait}
            onChange={(trait: string) => set({ trait })}
            options={(catalog?.traits ?? []).map((x) => ({ value: x.name, label: <span>{x.name} <Typography.Text type="secondary" style={{ fontSize: 12 }}>{x.type ?? ''}</Typography.Text></span> }))}
            filterOption={(input, option) => String(option?.value ?? '').toLowerCase().includes(input.trim().toLowerCase())}
            placeholder={t('builder.traitPlaceholder')}
            style={{ width: 170 }}
            data-testid="rule-trait"
          />
          <OpSelect value={node.op} ops={opsForType(type)} onChange={(op) => set({ op, value: valueForOp(op, node.op, node.value) })} labels={(op) => comparisonOpLabel(op, t)} />
          <ValueInput op={node.op} type={type} value={node.value} onChange={(value) => set({ value })} />
        </>
      );
    }
    case 'computed': {
      const type = computedType(node.computed);
      const known = Object.keys(COMPUTED_TRAITS);
      return (
        <>
          <Select
            value={node.computed}
            onChange={(computed: string) => {
              const nextType = computedType(computed);
              const op = opsForType(nextType).includes(node.op) ? node.op : (opsForType(nextType)[0] ?? 'eq');
              set({ computed, op, value: nextType === type && MONEY_COMPUTED.has(computed) === MONEY_COMPUTED.has(node.computed) ? node.value : valueForOp(op, 'exists', undefined) });
            }}
            options={[...known, ...(known.includes(node.computed) ? [] : [node.computed])].map((name) => ({ value: name, label: computedLabel(name, t) }))}
            showSearch={{ optionFilterProp: 'label' }}
            popupMatchSelectWidth={false}
            style={{ width: 150 }}
            data-testid="rule-computed"
          />
          <OpSelect value={node.op} ops={opsForType(type)} onChange={(op) => set({ op, value: valueForOp(op, node.op, node.value) })} labels={(op) => comparisonOpLabel(op, t)} />
          <ValueInput op={node.op} type={type} money={MONEY_COMPUTED.has(node.computed)} value={node.value} onChange={(value) => set({ value })} />
        </>
      );
    }
    case 'tag': {
      const tags = catalog?.tags ?? [];
      const options = tags.map((x) => ({ value: x.id, label: x.name }));
      if (node.tag && !tags.some((x) => x.id === node.tag || x.name === node.tag)) options.push({ value: node.tag, label: node.tag });
      const byName = tags.find((x) => x.name === node.tag);
      return (
        <>
          <Select
            value={node.has ? 'has' : 'not'}
            onChange={(v: string) => set({ has: v === 'has' })}
            options={[
              { value: 'has', label: t('builder.tagHas') },
              { value: 'not', label: t('builder.tagHasNot') },
            ]}
            style={{ width: 96 }}
            data-testid="rule-tag-has"
          />
          <Select
            value={node.tag ? (byName?.id ?? node.tag) : undefined}
            onChange={(tag: string) => set({ tag })}
            options={options}
            showSearch={{ optionFilterProp: 'label' }}
            placeholder={t('builder.tagPlaceholder')}
            popupMatchSelectWidth={false}
            notFoundContent={t('builder.noTags')}
            style={{ minWidth: 180 }}
            data-testid="rule-tag-select"
          />
        </>
      );
    }
    case 'event': {
      const fns: MeasureFn[] = ['count', 'sum', 'avg', 'min', 'max'];
      return (
        <Flex vertical gap={6} style={{ flex: 1 }}>
          <Flex align="center" gap={6} wrap>
            <WindowInput value={node.window} onChange={(window) => set({ window })} />
            <EventInput value={node.event} onChange={(event) => set({ event })} catalog={catalog} />
            <Select<MeasureFn>
              value={node.measure.fn}
              onChange={(fn) => set({ measure: { ...node.measure, fn } })}
              options={fns.map((fn) => ({ value: fn, label: t(`measure.${fn}`) }))}
              style={{ width: 96 }}
              data-testid="rule-measure"
            />
            {node.measure.fn === 'count' ? null : (
              <Input
                value={node.measure.property}
                onChange={(e) => set({ measure: { ...node.measure, property: e.target.value } })}
                placeholder={t('builder.measurePropertyPlaceholder')}
                style={{ width: 130 }}
                data-testid="rule-measure-property"
              />
            )}
            <OpSelect value={node.op} ops={MEASURE_OPS} onChange={(op) => set({ op, value: op === 'between' ? [null, null] : Array.isArray(node.value) ? undefined : node.value })} labels={(op) => comparisonOpLabel(op, t)} />
            <ValueInput op={node.op} type="number" value={node.value} onChange={(value) => set({ value })} />
          </Flex>
          <WhereFilters where={node.where} onChange={(where) => set({ where })} />
        </Flex>
      );
    }
    case 'not_done':
      return (
        <Flex vertical gap={6} style={{ flex: 1 }}>
          <Flex align="center" gap={6} wrap>
            <WindowInput value={node.window} onChange={(window) => set({ window })} />
            <Typography.Text>{t('builder.notDoneVerb')}</Typography.Text>
            <EventInput value={node.event} onChange={(event) => set({ event })} catalog={catalog} />
          </Flex>
          <WhereFilters where={node.where} onChange={(where) => set({ where })} />
        </Flex>
      );
    case 'sequence':
      return (
        <Flex vertical gap={6} style={{ flex: 1 }}>
          <Flex align="center" gap={6} wrap>
            {node.steps.map((step, i) => (
              <Flex key={i} align="center" gap={4}>
                {i > 0 ? <ArrowRightOutlined style={{ color: '#8c8c8c' }} /> : null}
                <EventInput
                  value={step}
                  onChange={(v) => set({ steps: node.steps.map((s, j) => (j === i ? v : s)) })}
                  catalog={catalog}
                  testId="rule-sequence-step"
                />
                {node.steps.length > 2 ? (
                  <Button type="text" size="small" icon={<CloseOutlined />} onClick={() => set({ steps: node.steps.filter((_, j) => j !== i) })} aria-label={t('builder.remove')} />
                ) : null}
              </Flex>
            ))}
            <Button size="small" icon={<PlusOutlined />} onClick={() => set({ steps: [...node.steps, ''] })}>
              {t('builder.addStep')}
            </Button>
          </Flex>
          <Flex align="center" gap={6} wrap>
            <Typography.Text type="secondary">{t('builder.withinDays')}</Typography.Text>
            <InputNumber min={1} precision={0} value={node.withinDays} onChange={(withinDays) => set({ withinDays })} placeholder={t('common.unlimited')} suffix={t('builder.daysSuffix')} style={{ width: 120 }} />
            <Typography.Text type="secondary">{t('builder.sequenceWindow')}</Typography.Text>
            <WindowInput value={node.window} onChange={(window) => set({ window })} />
          </Flex>
        </Flex>
      );
    case 'segment': {
      const segments = (catalog?.segments ?? []).filter((s) => s.id !== ctx.excludeSegmentId);
      return (
        <>
          <Select
            value={node.in ? 'in' : 'out'}
            onChange={(v: string) => set({ in: v === 'in' })}
            options={[
              { value: 'in', label: t('builder.segmentIn') },
              { value: 'out', label: t('builder.segmentNotIn') },
            ]}
            style={{ width: 96 }}
          />
          <Select
            value={node.segment || undefined}
            onChange={(segment: string) => set({ segment })}
            options={segments.map((s) => ({ value: s.id, label: s.name }))}
            showSearch={{ optionFilterProp: 'label' }}
            placeholder={t('builder.segmentPlaceholder')}
            notFoundContent={t('builder.noSegments')}
            popupMatchSelectWidth={false}
            style={{ minWidth: 200 }}
            data-testid="rule-segment-select"
          />
        </>
      );
    }
    case 'lifecycle':
      return (
        <>
          <Typography.Text>{t('builder.isOneOf')}</Typography.Text>
          <Select
            mode="multiple"
            value={node.stages}
            onChange={(stages: string[]) => set({ stages })}
            options={LIFECYCLE_STAGES.map((s) => ({ value: s, label: lifecycleLabel(s, t) }))}
            style={{ minWidth: 260 }}
            data-testid="rule-lifecycle"
          />
        </>
      );
    case 'rfm_segment':
      return (
        <>
          <Typography.Text>{t('builder.isOneOf')}</Typography.Text>
          <Select
            mode="multiple"
            value={node.segments}
            onChange={(segments: string[]) => set({ segments })}
            options={RFM_SEGMENTS.map((s) => ({ value: s, label: rfmSegmentLabel(s, t) }))}
            style={{ minWidth: 300 }}
            data-testid="rule-rfm-segment"
          />
        </>
      );
    case 'rfm':
      return (
        <>
          {(['r', 'f', 'm'] as const).map((d) => (
            <Flex key={d} align="center" gap={4}>
              <Typography.Text strong>{d.toUpperCase()}</Typography.Text>
              <Select
                mode="multiple"
                value={node[d]}
                onChange={(scores: number[]) => set({ [d]: scores } as Partial<RuleNode>)}
                options={SCORE_OPTIONS}
                placeholder={t('builder.anyScore')}
                style={{ minWidth: 120 }}
              />
            </Flex>
          ))}
        </>
      );
    case 'json':
      return (
        <Input.TextArea
          value={node.text}
          onChange={(e) => set({ text: e.target.value })}
          autoSize={{ minRows: 3, maxRows: 14 }}
          spellCheck={false}
          style={{ fontFamily: 'monospace', fontSize: 12, flex: 1, minWidth: 280 }}
          data-testid="rule-json"
        />
      );
  }
}

function NegateToggle({ node, ctx }: { node: BuilderNode; ctx: BuilderContext }) {
  const { t } = ctx;
  return (
    <Tooltip title={t('builder.negateHint')}>
      <Flex align="center" gap={4}>
        <Switch size="small" checked={node.negate} onChange={(negate) => ctx.update(node.key, (n) => ({ ...n, negate }))} data-testid="node-negate" />
        <Typography.Text type={node.negate ? 'danger' : 'secondary'} style={{ fontSize: 12 }}>
          {t('builder.negate')}
        </Typography.Text>
      </Flex>
    </Tooltip>
  );
}

function RuleView({ node, ctx }: { node: RuleNode; ctx: BuilderContext }) {
  const { t } = ctx;
  const problems = ctx.problems.get(node.key);
  const local = ctx.local.get(node.key);
  const bad = Boolean(problems?.length || local);
  return (
    <div
      data-testid="rule"
      data-kind={node.kind}
      style={{
        padding: '10px 12px',
        background: '#fff',
        border: `1px solid ${bad ? '#ffccc7' : '#f0f0f0'}`,
        borderRadius: 8,
        boxShadow: '0 1px 2px rgba(0,0,0,0.03)',
      }}
    >
      <Flex align="flex-start" gap={8}>
        <Tag color={KIND_COLORS[node.kind]} icon={KIND_ICONS[node.kind]} style={{ marginInlineEnd: 0, marginTop: 5, flex: 'none' }}>
          {ruleKindLabel(node.kind, t)}
        </Tag>
        {node.negate ? (
          <Tag color="red" style={{ marginInlineEnd: 0, marginTop: 5, flex: 'none' }}>
            {t('builder.notPrefix')}
          </Tag>
        ) : null}
        <Flex align="center" gap={6} wrap style={{ flex: 1, minWidth: 0 }}>
          <RuleFields node={node} ctx={ctx} />
        </Flex>
        <Flex align="center" gap={8} style={{ flex: 'none', marginTop: 4 }}>
          <NegateToggle node={node} ctx={ctx} />
          <Tooltip title={t('builder.removeRule')}>
            <Button type="text" size="small" danger icon={<DeleteOutlined />} onClick={() => ctx.update(node.key, () => null)} data-testid="rule-delete" aria-label={t('builder.removeRule')} />
          </Tooltip>
        </Flex>
      </Flex>
      <ProblemList problems={problems} local={local} />
    </div>
  );
}

function AddMenu({ group, ctx }: { group: GroupNode; ctx: BuilderContext }) {
  const { t, catalog } = ctx;
  const add = (node: BuilderNode) => ctx.update(group.key, (g) => (g.type === 'group' ? { ...g, children: [...g.children, node] } : g));
  const items: MenuProps['items'] = RULE_KINDS.map((kind) => ({
    key: kind,
    icon: KIND_ICONS[kind],
    label: <span data-testid={`add-rule-${kind}`}>{ruleKindLabel(kind, t)}</span>,
  }));
  return (
    <Flex gap={8} wrap>
      <Dropdown
        menu={{
          items,
          onClick: ({ key }) => add(newRule(key as RuleKind, { event: catalog?.events[0], tag: catalog?.tags[0]?.id })),
        }}
        trigger={['click']}
      >
        <Button size="small" type="dashed" icon={<PlusOutlined />} data-testid="add-rule">
          {t('builder.addRule')}
        </Button>
      </Dropdown>
      <Button size="small" type="dashed" icon={<ApartmentOutlined />} onClick={() => add(newGroup(group.mode === 'all' ? 'any' : 'all'))} data-testid="add-group">
        {t('builder.addGroup')}
      </Button>
    </Flex>
  );
}

function GroupView({ node, ctx, depth }: { node: GroupNode; ctx: BuilderContext; depth: number }) {
  const { t } = ctx;
  const color = node.mode === 'all' ? '#1f5eff' : '#fa8c16';
  const joiner = node.mode === 'all' ? t('builder.and') : t('builder.or');
  return (
    <div
      data-testid={depth === 0 ? 'builder-root' : 'builder-group'}
      data-mode={node.mode}
      style={{
        borderLeft: `3px solid ${color}`,
        background: depth % 2 === 0 ? '#f7f9fc' : '#fffaf3',
        borderRadius: 8,
        padding: '10px 12px',
      }}
    >
      <Flex align="center" gap={10} wrap style={{ marginBottom: node.children.length ? 10 : 6 }}>
        {node.negate ? (
          <Tag color="red" style={{ marginInlineEnd: 0 }}>
            {t('builder.notPrefix')}
          </Tag>
        ) : null}
        <Segmented<'all' | 'any'>
          size="small"
          value={node.mode}
          onChange={(mode) => ctx.update(node.key, (g) => ({ ...g, mode }))}
          options={[
            { value: 'all', label: <span data-testid="group-mode-all">{t('builder.modeAll')}</span> },
            { value: 'any', label: <span data-testid="group-mode-any">{t('builder.modeAny')}</span> },
          ]}
        />
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {node.mode === 'all' ? t('builder.modeAllHint') : t('builder.modeAnyHint')}
        </Typography.Text>
        <Flex align="center" gap={8} style={{ marginLeft: 'auto' }}>
          <NegateToggle node={node} ctx={ctx} />
          {depth > 0 ? (
            <Tooltip title={t('builder.removeGroup')}>
              <Button type="text" size="small" danger icon={<DeleteOutlined />} onClick={() => ctx.update(node.key, () => null)} data-testid="group-delete" aria-label={t('builder.removeGroup')} />
            </Tooltip>
          ) : null}
        </Flex>
      </Flex>
      <ProblemList problems={ctx.problems.get(node.key)} testId="group-problems" />
      <Flex vertical gap={0}>
        {node.children.map((child, i) => (
          <div key={child.key}>
            {i > 0 ? (
              <Flex align="center" gap={8} style={{ margin: '4px 0 4px 14px' }}>
                <span style={{ width: 1, height: 14, background: color, opacity: 0.5 }} />
                <Typography.Text style={{ fontSize: 12, color, fontWeight: 600 }}>{joiner}</Typography.Text>
              </Flex>
            ) : null}
            {child.type === 'group' ? <GroupView node={child} ctx={ctx} depth={depth + 1} /> : <RuleView node={child} ctx={ctx} />}
          </div>
        ))}
      </Flex>
      {node.children.length === 0 ? (
        <Typography.Paragraph type="secondary" style={{ fontSize: 13, margin: '0 0 8px' }}>
          {t('builder.emptyGroup')}
        </Typography.Paragraph>
      ) : null}
      <div style={{ marginTop: 10 }}>
        <AddMenu group={node} ctx={ctx} />
      </div>
    </div>
  );
}

/**
 * The builder with its visual / JSON switch. `problems` are the server's validation problems for the
 * definition (paths under `definition.`): each is shown under its rule or group; the rest in a list.
 */
export function ConditionBuilder(props: {
  editor: DefinitionEditor;
  catalog: AudienceCatalog | undefined;
  problems: readonly Problem[];
  excludeSegmentId?: string;
  testId?: string;
}) {
  const { t } = useI18n();
  const { editor, catalog, problems } = props;
  const [switchError, setSwitchError] = useState<string | null>(null);
  const { byNode, unplaced } = useMemo(() => placeProblems(problems, editor.paths), [problems, editor.paths]);

  const update = useCallback(
    (key: string, fn: (node: BuilderNode) => BuilderNode | null) => {
      const next = updateNode(editor.root, key, fn);
      editor.setRoot(next.type === 'group' ? next : newGroup('all', [next]));
    },
    [editor],
  );

  const ctx: BuilderContext = { t, catalog, excludeSegmentId: props.excludeSegmentId, problems: byNode, local: editor.localProblems, update };

  const switchTo = (mode: 'visual' | 'json') => setSwitchError(editor.switchMode(mode));

  return (
    <div data-testid={props.testId ?? 'segment-builder'}>
      <Flex justify="space-between" align="center" gap={12} wrap style={{ marginBottom: 12 }}>
        <Typography.Text type="secondary" style={{ fontSize: 13 }}>
          <FieldTimeOutlined /> {t('builder.hint')}
        </Typography.Text>
        <Segmented<'visual' | 'json'>
          size="small"
          value={editor.mode}
          onChange={switchTo}
          options={[
            { value: 'visual', label: <span data-testid="builder-mode-visual">{t('builder.visual')}</span> },
            { value: 'json', label: <span data-testid="builder-mode-json">JSON</span> },
          ]}
        />
      </Flex>
      {switchError ? <Alert type="error" showIcon title={t('builder.cannotSwitch', { message: switchError })} style={{ marginBottom: 12 }} /> : null}
      {editor.mode === 'visual' ? (
        <GroupView node={editor.root} ctx={ctx} depth={0} />
      ) : (
        <>
          <Input.TextArea
            value={editor.jsonText}
            onChange={(e) => {
              setSwitchError(null);
              editor.setJsonText(e.target.value);
            }}
            autoSize={{ minRows: 12, maxRows: 32 }}
            spellCheck={false}
            style={{ fontFamily: 'monospace', fontSize: 12 }}
            data-testid="builder-json"
          />
          <ProblemList problems={undefined} local={editor.localProblems.get('json')} testId="builder-json-error" />
        </>
      )}
      {unplaced.length ? (
        <Alert
          type="error"
          showIcon
          style={{ marginTop: 12 }}
          title={t('builder.problemsTitle', { n: unplaced.length })}
          description={
            <ul style={{ margin: 0, paddingInlineStart: 18 }} data-testid="builder-problems">
              {unplaced.map((p, i) => (
                <li key={i}>
                  <Typography.Text code>{p.path}</Typography.Text> {p.message}
                </li>
              ))}
            </ul>
          }
        />
      ) : null}
    </div>
  );
}
