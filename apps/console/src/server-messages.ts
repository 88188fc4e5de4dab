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
  [/^(tag|segment|tag group|profile) "(.*)" was not found in this workspace/, (m) => `在当前工作区找不到${kind(m[1]!) === 'profile' ? '客户档案' : kind(m[1]!)}「${m[2]}」`],
  [/^op "(\w+)" needs a number or an ISO date/, () => '这个比较需要一个数字或日期（如 100 或 2024-01-31）'],
  [/^op "(\w+)" needs a number/, () => '这个比较需要一个数字'],
  [/^op "(\w+)" needs a "value"/, () => '请填写要比较的值'],
  [/^op "(\w+)" needs a non-empty string value/, () => '请填写要比较的文字'],
  [/^op "(\w+)" needs (a list of values|at least one value in the list)/, () => '请至少填写一个值'],
  [/^"(all|any)" needs at least one condition/, () => '这一组里还没有条件：添加条件，或删掉这一组'],
  [/^trait "(.*)" has not been seen in this workspace yet/, (m) => `属性「${m[1]}」在当前工作区还没出现过（如果以后会有，可以忽略）`],
  [/^event "(.*)" has not been seen in this workspace yet/, (m) => `事件「${m[1]}」在当前工作区还没出现过（如果以后会有，可以忽略）`],
  [/^property "(.*)" has not been seen on "(.*)" yet/, (m) => `事件「${m[2]}」还没出现过属性「${m[1]}」（如果以后会有，可以忽略）`],
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
