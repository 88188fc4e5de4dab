/**
 * Every UI string of the console in zh-CN (default) and en-US.
 * `en` is typed against the keys of `zh`, so a string missing in either language fails to compile.
 * Placeholders: `{name}` replaced by `t(key, { name })`.
 */
import { createContext, createElement, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';

const zh = {
  'app.name': '私域 Siyu',
  'app.title': '私域 Siyu 控制台',

  // login
  'login.subtitle': '私域客户数据平台 · CDP / SCRM',
  'login.tokenLabel': '管理令牌',
  'login.tokenPlaceholder': '粘贴管理令牌（admin token）',
  'login.tokenRequired': '请输入管理令牌',
  'login.hint': '在服务器上运行 {command} 可查看管理令牌。',
  'login.submit': '登录',
  'login.invalid': '管理令牌无效或已被撤销，请重新获取。',
  'login.sessionExpired': '登录已失效，请重新输入管理令牌。',

  // layout
  'menu.overview': '概览',
  'menu.profiles': '客户',
  'menu.groupIdentity': '身份打通',
  'menu.conflicts': '身份冲突',
  'menu.identityTypes': '身份规则',
  'menu.groupSettings': '设置',
  'menu.workspaces': '工作区',
  'header.workspace': '当前工作区',
  'header.instanceAdmin': '实例管理员',
  'header.logout': '退出登录',
  'header.language': '语言',
  'layout.loadingWorkspace': '正在加载工作区…',
  'layout.loadFailed': '无法加载工作区信息',

  // common
  'common.retry': '重试',
  'common.refresh': '刷新',
  'common.prevPage': '上一页',
  'common.nextPage': '下一页',
  'common.pageN': '第 {page} 页',
  'common.perPage': '{n} 条/页',
  'common.unlimited': '不限',
  'common.cancel': '取消',
  'common.backHome': '返回概览',
  'common.back': '返回',
  'common.showFull': '显示完整信息',
  'common.masked': '脱敏显示',
  'common.createdAt': '创建时间',
  'common.updatedAt': '更新时间',
  'common.notFoundTitle': '页面不存在',
  'common.notFoundText': '您访问的页面不存在或已被移除。',
  'common.crashTitle': '页面出错了',
  'common.crashText': '界面发生了意外错误：{message}',

  // errors
  'error.network': '无法连接到 Siyu 服务器，请确认服务已启动（npm start）。',
  'error.unknown': '发生未知错误',

  // overview
  'overview.title': '概览',
  'overview.subtitle': '工作区的客户与行为数据一览',
  'overview.profiles': '客户数',
  'overview.events': '事件数',
  'overview.mergedProfiles': '合并档案',
  'overview.openConflicts': '待处理冲突',
  'overview.eventsPerDay': '近 30 天事件趋势',
  'overview.topEvents': '热门事件 Top 10',
  'overview.identitiesByType': '身份类型分布',
  'overview.eventsSeries': '事件数',
  'overview.countSeries': '数量',
  'overview.noEvents': '还没有事件。通过 /v1/track 或 SDK 上报数据后，这里会显示趋势。',
  'overview.noIdentities': '还没有身份数据',

  // identifier types
  'idType.user_id': '用户ID',
  'idType.member_no': '会员号',
  'idType.wechat_unionid': '微信 UnionID',
  'idType.phone': '手机号',
  'idType.email': '邮箱',
  'idType.wecom_external_userid': '企微外部联系人ID',
  'idType.wechat_openid': '微信 OpenID',
  'idType.device_id': '设备ID',
  'idType.anonymous_id': '匿名ID',

  // profiles list
  'profiles.title': '客户',
  'profiles.subtitle': '统一客户档案（OneID），按身份或属性查找',
  'profiles.lookupTitle': '按身份查找',
  'profiles.lookupPlaceholder': '输入身份值，如 13800138000',
  'profiles.lookupButton': '查找',
  'profiles.lookupNotFound': '没有找到{type}为「{value}」的客户',
  'profiles.lookupEmpty': '请输入要查找的身份值',
  'profiles.searchPlaceholder': '搜索姓名、昵称、手机号…',
  'profiles.traitFilter': '属性筛选',
  'profiles.traitName': '属性名，如 city',
  'profiles.traitValue': '属性值，如 上海',
  'profiles.addFilter': '添加筛选',
  'profiles.clearFilters': '清除筛选',
  'profiles.filterNeedsBoth': '请同时填写属性名和属性值',
  'profiles.colCustomer': '客户',
  'profiles.colPhone': '手机号',
  'profiles.colEmail': '邮箱',
  'profiles.colOrders': '订单数',
  'profiles.colSpent': '累计消费',
  'profiles.colLastSeen': '最近访问',
  'profiles.colCreated': '创建时间',
  'profiles.unnamed': '未命名客户',
  'profiles.empty': '没有符合条件的客户',
  'profiles.moreIdentities': '等 {n} 个',

  // profile detail
  'profile.backToList': '返回客户列表',
  'profile.notFound': '客户档案不存在',
  'profile.notFoundText': '档案 {id} 不存在：可能已被删除，或已合并到其他档案。',
  'profile.export': '导出数据',
  'profile.exported': '已导出客户数据',
  'profile.delete': '删除',
  'profile.deleteTitle': '删除该客户的全部个人数据？',
  'profile.deleteBody':
    '依据《个人信息保护法》(PIPL) / GDPR 的删除权，将永久删除该客户的档案、身份、事件和标签，并屏蔽其身份标识，今后再上报的相同标识不会重新建档。此操作不可撤销。',
  'profile.deleteOk': '永久删除',
  'profile.deleted': '已删除客户数据，屏蔽了 {n} 个身份标识',
  'profile.orderCount': '订单数',
  'profile.totalSpent': '累计消费',
  'profile.avgOrderValue': '客单价',
  'profile.refunds': '退款',
  'profile.refundSummary': '{count} 笔 · {amount}',
  'profile.eventCount': '事件数',
  'profile.firstOrder': '首次购买',
  'profile.lastOrder': '最近购买',
  'profile.firstSeen': '首次访问',
  'profile.lastSeen': '最近访问',
  'profile.tabTraits': '属性',
  'profile.tabIdentities': '身份',
  'profile.tabTimeline': '行为时间线',
  'profile.tabMerges': '合并记录',
  'profile.tabTags': '标签',
  'profile.traitsTitle': '客户属性',
  'profile.firstTouchTitle': '首次触点属性',
  'profile.firstTouchHint': '客户第一次被记录时的来源信息，之后不再改变。',
  'profile.colTrait': '属性',
  'profile.colValue': '值',
  'profile.colSetAt': '设置时间',
  'profile.noTraits': '暂无属性',
  'profile.noFirstTouch': '暂无首次触点信息',
  'profile.colIdType': '身份类型',
  'profile.colIdValue': '身份值',
  'profile.colFirstSeen': '首次出现',
  'profile.colSourceMessage': '来源消息',
  'profile.noEvents': '还没有行为记录',
  'profile.loadMore': '加载更多',
  'profile.noMore': '没有更多了',
  'profile.eventReceivedAt': '接收于 {time}',
  'profile.eventProperties': '属性',
  'profile.eventContext': '上下文',
  'profile.eventType.identify': '识别',
  'profile.eventType.track': '事件',
  'profile.eventType.page': '页面浏览',
  'profile.eventType.screen': '屏幕浏览',
  'profile.eventType.group': '分组',
  'profile.eventType.alias': '别名',
  'profile.colMergedAt': '合并时间',
  'profile.colWinner': '保留档案',
  'profile.colLoser': '被合并档案',
  'profile.colReason': '原因',
  'profile.colActor': '操作方',
  'profile.colStatus': '状态',
  'profile.colActions': '操作',
  'profile.mergeActive': '已合并',
  'profile.mergeUndone': '已拆分 {time}',
  'profile.unmerge': '拆分',
  'profile.unmergeConfirm': '拆分这次合并？',
  'profile.unmergeConfirmText': '被合并的档案将恢复为独立客户，其身份与事件随之移回。',
  'profile.unmerged': '已拆分，恢复的档案：{id}',
  'profile.noMerges': '没有合并记录',
  'profile.colTag': '标签',
  'profile.colTagSource': '来源',
  'profile.colAppliedAt': '打标时间',
  'profile.noTags': '还没有标签',
  'profile.thisProfile': '当前档案',
  'tagSource.manual': '手动',
  'tagSource.rule': '规则',
  'tagSource.import': '导入',
  'tagSource.api': 'API',

  // conflicts
  'conflicts.title': '身份冲突',
  'conflicts.subtitle': '因身份规则（如每人上限）被阻止的合并，需要人工核对',
  'conflicts.colTime': '时间',
  'conflicts.colReason': '原因',
  'conflicts.colIdentifier': '身份标识',
  'conflicts.colProfile': '客户档案',
  'conflicts.colOtherProfile': '冲突档案',
  'conflicts.colMessage': '消息ID',
  'conflicts.empty': '没有身份冲突',

  // identity types
  'idTypes.title': '身份规则',
  'idTypes.subtitle': '身份打通（ID-Mapping）使用的标识类型：优先级高的身份决定归属与合并后保留的档案',
  'idTypes.colType': '身份类型',
  'idTypes.colCode': '标识',
  'idTypes.colPriority': '优先级',
  'idTypes.colMax': '每人上限',
  'idTypes.colBuiltin': '类型',
  'idTypes.builtin': '内置',
  'idTypes.custom': '自定义',
  'idTypes.maxHint': '超过上限的合并会被阻止并记为身份冲突',

  // workspaces
  'workspaces.title': '工作区',
  'workspaces.subtitle': '每个工作区的数据彼此隔离，拥有独立的写入密钥与管理令牌',
  'workspaces.create': '新建工作区',
  'workspaces.colName': '名称',
  'workspaces.colId': 'ID',
  'workspaces.colTimeZone': '时区',
  'workspaces.current': '当前',
  'workspaces.name': '工作区名称',
  'workspaces.namePlaceholder': '如：品牌官方商城',
  'workspaces.nameRequired': '请输入工作区名称',
  'workspaces.timeZone': '时区',
  'workspaces.createOk': '创建',
  'workspaces.created': '工作区「{name}」已创建',
  'workspaces.keysTitle': '请立即保存以下密钥',
  'workspaces.keysWarning': '写入密钥和管理令牌只显示这一次，关闭后无法再次查看。',
  'workspaces.writeKey': '写入密钥（Write Key，用于 SDK / 上报接口）',
  'workspaces.adminToken': '管理令牌（Admin Token，用于控制台与管理 API）',
  'workspaces.keysSaved': '我已保存',
  'workspaces.adminOnly': '只有实例管理员可以新建工作区',
} as const;

export type MessageKey = keyof typeof zh;
type Dictionary = Record<MessageKey, string>;

const en: Dictionary = {
  'app.name': 'Siyu',
  'app.title': 'Siyu Console',

  'login.subtitle': 'Private-domain customer data platform · CDP / SCRM',
  'login.tokenLabel': 'Admin token',
  'login.tokenPlaceholder': 'Paste the admin token',
  'login.tokenRequired': 'Enter the admin token',
  'login.hint': 'Run {command} on the server to print the admin token.',
  'login.submit': 'Sign in',
  'login.invalid': 'This admin token is invalid or was revoked. Get a current one and try again.',
  'login.sessionExpired': 'Your session ended. Enter the admin token again.',

  'menu.overview': 'Overview',
  'menu.profiles': 'Profiles',
  'menu.groupIdentity': 'Identity',
  'menu.conflicts': 'Identity conflicts',
  'menu.identityTypes': 'Identity rules',
  'menu.groupSettings': 'Settings',
  'menu.workspaces': 'Workspaces',
  'header.workspace': 'Workspace',
  'header.instanceAdmin': 'Instance admin',
  'header.logout': 'Log out',
  'header.language': 'Language',
  'layout.loadingWorkspace': 'Loading workspace…',
  'layout.loadFailed': 'Could not load the workspace',

  'common.retry': 'Retry',
  'common.refresh': 'Refresh',
  'common.prevPage': 'Previous',
  'common.nextPage': 'Next',
  'common.pageN': 'Page {page}',
  'common.perPage': '{n} / page',
  'common.unlimited': 'Unlimited',
  'common.cancel': 'Cancel',
  'common.backHome': 'Back to overview',
  'common.back': 'Back',
  'common.showFull': 'Show full values',
  'common.masked': 'Masked',
  'common.createdAt': 'Created',
  'common.updatedAt': 'Updated',
  'common.notFoundTitle': 'Page not found',
  'common.notFoundText': 'The page you are looking for does not exist or was removed.',
  'common.crashTitle': 'Something went wrong',
  'common.crashText': 'The page hit an unexpected error: {message}',

  'error.network': 'Cannot reach the Siyu server. Check that it is running (npm start).',
  'error.unknown': 'An unknown error occurred',

  'overview.title': 'Overview',
  'overview.subtitle': 'Customers and behaviour in this workspace at a glance',
  'overview.profiles': 'Profiles',
  'overview.events': 'Events',
  'overview.mergedProfiles': 'Merged profiles',
  'overview.openConflicts': 'Open conflicts',
  'overview.eventsPerDay': 'Events, last 30 days',
  'overview.topEvents': 'Top 10 events',
  'overview.identitiesByType': 'Identities by type',
  'overview.eventsSeries': 'Events',
  'overview.countSeries': 'Count',
  'overview.noEvents': 'No events yet. Send data via /v1/track or an SDK and the trend shows up here.',
  'overview.noIdentities': 'No identities yet',

  'idType.user_id': 'User ID',
  'idType.member_no': 'Member no.',
  'idType.wechat_unionid': 'WeChat UnionID',
  'idType.phone': 'Phone',
  'idType.email': 'Email',
  'idType.wecom_external_userid': 'WeCom external user ID',
  'idType.wechat_openid': 'WeChat OpenID',
  'idType.device_id': 'Device ID',
  'idType.anonymous_id': 'Anonymous ID',

  'profiles.title': 'Profiles',
  'profiles.subtitle': 'Unified customer profiles (OneID); find them by identifier or trait',
  'profiles.lookupTitle': 'Look up by identifier',
  'profiles.lookupPlaceholder': 'Identifier value, e.g. 13800138000',
  'profiles.lookupButton': 'Look up',
  'profiles.lookupNotFound': 'No profile has {type} "{value}"',
  'profiles.lookupEmpty': 'Enter an identifier value to look up',
  'profiles.searchPlaceholder': 'Search name, nickname, phone…',
  'profiles.traitFilter': 'Trait filter',
  'profiles.traitName': 'Trait, e.g. city',
  'profiles.traitValue': 'Value, e.g. Shanghai',
  'profiles.addFilter': 'Add filter',
  'profiles.clearFilters': 'Clear filters',
  'profiles.filterNeedsBoth': 'Enter both a trait name and a value',
  'profiles.colCustomer': 'Customer',
  'profiles.colPhone': 'Phone',
  'profiles.colEmail': 'Email',
  'profiles.colOrders': 'Orders',
  'profiles.colSpent': 'Total spent',
  'profiles.colLastSeen': 'Last seen',
  'profiles.colCreated': 'Created',
  'profiles.unnamed': 'Unnamed customer',
  'profiles.empty': 'No profiles match',
  'profiles.moreIdentities': '+{n} more',

  'profile.backToList': 'Back to profiles',
  'profile.notFound': 'Profile not found',
  'profile.notFoundText': 'Profile {id} does not exist: it may have been deleted or merged into another profile.',
  'profile.export': 'Export data',
  'profile.exported': 'Profile data exported',
  'profile.delete': 'Delete',
  'profile.deleteTitle': "Delete all of this customer's personal data?",
  'profile.deleteBody':
    "Under the right to erasure (China PIPL / GDPR) this permanently deletes the customer's profile, identities, events and tags, and suppresses their identifiers so the same identifiers sent later do not create a new profile. This cannot be undone.",
  'profile.deleteOk': 'Delete permanently',
  'profile.deleted': 'Customer data deleted; {n} identifiers suppressed',
  'profile.orderCount': 'Orders',
  'profile.totalSpent': 'Total spent',
  'profile.avgOrderValue': 'Avg. order value',
  'profile.refunds': 'Refunds',
  'profile.refundSummary': '{count} · {amount}',
  'profile.eventCount': 'Events',
  'profile.firstOrder': 'First purchase',
  'profile.lastOrder': 'Last purchase',
  'profile.firstSeen': 'First seen',
  'profile.lastSeen': 'Last seen',
  'profile.tabTraits': 'Traits',
  'profile.tabIdentities': 'Identities',
  'profile.tabTimeline': 'Timeline',
  'profile.tabMerges': 'Merges',
  'profile.tabTags': 'Tags',
  'profile.traitsTitle': 'Traits',
  'profile.firstTouchTitle': 'First-touch traits',
  'profile.firstTouchHint': 'Where the customer came from when first recorded; never overwritten.',
  'profile.colTrait': 'Trait',
  'profile.colValue': 'Value',
  'profile.colSetAt': 'Set at',
  'profile.noTraits': 'No traits',
  'profile.noFirstTouch': 'No first-touch data',
  'profile.colIdType': 'Type',
  'profile.colIdValue': 'Value',
  'profile.colFirstSeen': 'First seen',
  'profile.colSourceMessage': 'Source message',
  'profile.noEvents': 'No activity yet',
  'profile.loadMore': 'Load more',
  'profile.noMore': 'No more events',
  'profile.eventReceivedAt': 'received {time}',
  'profile.eventProperties': 'Properties',
  'profile.eventContext': 'Context',
  'profile.eventType.identify': 'Identify',
  'profile.eventType.track': 'Track',
  'profile.eventType.page': 'Page view',
  'profile.eventType.screen': 'Screen view',
  'profile.eventType.group': 'Group',
  'profile.eventType.alias': 'Alias',
  'profile.colMergedAt': 'Merged at',
  'profile.colWinner': 'Kept profile',
  'profile.colLoser': 'Merged profile',
  'profile.colReason': 'Reason',
  'profile.colActor': 'Actor',
  'profile.colStatus': 'Status',
  'profile.colActions': 'Actions',
  'profile.mergeActive': 'Merged',
  'profile.mergeUndone': 'Unmerged {time}',
  'profile.unmerge': 'Unmerge',
  'profile.unmergeConfirm': 'Undo this merge?',
  'profile.unmergeConfirmText': 'The merged profile becomes a separate customer again, with its identities and events.',
  'profile.unmerged': 'Unmerged; restored profile {id}',
  'profile.noMerges': 'No merges',
  'profile.colTag': 'Tag',
  'profile.colTagSource': 'Source',
  'profile.colAppliedAt': 'Applied at',
  'profile.noTags': 'No tags yet',
  'profile.thisProfile': 'this profile',
  'tagSource.manual': 'Manual',
  'tagSource.rule': 'Rule',
  'tagSource.import': 'Import',
  'tagSource.api': 'API',

  'conflicts.title': 'Identity conflicts',
  'conflicts.subtitle': 'Merges blocked by identity rules (such as per-profile limits), to be reviewed by a person',
  'conflicts.colTime': 'Time',
  'conflicts.colReason': 'Reason',
  'conflicts.colIdentifier': 'Identifier',
  'conflicts.colProfile': 'Profile',
  'conflicts.colOtherProfile': 'Conflicting profile',
  'conflicts.colMessage': 'Message ID',
  'conflicts.empty': 'No identity conflicts',

  'idTypes.title': 'Identity rules',
  'idTypes.subtitle':
    'Identifier types used by ID-mapping: the highest-priority identifier decides which profile a message belongs to and which survives a merge',
  'idTypes.colType': 'Identifier type',
  'idTypes.colCode': 'Code',
  'idTypes.colPriority': 'Priority',
  'idTypes.colMax': 'Max per profile',
  'idTypes.colBuiltin': 'Kind',
  'idTypes.builtin': 'Built-in',
  'idTypes.custom': 'Custom',
  'idTypes.maxHint': 'A merge that would exceed the limit is blocked and recorded as a conflict',

  'workspaces.title': 'Workspaces',
  'workspaces.subtitle': 'Each workspace is isolated, with its own write key and admin token',
  'workspaces.create': 'New workspace',
  'workspaces.colName': 'Name',
  'workspaces.colId': 'ID',
  'workspaces.colTimeZone': 'Time zone',
  'workspaces.current': 'Current',
  'workspaces.name': 'Workspace name',
  'workspaces.namePlaceholder': 'e.g. Brand online store',
  'workspaces.nameRequired': 'Enter a workspace name',
  'workspaces.timeZone': 'Time zone',
  'workspaces.createOk': 'Create',
  'workspaces.created': 'Workspace "{name}" created',
  'workspaces.keysTitle': 'Save these keys now',
  'workspaces.keysWarning': 'The write key and admin token are shown only once and cannot be viewed again after closing.',
  'workspaces.writeKey': 'Write key (for SDKs and the tracking API)',
  'workspaces.adminToken': 'Admin token (for the console and admin API)',
  'workspaces.keysSaved': 'I have saved them',
  'workspaces.adminOnly': 'Only an instance admin can create workspaces',
};

export const LANGUAGES = ['zh-CN', 'en-US'] as const;
export type Language = (typeof LANGUAGES)[number];

const DICTIONARIES: Record<Language, Dictionary> = { 'zh-CN': zh, 'en-US': en };
const LANGUAGE_KEY = 'siyu.language';

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

export function translate(language: Language, key: MessageKey, vars?: Record<string, string | number>): string {
  const text = DICTIONARIES[language][key];
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

/** Translates a message key only if the dictionary has it (for open sets such as identifier types). */
export function hasMessage(key: string): key is MessageKey {
  return Object.hasOwn(zh, key);
}

function readStoredLanguage(): Language {
  try {
    const stored = localStorage.getItem(LANGUAGE_KEY);
    if (stored && (LANGUAGES as readonly string[]).includes(stored)) return stored as Language;
  } catch {
    // storage unavailable (private mode): use the default
  }
  return 'zh-CN';
}

interface I18nValue {
  language: Language;
  setLanguage: (language: Language) => void;
  t: Translate;
}

const I18nContext = createContext<I18nValue | null>(null);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [language, setLanguageState] = useState<Language>(readStoredLanguage);

  const setLanguage = useCallback((next: Language) => {
    setLanguageState(next);
    try {
      localStorage.setItem(LANGUAGE_KEY, next);
    } catch {
      // not persisted; still switched for this session
    }
  }, []);

  const value = useMemo<I18nValue>(
    () => ({ language, setLanguage, t: (key, vars) => translate(language, key, vars) }),
    [language, setLanguage],
  );
  return createElement(I18nContext.Provider, { value }, children);
}

export function useI18n(): I18nValue {
  const value = useContext(I18nContext);
  if (!value) throw new Error('useI18n must be used inside <I18nProvider>');
  return value;
}
