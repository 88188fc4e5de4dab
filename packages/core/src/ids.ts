/** Prefixes of Siyu's sortable ids: `prof_01J…`. Generation lives outside core (it needs a clock and randomness). */
export const ID_PREFIXES = {
  workspace: 'ws',
  profile: 'prof',
  event: 'evt',
  merge: 'mrg',
  conflict: 'cnf',
  tag: 'tag',
  tagGroup: 'tgg',
  segment: 'seg',
  import: 'imp',
} as const;
export type IdKind = keyof typeof ID_PREFIXES;

/** Injected id generator: `newId('profile')` → `prof_…`. */
export type NewId = (kind: IdKind) => string;
