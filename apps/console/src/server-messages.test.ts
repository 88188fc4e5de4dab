import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localizeServerMessage } from './server-messages';

/**
 * Core, the services and the server, loaded when the tests run: the console's TypeScript project may not type
 * them (they import `.ts` paths and Node's types; tsconfig.json leaves core-constants.test.ts out for the same
 * reason), and the browser bundle never sees this file.
 */
const runtime = (specifier: string): Promise<any> => import(/* @vite-ignore */ specifier);

const zh = (m: string) => localizeServerMessage(m, 'zh-CN');

/**
 * The wordings the rules match, as core and the services write them: copied here, and produced by the real code
 * further down (core's condition checks, the services and the HTTP edge on a real database).
 */
describe('server messages in the operator’s language', () => {
  it('reads the identifier problems core writes (packages/core/src/identity/normalize.ts)', () => {
    expect(zh('phone "abc" is not a valid phone number (expected 11 digits such as 13800138000, or +country code)')).toMatch(/^手机号「abc」格式不对/);
    expect(zh('email "nope" is not a valid address (expected name@domain.tld)')).toMatch(/^邮箱「nope」格式不对/);
  });
  it('reads name conflicts, missing things and common validation', () => {
    expect(zh('a tag named "高潜客户" already exists')).toBe('已有名为「高潜客户」的标签，请换一个名字');
    expect(zh('a tag group named "渠道" already exists')).toBe('已有名为「渠道」的标签组，请换一个名字');
    expect(zh('profile "prof_x" was not found in this workspace')).toBe('在当前工作区找不到客户档案「prof_x」');
    expect(zh('Too small: expected number to be >0')).toBe('必须大于 0');
    expect(zh('tag group "渠道" still holds 2 tag(s) ("门店", "小程序"); move them to another group (PUT /api/v1/tags/{id} with "groupId") or delete them first')).toBe('标签组「渠道」里还有 2 个标签（"门店", "小程序"）：先把它们移到别的组或删除');
    expect(zh('Invalid input: expected number, received null')).toBe('请填写数字');
    expect(zh('op "gte" needs a number or an ISO date (e.g. 100 or "2024-01-31"), got "x"')).toMatch(/^这个比较需要一个数字或日期/);
  });
  it('reads the layer settings problems core writes (packages/core/src/layers/lifecycle.ts, rfm.ts)', () => {
    expect(zh('silentMultiple (1) must be greater than activeMultiple (1.5)')).toBe('沉默倍数（silentMultiple = 1）必须大于活跃倍数（activeMultiple = 1.5）');
    expect(zh('maxIntervalDays (180) must be at least minIntervalDays (200)')).toBe('最长购买间隔（maxIntervalDays = 180）不能小于最短购买间隔（minIntervalDays = 200）');
    expect(zh('the 4 cut points must be strictly increasing')).toBe('4 个切点必须从小到大依次递增');
    expect(zh('cut points cannot be negative')).toBe('切点不能是负数');
  });
  it('leaves other messages, and other languages, as sent', () => {
    expect(zh('something new')).toBe('something new');
    expect(localizeServerMessage('a tag named "x" already exists', 'en-US')).toBe('a tag named "x" already exists');
  });
  it('keeps a list of dependants it cannot read as sent, rather than garbling it', () => {
    expect(zh('tag "VIP" is used by something else; change or delete them first')).toBe('标签「VIP」正被something else使用：请先修改或删除它们');
  });
});

/** Each message in Chinese for zh-CN, and word for word as the server sent it for en-US. */
function expectRead(message: string, chinese: string): void {
  expect(zh(message)).toBe(chinese);
  expect(localizeServerMessage(message, 'en-US')).toBe(message);
}

