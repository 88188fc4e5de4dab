/** Labels of the condition language and a readable summary of a definition. */
import type { ReactNode } from 'react';
import { Flex, Tag, Typography } from 'antd';
import type { AudienceCatalog } from '../api';
import { MONEY_COMPUTED, fromDefinition, valueShape, type BuilderNode, type ComparisonOp, type RuleKind, type RuleNode, type WindowDraft } from '../conditions';
import { formatMoney } from '../format';
import { hasMessage, type Translate } from '../i18n';

export function ruleKindLabel(kind: RuleKind, t: Translate): string {
  return t(`ruleKind.${kind}`);
}

export function comparisonOpLabel(op: ComparisonOp, t: Translate): string {
  return t(`op.${op}`);
}

export function computedLabel(name: string, t: Translate): string {
  const key = `computed.${name}`;
  if (hasMessage(key)) return t(key);
  if (name.startsWith('event_counts.')) return t('computed.eventCountOf', { event: name.slice('event_counts.'.length) });
  return name;
}

export function lifecycleLabel(stage: string, t: Translate): string {
  const key = `lifecycle.${stage}`;
  return hasMessage(key) ? t(key) : stage;
}

export function rfmSegmentLabel(segment: string, t: Translate): string {
  const key = `rfm.${segment}`;
  return hasMessage(key) ? t(key) : segment;
}

export function historyReasonLabel(reason: string | null, t: Translate): string {
  if (!reason) return '—';
  const key = `reason.${reason}`;
  return hasMessage(key) ? t(key) : reason;
}

// ---------------------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------------------

function showValue(value: unknown, money: boolean, t: Translate): string {
  if (value === undefined || value === null || value === '') return '…';
  if (money && typeof value === 'number') return formatMoney(value);
  if (Array.isArray(value)) return value.map((v) => showValue(v, money, t)).join(t('summary.listSep'));
  if (typeof value === 'object' && 'days' in value) return t('summary.days', { n: String((value as { days: unknown }).days) });
  if (typeof value === 'boolean') return value ? t('builder.true') : t('builder.false');
  return String(value);
}

function comparisonText(op: ComparisonOp, value: unknown, money: boolean, t: Translate): string {
  const shape = valueShape(op);
  if (shape === 'none') return comparisonOpLabel(op, t);
  if (shape === 'range' && Array.isArray(value)) return `${comparisonOpLabel(op, t)} ${showValue(value[0], money, t)} ~ ${showValue(value[1], money, t)}`;
  return `${comparisonOpLabel(op, t)} ${showValue(value, money, t)}`;
}

function windowText(w: WindowDraft, t: Translate): string {
  if (w.type === 'last_days') return t('summary.lastDays', { n: String(w.days ?? '…') });
  if (w.type === 'between') return t('summary.between', { from: w.from || '…', to: w.to || '…' });
  return t('window.ever');
}

function ruleText(rule: RuleNode, t: Translate, catalog: AudienceCatalog | undefined): ReactNode {
  const tagName = (ref: string) => catalog?.tags.find((x) => x.id === ref)?.name ?? ref;
  const segmentName = (ref: string) => catalog?.segments.find((x) => x.id === ref)?.name ?? ref;
  const where = (filters: { property: string; op: ComparisonOp; value?: unknown }[]) =>
    filters.length ? t('summary.where', { filters: filters.map((f) => `${f.property} ${comparisonText(f.op, f.value, false, t)}`).join(t('summary.filterSep')) }) : '';
  switch (rule.kind) {
    case 'trait':
      return t('summary.trait', { trait: rule.trait || '…', cmp: comparisonText(rule.op, rule.value, false, t) });
    case 'computed':
      return `${computedLabel(rule.computed, t)} ${comparisonText(rule.op, rule.value, MONEY_COMPUTED.has(rule.computed), t)}`;
    case 'tag':
      return t(rule.has ? 'summary.tagHas' : 'summary.tagHasNot', { tag: tagName(rule.tag) });
    case 'event': {
      const measure = rule.measure.fn === 'count' ? t('measure.count') : `${rule.measure.property} ${t(`measure.${rule.measure.fn}`)}`;
      return `${windowText(rule.window, t)} ${t('summary.event', { event: rule.event || '…' })} ${measure} ${comparisonText(rule.op, rule.value, false, t)}${where(rule.where)}`;
    }
    case 'not_done':
      return `${windowText(rule.window, t)} ${t('builder.notDoneVerb')} ${t('summary.event', { event: rule.event || '…' })}${where(rule.where)}`;
    case 'sequence':
      return t('summary.sequence', {
        steps: rule.steps.map((s) => s || '…').join(' → '),
        within: rule.withinDays ? t('summary.withinDays', { n: String(rule.withinDays) }) : '',
        window: windowText(rule.window, t),
      });
    case 'segment':
      return t(rule.in ? 'summary.segmentIn' : 'summary.segmentNotIn', { segment: segmentName(rule.segment) });
    case 'lifecycle':
      return t('summary.lifecycle', { stages: rule.stages.map((s) => lifecycleLabel(s, t)).join(t('summary.listSep')) });
    case 'rfm_segment':
      return t('summary.rfmSegment', { segments: rule.segments.map((s) => rfmSegmentLabel(s, t)).join(t('summary.listSep')) });
    case 'rfm':
      return `RFM ${(['r', 'f', 'm'] as const)
        .filter((d) => rule[d].length)
        .map((d) => `${d.toUpperCase()}∈{${[...rule[d]].sort().join(',')}}`)
        .join(' ')}`;
    case 'json':
      return <Typography.Text code>{rule.text.replace(/\s+/g, ' ')}</Typography.Text>;
  }
}

function SummaryNode({ node, t, catalog }: { node: BuilderNode; t: Translate; catalog: AudienceCatalog | undefined }) {
  if (node.type === 'rule') {
    return (
      <Flex align="baseline" gap={6} wrap>
        {node.negate ? <Tag color="red">{t('builder.notPrefix')}</Tag> : null}
        <Tag style={{ marginInlineEnd: 0 }}>{ruleKindLabel(node.kind, t)}</Tag>
        <Typography.Text>{ruleText(node, t, catalog)}</Typography.Text>
      </Flex>
    );
  }
  const title = node.mode === 'all' ? t('summary.all') : t('summary.any');
  return (
    <div>
      <Typography.Text strong>
        {node.negate ? `${t('builder.notPrefix')} ` : ''}
        {title}
      </Typography.Text>
      <ul style={{ margin: '4px 0 0', paddingInlineStart: 22 }}>
        {node.children.map((c) => (
          <li key={c.key} style={{ marginBottom: 4 }}>
            <SummaryNode node={c} t={t} catalog={catalog} />
          </li>
        ))}
      </ul>
    </div>
  );
}

/** A stored definition in words: nested groups and one sentence per rule. */
export function DefinitionSummary({ definition, t, catalog }: { definition: unknown; t: Translate; catalog: AudienceCatalog | undefined }) {
  const root = fromDefinition(definition);
  return (
    <div data-testid="definition-summary">
      <SummaryNode node={root} t={t} catalog={catalog} />
    </div>
  );
}
