/**
 * The server answers in English (its messages serve integrations and logs too). For an operator reading the
 * console in Chinese, the messages they meet most often are rewritten here; anything else is shown as sent.
 * Each rule matches the start of a server message (services and core build them; server-messages.test.ts holds
 * the wordings), so a message whose wording changes falls back to English, never to nonsense.
 */
type Rule = [RegExp, (m: RegExpExecArray) => string];

const kind = (k: string) => ({ tag: '标签', segment: '分群', 'tag group': '标签组' })[k] ?? k;

/** The layer settings' field names as the 分层设置 form labels them (the key stays beside the label). */
const LAYER_FIELD: Record<string, string> = {
  newDays: '新客期',
  singleOrderIntervalDays: '单次购买客户的间隔',
  minIntervalDays: '最短购买间隔',
  maxIntervalDays: '最长购买间隔',
  activeMultiple: '活跃倍数',
  silentMultiple: '沉默倍数',
  atRiskMultiple: '流失风险倍数',
};
const field = (f: string) => LAYER_FIELD[f] ?? f;

/** What `notFound` names (packages/core/src/errors.ts), as the console calls it. */
const NOUN: Record<string, string> = { profile: '客户档案', 'identity conflict': '身份冲突', merge: '合并记录' };
const noun = (n: string) => NOUN[n] ?? kind(n);

/** The subject of a comparison in core's condition checks (validate-condition.ts), with its name. */
const SUBJECT: Record<string, string> = { trait: '属性', 'computed trait': '计算指标', property: '事件属性' };
const subject = (k: string, name: string) => `${SUBJECT[k] ?? k}「${name}」`;
const TYPE: Record<string, string> = { string: '文字', list: '列表', array: '列表', boolean: '布尔值（是/否）', number: '数字', date: '日期' };
const type = (t: string) => TYPE[t.replace(/^an? /, '')] ?? t;
/** The builder's labels of the ops and measures (i18n.ts `op.*`, `measure.*`). */
const OP: Record<string, string> = { contains: '包含', starts_with: '开头是', within_last: '在最近', not_within_last: '不在最近', anniversary_within_next: '周年日在未来' };
const op = (o: string) => `「${OP[o] ?? o}」`;
const MEASURE: Record<string, string> = { sum: '总和', avg: '平均值', min: '最小值', max: '最大值' };
const measure = (m: string) => MEASURE[m] ?? m;
/** How to write a value of each type (the subject's type is known and the value is not of it). */
const FILL: Record<string, string> = { number: '请填写数字', boolean: '请选择是或否', date: '请填写日期（如 2024-01-31）', string: '请把值写成文字（JSON 里加引号）' };
/** What an empty subject of a condition asks the operator to fill in. */
const MISSING: Record<string, string> = { trait: '请填写属性名', computed: '请选择计算指标', event: '请填写事件名', tag: '请选择标签', segment: '请选择分群', property: '请填写事件属性名' };

/**
 * The definitions that use a tag or segment, as the services list them (`rule tag "高价值" (tag_1), segment
 * "复购" (seg_2)`, audiences/helpers.ts describeDependants); the list as sent when it does not read that way.
 */
function dependants(list: string): string {
  const item = /(rule tag|segment) "(.*?)" \(([^()\s]+)\)(?:, |$)/y;
  const out: string[] = [];
  while (item.lastIndex < list.length) {
    const m = item.exec(list);
    if (!m) return list;
    out.push(`${m[1] === 'segment' ? '分群' : '规则标签'}「${m[2]}」`);
  }
  return out.length ? out.join('、') : list;
}

/** A reference chain (`segment "A" → tag "B" → segment "A"`, or bare ids), each step in Chinese. */
const chain = (c: string) =>
  c
    .split(' → ')
    .map((step) => step.replace(/^(tag|segment) "(.*)"$/, (_, k: string, name: string) => `${kind(k)}「${name}」`))
    .join(' → ');