describe('condition problems as core writes them (validateCondition, packages/core/src/conditions/validate-condition.ts)', () => {
  /** The first problem core finds in a condition, against a catalog like a workspace’s. */
  let problemOf: (condition: unknown) => string;
  beforeAll(async () => {
    const { validateCondition } = await runtime('@siyu/core');
    const catalog = {
      traits: new Map([
        ['city', 'string'],
        ['age', 'number'],
        ['vip', 'boolean'],
        ['birthday', 'date'],
        ['interests', 'array'],
      ]),
      events: new Map([['Order Completed', { properties: new Map([['revenue', 'number'], ['category', 'string']]) }]]),
      tags: { known: new Set(['tag_vip']), closed: true },
      segments: { known: new Set(['seg_active']), closed: true },
    };
    problemOf = (condition) => {
      const r = validateCondition({ version: 1, condition }, catalog) as { ok: boolean; problems?: { message: string }[] };
      const first = r.problems?.[0];
      if (r.ok || !first) throw new Error(`expected a problem with ${JSON.stringify(condition)}`);
      return first.message;
    };
  });
  const orderCompleted = { event: 'Order Completed', op: 'gte', value: 1 };

  it.each<[string, unknown, string]>([
    // what an unfinished rule sends on save
    ['no trait name', { trait: '', op: 'eq', value: '上海' }, '请填写属性名'],
    ['no event', { event: '', op: 'gte', value: 1 }, '请填写事件名'],
    ['no tag', { tag: '', has: true }, '请选择标签'],
    ['no segment', { segment: '', in: true }, '请选择分群'],
    ['an empty step', { sequence: ['Order Completed', ''] }, '每一步都要填写事件名'],
    ['no lifecycle stage', { lifecycle: [] }, '请至少选择一个生命周期阶段'],
    ['no RFM segment', { rfm_segment: [] }, '请至少选择一个 RFM 分层'],
    ['no RFM score', { rfm: {} }, '请至少为 R、F、M 中的一项选择分数'],
    // an op that does not fit the subject’s type
    ['gt on a string trait', { trait: 'city', op: 'gt', value: 5 }, '属性「city」是文字，不能比较大小：请改用「等于」「属于」或「包含」'],
    ['lt on a list trait', { trait: 'interests', op: 'lt', value: 3 }, '属性「interests」是列表，不能比较大小：请改用「等于」「属于」或「包含」'],
    ['gte on a boolean trait', { trait: 'vip', op: 'gte', value: 1 }, '属性「vip」是布尔值（是/否），不能比较大小：请用「等于」选择是或否'],
    ['contains on a computed number', { computed: 'order_count', op: 'contains', value: '1' }, '计算指标「order_count」是数字，不能用「包含」：请改用「等于」「大于」「小于」或「介于」'],
    [
      'contains on a numeric event property',
      { ...orderCompleted, where: [{ property: 'revenue', op: 'contains', value: '1' }] },
      '事件属性「revenue」是数字，不能用「包含」：请改用「等于」「大于」「小于」或「介于」',
    ],
    ['within_last on a number', { trait: 'age', op: 'within_last', value: { days: 30 } }, '「在最近」只适用于日期，属性「age」是数字：请改用「大于」「小于」或「介于」'],
    ['within_last on a string', { trait: 'city', op: 'within_last', value: { days: 30 } }, '「在最近」只适用于日期，属性「city」是文字：请改用「等于」「属于」或「包含」'],
    // a value that does not fit the subject’s type
    ['text for a number', { trait: 'age', op: 'eq', value: 'abc' }, '属性「age」是数字，请填写数字'],
    ['a quoted number', { trait: 'age', op: 'eq', value: '18' }, '属性「age」是数字，请填写数字'],
    ['text for a boolean', { trait: 'vip', op: 'eq', value: 'yes' }, '属性「vip」是布尔值（是/否），请选择是或否'],
    ['a number for a date', { trait: 'birthday', op: 'gte', value: 20240101 }, '属性「birthday」是日期，请填写日期（如 2024-01-31）'],
    ['a number for a string', { trait: 'city', op: 'eq', value: 5 }, '属性「city」是文字，请把值写成文字（JSON 里加引号）'],
    // ranges, days and time windows
    ['a reversed range', { computed: 'total_spent', op: 'between', value: [50000, 100] }, '最小值大于最大值：请把两者对调'],
    ['an empty behaviour range', { event: 'Order Completed', op: 'between', value: [null, null] }, '「介于」需要填写最小值和最大值'],
    ['no days', { trait: 'birthday', op: 'within_last', value: { days: null } }, '天数必须是不小于 1 的整数'],
    ['an anniversary too far', { trait: 'birthday', op: 'anniversary_within_next', value: { days: 400 } }, '天数必须是 0–366 之间的整数'],
    ['no days in a window', { ...orderCompleted, window: { last_days: null } }, '天数必须是不小于 1 的整数'],
    ['a window without dates', { ...orderCompleted, window: { between: ['', ''] } }, '请选择有效的开始和结束时间'],
    [
      'a reversed window',
      { ...orderCompleted, window: { between: ['2024-02-01T00:00:00+08:00', '2024-01-01T00:00:00+08:00'] } },
      '开始时间晚于结束时间：请把两者对调',
    ],
    ['a sequence within 0 days', { sequence: ['Order Completed', 'Order Completed'], within_days: 0 }, '首尾间隔天数必须是不小于 1 的整数（不限制可留空）'],
    // measures
    ['a sum of nothing', { ...orderCompleted, measure: { sum: '' } }, '请填写要计算总和的事件属性（如 revenue）'],
    ['an average of text', { ...orderCompleted, measure: { avg: 'category' } }, '事件属性「category」是文字，不是数字，不能计算平均值'],
    // references
    ['a tag that is gone', { tag: 'tag_gone', has: true }, '标签「tag_gone」不存在：请先创建，或选择已有的标签'],
    ['a segment that is gone', { segment: 'seg_gone', in: true }, '分群「seg_gone」不存在：请选择已有的分群'],
  ])('%s', (_case, condition, chinese) => expectRead(problemOf(condition), chinese));
});

