/** Siyu's brand blue: close to Ant Design's default so stock components look at home. */
export const BRAND_COLOR = '#1f5eff';