const ZH_RULES: Rule[] = [
  [/^(\w+) \((\S+)\) must be greater than (\w+) \((\S+)\)/, (m) => `${field(m[1]!)}（${m[1]} = ${m[2]}）必须大于${field(m[3]!)}（${m[3]} = ${m[4]}）`],
  [/^(\w+) \((\S+)\) must be at least (\w+) \((\S+)\)/, (m) => `${field(m[1]!)}（${m[1]} = ${m[2]}）不能小于${field(m[3]!)}（${m[3]} = ${m[4]}）`],
  [/^the 4 cut points must be strictly increasing/, () => '4 个切点必须从小到大依次递增'],
  [/^cut points cannot be negative/, () => '切点不能是负数'],
  [/^identifier types are lower snake_case/, () => '标识只能用小写字母、数字和下划线，以字母开头，2–40 个字符（如 crm_id）'],
  [/^phone "(.*)" is not a valid phone number/, (m) => `手机号「${m[1]}」格式不对：应为 11 位手机号（如 13800138000），或带国家码（如 +8613800138000）`],
  [/^email "(.*)" is not a valid address/, (m) => `邮箱「${m[1]}」格式不对：应为 name@domain.com 这样的地址`],
  [/^a (tag|segment|tag group) named "(.*)" already exists/, (m) => `已有名为「${m[2]}」的${kind(m[1]!)}，请换一个名字`],
  [/^tag group "(.*)" still holds (\d+) tag\(s\) \((.*)\); move them/, (m) => `标签组「${m[1]}」里还有 ${m[2]} 个标签（${m[3]}）：先把它们移到别的组或删除`],
  [/^(tag|segment|tag group|profile|identity conflict|merge) "(.*)" was not found in this workspace/, (m) => `在当前工作区找不到${noun(m[1]!)}「${m[2]}」`],
  // deleting or renaming what other definitions use (tags page, segment detail, tag form)
  [/^(tag|segment) "(.*)" is used by (.*); change or delete them first/, (m) => `${kind(m[1]!)}「${m[2]}」正被${dependants(m[3]!)}使用：请先修改或删除它们`],
  [
    /^cannot rename tag "(.*)": (.*) refer to it by name; change them to use its id/,
    (m) => `标签「${m[1]}」不能改名：${dependants(m[2]!)}按名称引用了它。请先在这些条件里重新选择该标签（改为按 ID 引用），再改名`,
  ],
  [/^a rule tag needs a definition/, () => '规则标签需要设置圈选条件'],
  [/^op "(\w+)" needs a number or an ISO date/, () => '这个比较需要一个数字或日期（如 100 或 2024-01-31）'],
  [/^op "(\w+)" needs a number/, () => '这个比较需要一个数字'],
  [/^op "(\w+)" needs a "value"/, () => '请填写要比较的值'],
  [/^op "(\w+)" needs a non-empty string value/, () => '请填写要比较的文字'],
  [/^op "(\w+)" needs (a list of values|at least one value in the list)/, () => '请至少填写一个值'],
  [/^"(all|any)" needs at least one condition/, () => '这一组里还没有条件：添加条件，或删掉这一组'],
  [/^trait "(.*)" has not been seen in this workspace yet/, (m) => `属性「${m[1]}」在当前工作区还没出现过（如果以后会有，可以忽略）`],
  [/^event "(.*)" has not been seen in this workspace yet/, (m) => `事件「${m[1]}」在当前工作区还没出现过（如果以后会有，可以忽略）`],
  [/^property "(.*)" has not been seen on "(.*)" yet/, (m) => `事件「${m[2]}」还没出现过属性「${m[1]}」（如果以后会有，可以忽略）`],
  // condition problems (segment editor, rule tags, live count): what the builder lets an operator get wrong
  [/^"(trait|computed|event|tag|segment|property)" must be a non-empty string/, (m) => MISSING[m[1]!]!],
  [/^a step needs an event name/, () => '每一步都要填写事件名'],
  [/^give at least one (lifecycle stage|RFM segment|of "r", "f", "m")/, (m) => (m[1] === 'lifecycle stage' ? '请至少选择一个生命周期阶段' : m[1] === 'RFM segment' ? '请至少选择一个 RFM 分层' : '请至少为 R、F、M 中的一项选择分数')],
  [
    /^op "\w+" compares numbers or dates but (trait|computed trait|property) "(.*)" is (a string|a list|a boolean);/,
    (m) => `${subject(m[1]!, m[2]!)}是${type(m[3]!)}，不能比较大小：${m[3] === 'a boolean' ? '请用「等于」选择是或否' : '请改用「等于」「属于」或「包含」'}`,
  ],
  [
    /^op "(\w+)" searches text or lists but (trait|computed trait|property) "(.*)" is a (\w+);/,
    (m) => `${subject(m[2]!, m[3]!)}是${type(m[4]!)}，不能用${op(m[1]!)}：${m[4] === 'boolean' ? '请用「等于」' : '请改用「等于」「大于」「小于」或「介于」'}`,
  ],
  [
    /^op "(\w+)" works on dates but (trait|computed trait|property) "(.*)" is a (\w+);/,
    (m) => `${op(m[1]!)}只适用于日期，${subject(m[2]!, m[3]!)}是${type(m[4]!)}：${m[4] === 'number' ? '请改用「大于」「小于」或「介于」' : '请改用「等于」「属于」或「包含」'}`,
  ],
  [/^(trait|computed trait|property) "(.*)" is a (number|boolean|date|string); /, (m) => `${subject(m[1]!, m[2]!)}是${type(m[3]!)}，${FILL[m[3]!]}`],
  [/^the low end .* is above the high end .*; swap them/, () => '最小值大于最大值：请把两者对调'],
  [/^op "between" needs a 2-element list/, () => '「介于」需要填写最小值和最大值'],
  [/^"(days|last_days)" must be a whole number (?:≥ (\d+)|from (\d+) to (\d+))/, (m) => (m[2] !== undefined ? `天数必须是不小于 ${m[2]} 的整数` : `天数必须是 ${m[3]}–${m[4]} 之间的整数`)],
  [/^"within_days" must be a whole number/, () => '首尾间隔天数必须是不小于 1 的整数（不限制可留空）'],
  [/^expected an ISO timestamp such as/, () => '请选择有效的开始和结束时间'],
  [/^the window starts after it ends/, () => '开始时间晚于结束时间：请把两者对调'],
  [/^"(sum|avg|min|max)" needs a property name/, (m) => `请填写要计算${measure(m[1]!)}的事件属性（如 revenue）`],
  [/^cannot (sum|avg|min|max) property "(.*)": it is an? (\w+), not a number/, (m) => `事件属性「${m[2]}」是${type(m[3]!)}，不是数字，不能计算${measure(m[1]!)}`],
  [/^unknown tag "(.*)"; create the tag first/, (m) => `标签「${m[1]}」不存在：请先创建，或选择已有的标签`],
  [/^unknown segment "(.*)"; pick an existing segment/, (m) => `分群「${m[1]}」不存在：请选择已有的分群`],
  [/^(?:this (tag|segment)|(segment) ".*") cannot refer to itself/, (m) => `${kind((m[1] ?? m[2])!)}不能引用它自己：请删除这个条件`],
  [
    /^(tag|segment) "(.*)" depends back on this (tag|segment) \((.*)\); a \w+ cannot depend on itself/,
    (m) => `${kind(m[1]!)}「${m[2]}」反过来依赖当前${kind(m[3]!)}（${chain(m[4]!)}），不能循环引用：请删除这个引用`,
  ],
  [/^Too small: expected number to be >0/, () => '必须大于 0'],
  [/^Too small: expected number to be >=(\S+)/, (m) => `不能小于 ${m[1]}`],
  [/^Too big: expected number to be <=(\S+)/, (m) => `不能大于 ${m[1]}`],
  [/^Invalid input: expected number, received null/, () => '请填写数字'],
  [/^Invalid input: expected number/, () => '应为数字'],
  [/^Invalid input: expected string/, () => '应为文字'],
  [/^Unrecognized key/, () => '有不认识的字段'],
  [/^give the (tag|group|segment) a name/, () => '请填写名称'],
  [/^the body is not valid JSON/, () => '请求内容不是有效的 JSON'],
  [/^the request body is empty/, () => '请求内容为空'],
  [/^unknown admin token/, () => '管理令牌无效：请用 `npx siyu credentials` 查看当前工作区的管理令牌'],
  [/^something went wrong on our side/, () => '服务器内部出错，请稍后重试；如果反复出现，请联系管理员查看服务日志'],
  // bulk tagging by list or CSV (tags page → 批量打标), and why an identifier matched no one
  [/^"(.*)" is not an identifier type of this workspace \(known: ([^)]*)\)/, (m) => `「${m[1]}」不是当前工作区的标识类型（可用：${m[2]!.split(', ').join('、')}）`],
  [/^the CSV is empty/, () => 'CSV 文件是空的：第一行写表头（type,value，或标识类型如 phone），之后每行一个标识'],
  [
    /^the CSV header must be "type,value" or name an identifier type \(one of ([^)]*)\); got "(.*)"/,
    (m) => `无法识别 CSV 表头「${m[2]}」：请用 type,value 两列，或用一个标识类型作列名（${m[1]!.split(', ').join('、')}；「手机号」「邮箱」等常用列名也可以）`,
  ],
  [/^(?:the identifier list is not valid: identifiers: )?at most (\d+) identifiers per request, got (\d+)/, (m) => `一次最多提交 ${m[1]} 个标识，这次有 ${m[2]} 个：请拆分后分批提交`],
  [/^the CSV is (?:\d+ bytes; the limit is (\d+) bytes|over (\d+) bytes)/, (m) => `CSV 文件超过 ${Math.round(Number(m[1] ?? m[2]) / 1048576)} MB 上限：请拆分后分批上传`],
  // identity conflicts and unmerge (身份冲突, profile detail → 合并记录)
  [/^this conflict was already reviewed \((\w+) by (.*) at .*\)/, (m) => `这条冲突已由 ${m[2]} 处理过（${m[1] === 'merged' ? '已合并' : m[1] === 'dismissed' ? '已忽略' : m[1]}），无需再次处理`],
  [/^merge \S+ was already undone/, () => '这次合并已经拆分过了，请刷新页面查看'],
];

/** A server message as an operator reading `language` should see it. */
export function localizeServerMessage(message: string, language: string): string {
  if (language !== 'zh-CN') return message;
  for (const [re, render] of ZH_RULES) {
    const m = re.exec(message);
    if (m) return render(m);
  }
  return message;
}
