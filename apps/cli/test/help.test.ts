import { CONFIG_KEYS } from '@siyu/config';
import { describe, expect, it } from 'vitest';
import { HELP } from '../src/main.ts';

describe('siyu help', () => {
  it('lists every command and every environment variable the configuration reads, with its description', () => {
    for (const command of ['start', 'credentials', 'demo', 'import', 'migrate', 'help']) expect(HELP).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    for (const key of Object.values(CONFIG_KEYS)) expect(HELP).toContain(`${key.env.padEnd(22)}${key.description}`);
  });
});
