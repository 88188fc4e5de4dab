import { Fragment, type ReactNode } from 'react';

/** Fills `{name}` placeholders of a translated template with elements: `richText(t('x'), { command: <code/> })`. */
export function richText(template: string, nodes: Record<string, ReactNode>): ReactNode {
  const parts = template.split(/\{(\w+)\}/);
  return parts.map((part, i) =>
    // odd indexes are placeholder names
    i % 2 === 1 ? <Fragment key={i}>{part in nodes ? nodes[part] : `{${part}}`}</Fragment> : part,
  );
}