/** The test databases (SQLite, and PostgreSQL when SIYU_TEST_DATABASE_URL is set), as every storage-touching test runs on. */
interface TestBackend {
  name: 'sqlite' | 'postgres';
  url?: string;
}
const { TEST_BACKENDS, isolatedTestBackend } = (await runtime('@siyu/storage/testing')) as {
  TEST_BACKENDS: TestBackend[];
  isolatedTestBackend(backend: TestBackend): Promise<{ backend: TestBackend; drop(): Promise<void> }>;
};

describe.each(TEST_BACKENDS)('refusals the services and the server answer with, on $name', (backend) => {
  /** The services on a real database, untyped here (see runtime). */
  let t: Awaited<ReturnType<typeof runtime>>;
  let drop: () => Promise<void> = async () => undefined;
  let ws: { id: string };
  let adminToken: string;
  beforeAll(async () => {
    const { createTestSiyu } = await runtime('@siyu/services/testing');
    const isolated = await isolatedTestBackend(backend);
    drop = isolated.drop;
    t = await createTestSiyu(isolated.backend);
    ({ workspace: ws, adminToken } = await t.workspace('server-messages'));
  });
  afterAll(async () => {
    await t?.services.layers.settled();
    await t?.services.audienceEngine.settled();
    await t?.close();
    await drop();
  });

  /** What a call was refused with: its message, and its first problem’s. */
  async function refusal(p: Promise<unknown>): Promise<{ message: string; problem: string | undefined }> {
    const e = await p.then(
      () => undefined,
      (x: unknown) => x as { message: string; details?: { problems?: { message: string }[] } },
    );
    if (!e) throw new Error('expected a refusal');
    return { message: e.message, problem: e.details?.problems?.[0]?.message };
  }
  const definition = (condition: unknown) => ({ version: 1, condition });
  async function send(kind: string, body: Record<string, unknown>): Promise<void> {
    t.clock.advance(1000);
    await t.services.ingest.ingest(ws, kind, body, JSON.stringify(body).length);
  }

  it('segments: deleting one in use, and references in a circle (packages/services/src/audiences/segments.service.ts, definitions.ts)', async () => {
    const active = await t.services.segments.create(ws.id, { name: '活跃客户', definition: definition({ lifecycle: 'active' }) });
    const members = await t.services.segments.create(ws.id, { name: '活跃会员', definition: definition({ segment: active.id, in: true }) });
    const inUse = await refusal(t.services.segments.delete(ws.id, active.id));
    expectRead(inUse.message, '分群「活跃客户」正被分群「活跃会员」使用：请先修改或删除它们');
    const circle = await refusal(t.services.segments.update(ws.id, active.id, { definition: definition({ segment: members.id, in: true }) }));
    expectRead(circle.problem!, '分群「活跃会员」反过来依赖当前分群（分群「活跃客户」 → 分群「活跃会员」 → 分群「活跃客户」），不能循环引用：请删除这个引用');
    const itself = await refusal(t.services.segments.update(ws.id, active.id, { definition: definition({ segment: active.id, in: true }) }));
    expectRead(itself.problem!, '分群不能引用它自己：请删除这个条件');
  });

  it('tags: deleting or renaming one that definitions use, a rule tag without a rule (packages/services/src/audiences/tags.service.ts)', async () => {
    const vip = await t.services.tags.create(ws.id, { name: 'VIP' });
    const rule = await t.services.tags.create(ws.id, { name: '高价值VIP', kind: 'rule', definition: definition({ tag: 'VIP', has: true }) });
    await t.services.segments.create(ws.id, { name: 'VIP客户', definition: definition({ tag: vip.id, has: true }) });
    const inUse = await refusal(t.services.tags.delete(ws.id, vip.id));
    expectRead(inUse.message, '标签「VIP」正被规则标签「高价值VIP」、分群「VIP客户」使用：请先修改或删除它们');
    const renamed = await refusal(t.services.tags.update(ws.id, vip.id, { name: 'VIP会员' }));
    expectRead(renamed.message, '标签「VIP」不能改名：规则标签「高价值VIP」按名称引用了它。请先在这些条件里重新选择该标签（改为按 ID 引用），再改名');
    const itself = await refusal(t.services.tags.update(ws.id, rule.id, { definition: definition({ tag: rule.id, has: true }) }));
    expectRead(itself.problem!, '标签不能引用它自己：请删除这个条件');
    const noRule = await refusal(t.services.tags.create(ws.id, { name: '没有规则', kind: 'rule' }));
    expectRead(noRule.problem!, '规则标签需要设置圈选条件');
  });

  it('bulk tagging: empty or unreadable CSV, too many identifiers, identifiers that match no one (packages/services/src/audiences/identifiers.ts)', async () => {
    const tag = await t.services.tags.create(ws.id, { name: '活动名单' });
    const bulk = (input: unknown) => t.services.tags.applyBulk(ws.id, tag.id, input, 'admin:test');
    const types = 'user_id、member_no、wechat_unionid、phone、email、wecom_external_userid、wechat_openid、device_id、anonymous_id';
    expectRead((await refusal(bulk({ csv: '' }))).message, 'CSV 文件是空的：第一行写表头（type,value，或标识类型如 phone），之后每行一个标识');
    expectRead(
      (await refusal(bulk({ csv: '姓名,备注\n张三,老客\n' }))).message,
      `无法识别 CSV 表头「姓名,备注」：请用 type,value 两列，或用一个标识类型作列名（${types}；「手机号」「邮箱」等常用列名也可以）`,
    );
    const phones = Array.from({ length: 100_001 }, (_, i) => String(13_800_000_000 + i));
    expectRead((await refusal(bulk({ json: { type: 'phone', values: phones } }))).message, '一次最多提交 100000 个标识，这次有 100001 个：请拆分后分批提交');
    expectRead((await refusal(bulk({ csv: `phone\n${phones.join('\n')}\n` }))).message, '一次最多提交 100000 个标识，这次有 100001 个：请拆分后分批提交');
    const result = await bulk({ json: { identifiers: [{ type: 'crm_id', value: 'C-1' }, { type: 'phone', value: '123' }] } });
    const [unknownType, badPhone] = result.unmatched as { message: string }[];
    expectRead(unknownType!.message, `「crm_id」不是当前工作区的标识类型（可用：${types}）`);
    expect(zh(badPhone!.message)).toMatch(/^手机号「123」格式不对/);
  });

  it('identity conflicts and unmerge: reviewed twice, undone twice, gone (packages/services/src/processor.service.ts, profiles.service.ts)', async () => {
    // Two members on one shared iPad: the rules refuse to merge them, and the link waits for review.
    await send('identify', { userId: 'u1', context: { device: { id: 'ipad' } } });
    await send('identify', { userId: 'u2', context: { device: { id: 'ipad' } } });
    await t.drain();
    const [conflict] = (await t.services.profiles.conflicts(ws.id, { limit: 10 })).data;
    await t.services.processor.resolveConflict(ws.id, conflict.id, { action: 'dismiss' }, 'admin:ops');
    const twice = await refusal(t.services.processor.resolveConflict(ws.id, conflict.id, { action: 'merge' }, 'admin:ops'));
    expectRead(twice.message, '这条冲突已由 admin:ops 处理过（已忽略），无需再次处理');
    expectRead((await refusal(t.services.processor.resolveConflict(ws.id, 'conf_gone', { action: 'dismiss' }, 'admin:ops'))).message, '在当前工作区找不到身份冲突「conf_gone」');

    // A visitor who signs up: merged, then split apart.
    await send('page', { anonymousId: 'a1' });
    await send('identify', { userId: 'u3' });
    await t.drain();
    await send('alias', { previousId: 'a1', userId: 'u3' });
    await t.drain();
    const profile = await t.services.profiles.lookup(ws.id, 'user_id', 'u3');
    await t.services.profiles.unmerge(ws.id, profile.id, profile.merges[0].id, 'admin:ops');
    expectRead((await refusal(t.services.profiles.unmerge(ws.id, profile.id, profile.merges[0].id, 'admin:ops'))).message, '这次合并已经拆分过了，请刷新页面查看');
    expectRead((await refusal(t.services.profiles.unmerge(ws.id, profile.id, 'mrg_gone', 'admin:ops'))).message, '在当前工作区找不到合并记录「mrg_gone」');
  });

  it('the HTTP edge: a CSV over the size limit, an unexpected failure (apps/server/src/audiences.routes.ts, errors.ts)', async () => {
    const { createApp } = await runtime('@siyu/server');
    const boom = () => {
      throw new Error('boom');
    };
    const app = createApp({ services: t.services, extend: [(a: { get(path: string, handler: () => never): void }) => a.get('/api/v1/boom', boom)] });
    const tag = await t.services.tags.create(ws.id, { name: '大名单' });
    const call = async (path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) => {
      const res = await app.request(path, { ...init, headers: { Authorization: `Bearer ${adminToken}`, ...init.headers } });
      return ((await res.json()) as { error: { message: string } }).error.message;
    };
    const csv = (body: string, headers: Record<string, string> = {}) => call(`/api/v1/tags/${tag.id}/apply`, { method: 'POST', headers: { 'Content-Type': 'text/csv', ...headers }, body });
    expectRead(await csv('phone\n13800138000\n', { 'Content-Length': String(9 * 1024 * 1024) }), 'CSV 文件超过 8 MB 上限：请拆分后分批上传');
    expectRead(await csv(`phone\n${'13800138000\n'.repeat(800_000)}`), 'CSV 文件超过 8 MB 上限：请拆分后分批上传');
    expectRead(await call('/api/v1/boom'), '服务器内部出错，请稍后重试；如果反复出现，请联系管理员查看服务日志');
  });
});
