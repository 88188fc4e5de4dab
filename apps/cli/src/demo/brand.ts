/** The demo brand: a new-style Chinese tea-drink chain (新中式茶饮) with stores, a mini program, an official account and WeCom. */

export const BRAND_NAME = '演示品牌 · 青禾茶饮';
export const OA_APP_ID = 'wx_demo_oa';
export const MP_APP_ID = 'wx_demo_mp';

export const SURNAMES = [
  '王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '马', '朱', '胡', '郭', '何', '林', '罗', '高',
  '郑', '梁', '谢', '宋', '唐', '许', '韩', '冯', '邓', '曹', '彭', '曾', '肖', '田', '董', '袁', '潘', '蒋', '蔡', '余',
  '杜', '叶', '程', '苏', '魏', '吕', '丁', '任', '沈', '姚', '卢', '姜', '崔', '钟', '谭', '陆', '汪', '范', '金', '石',
  '廖', '贾', '夏', '韦', '方', '白', '邹', '孟', '熊', '秦', '邱', '江', '尹', '薛', '段', '雷', '侯', '龙', '史', '陶',
  '欧阳', '司马', '上官',
] as const;

export const FEMALE_NAMES = [
  '婷', '雪', '静', '敏', '丽', '娟', '慧', '琳', '悦', '洁', '颖', '倩', '萌', '瑶', '晴', '欣怡', '梓涵', '诗涵', '雨桐', '佳怡',
  '思琪', '晓燕', '可馨', '子萱', '一诺', '若曦', '语嫣', '梦瑶', '紫萱', '心怡', '嘉怡', '雅琪', '晓雯', '安琪', '书瑶', '沐晴',
] as const;

export const MALE_NAMES = [
  '伟', '强', '磊', '军', '洋', '勇', '杰', '涛', '明', '辉', '鹏', '超', '浩然', '宇轩', '子豪', '俊杰', '博文', '思远', '梓轩',
  '一鸣', '天佑', '家豪', '志强', '文博', '嘉懿', '泽宇', '皓轩', '晨阳', '明哲', '俊熙',
] as const;

export interface Store {
  id: string;
  name: string;
  city: string;
}

export const CITIES: readonly (readonly [string, number])[] = [
  ['上海', 22],
  ['北京', 16],
  ['杭州', 12],
  ['深圳', 12],
  ['成都', 10],
  ['广州', 9],
  ['南京', 7],
  ['苏州', 6],
  ['武汉', 6],
];

export const STORES: readonly Store[] = [
  { id: 'SH01', name: '上海静安嘉里中心店', city: '上海' },
  { id: 'SH02', name: '上海徐汇日月光店', city: '上海' },
  { id: 'SH03', name: '上海陆家嘴正大广场店', city: '上海' },
  { id: 'BJ01', name: '北京三里屯太古里店', city: '北京' },
  { id: 'BJ02', name: '北京西单大悦城店', city: '北京' },
  { id: 'HZ01', name: '杭州湖滨银泰in77店', city: '杭州' },
  { id: 'HZ02', name: '杭州西溪天街店', city: '杭州' },
  { id: 'SZ01', name: '深圳万象天地店', city: '深圳' },
  { id: 'SZ02', name: '深圳海岸城店', city: '深圳' },
  { id: 'CD01', name: '成都太古里店', city: '成都' },
  { id: 'GZ01', name: '广州天环广场店', city: '广州' },
  { id: 'NJ01', name: '南京新街口德基店', city: '南京' },
  { id: 'SU01', name: '苏州观前街店', city: '苏州' },
  { id: 'WH01', name: '武汉楚河汉街店', city: '武汉' },
];

export interface MenuItem {
  sku: string;
  name: string;
  price: number;
  category: string;
  /** Weight in a typical order. */
  weight: number;
}

export const MENU: readonly MenuItem[] = [
  { sku: 'QH-T01', name: '桂花乌龙奶茶', price: 18, category: '奶茶', weight: 14 },
  { sku: 'QH-T02', name: '茉莉奶绿', price: 16, category: '奶茶', weight: 12 },
  { sku: 'QH-T03', name: '黑糖波波鲜奶', price: 21, category: '鲜奶茶', weight: 9 },
  { sku: 'QH-T04', name: '杨枝甘露', price: 22, category: '果茶', weight: 11 },
  { sku: 'QH-T05', name: '多肉葡萄', price: 25, category: '果茶', weight: 9 },
  { sku: 'QH-T06', name: '芝士莓莓', price: 26, category: '果茶', weight: 7 },
  { sku: 'QH-T07', name: '霸气橙子', price: 19, category: '果茶', weight: 7 },
  { sku: 'QH-T08', name: '柠檬红茶', price: 12, category: '纯茶', weight: 8 },
  { sku: 'QH-T09', name: '冷泡白桃乌龙', price: 15, category: '纯茶', weight: 6 },
  { sku: 'QH-T10', name: '抹茶麻薯', price: 23, category: '鲜奶茶', weight: 6 },
  { sku: 'QH-S01', name: '桃酥', price: 12, category: '小食', weight: 4 },
  { sku: 'QH-S02', name: '蛋黄酥', price: 15, category: '小食', weight: 3 },
  { sku: 'QH-R01', name: '大红袍茶叶礼盒', price: 168, category: '茶礼', weight: 0.6 },
  { sku: 'QH-R02', name: '冷泡茶组合装（12袋）', price: 59, category: '茶礼', weight: 1.2 },
  { sku: 'QH-R03', name: '青禾联名保温杯', price: 129, category: '周边', weight: 0.8 },
];

export const DRINK_OPTIONS = ['大杯 少糖 少冰', '中杯 正常糖 去冰', '大杯 三分糖 热', '中杯 无糖 少冰', '大杯 五分糖 常温', '超大杯 少糖 去冰'] as const;

export const MP_SCREENS = ['首页', '点单', '会员中心', '积分商城', '我的订单'] as const;

export const OA_ARTICLES = ['春日限定｜樱花乌龙回来了', '会员日双倍积分', '新店开业｜买一送一', '一杯好茶的十二道工序', '夏日冰饮第二杯半价', '秋天的第一杯桂花乌龙'] as const;

export const FOLLOW_SCENES: readonly (readonly [string, number])[] = [
  ['store_qrcode', 5],
  ['search', 2],
  ['article_share', 2],
  ['moments_ad', 1],
];

export const STAFF = ['店长·小雅', '导购·阿杰', '导购·小鹿', '店长·Lily', '导购·橙子'] as const;

/** China mobile prefixes that are valid numbers. */
export const PHONE_PREFIXES = ['138', '139', '136', '137', '135', '150', '151', '152', '158', '159', '182', '183', '187', '188', '130', '131', '132', '155', '156', '185', '186', '133', '153', '180', '181', '189', '177', '199'] as const;
