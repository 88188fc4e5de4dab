import roaring from 'roaring';
import type { ConditionNode } from '@siyu/core';

const { RoaringBitmap32 } = roaring;

/** A compressed set of profile numbers (`profiles.num`). */
export type Bitmap = InstanceType<typeof RoaringBitmap32>;

export function newBitmap(values?: Iterable<number>): Bitmap {
  return values ? new RoaringBitmap32(values) : new RoaringBitmap32();
}

/** A profile's layer cell, as stored in `profile_layers`. */
export interface LayerCell {
  lifecycle: string | null;
  rfm: { r: number; f: number; m: number; segment: string } | null;
}

/** Membership deltas, applied to the bitmaps after their rows are committed. */
export interface BitmapDelta {
  kind: 'tag' | 'segment';
  refId: string;
  num: number;
  action: 'add' | 'remove';
}

/**
 * One workspace's audience membership in roaring bitmaps keyed by `profiles.num`: every canonical
 * profile, each tag, each segment, each lifecycle stage, each R/F/M score and each RFM segment. A
 * condition made only of tags, segments, lifecycle and RFM (with all/any/not) is answered here by
 * set algebra: `{ all: [t1, t2, t3] }` is two ANDs, `not` is a difference from `all`.
 */
export class AudienceBitmaps {
  readonly all: Bitmap = newBitmap();
  readonly tags = new Map<string, Bitmap>();
  readonly segments = new Map<string, Bitmap>();
  readonly lifecycle = new Map<string, Bitmap>();
  readonly rfmScores = { r: new Map<number, Bitmap>(), f: new Map<number, Bitmap>(), m: new Map<number, Bitmap>() };
  readonly rfmSegments = new Map<string, Bitmap>();
  /**
   * False for bitmaps read without the canonical profiles (`AudienceIndex.loadNow` planning a condition that takes
   * no complement, see {@link usesComplement}): `all` is then empty, results are not restricted to canonical
   * profiles — supersets, which the evaluation narrows (it reads canonical profiles only) — and complements are
   * unknown ({@link leaf} answers null for them).
   */
  allKnown = true;

  private static of<K>(map: Map<K, Bitmap>, key: K): Bitmap {
    let b = map.get(key);
    if (!b) map.set(key, (b = newBitmap()));
    return b;
  }

  tag(id: string): Bitmap {
    return AudienceBitmaps.of(this.tags, id);
  }

  segment(id: string): Bitmap {
    return AudienceBitmaps.of(this.segments, id);
  }

  apply(delta: BitmapDelta): void {
    const b = delta.kind === 'tag' ? this.tag(delta.refId) : this.segment(delta.refId);
    if (delta.action === 'add') b.add(delta.num);
    else b.remove(delta.num);
  }

  /** Sets a profile's layer cell (null: no layers), replacing the previous one. */
  setLayers(num: number, cell: LayerCell | null): void {
    this.clearLayers(num);
    if (cell) this.addLayers([num], cell);
  }

  /** Adds profiles to a layer cell's bitmaps (bulk loading: the profiles must have no cell yet). */
  addLayers(nums: ArrayLike<number> & Iterable<number>, cell: LayerCell): void {
    if (nums.length === 0) return;
    const list = nums instanceof Uint32Array ? nums : Uint32Array.from(nums);
    if (cell.lifecycle) AudienceBitmaps.of(this.lifecycle, cell.lifecycle).addMany(list);
    if (cell.rfm) {
      AudienceBitmaps.of(this.rfmScores.r, cell.rfm.r).addMany(list);
      AudienceBitmaps.of(this.rfmScores.f, cell.rfm.f).addMany(list);
      AudienceBitmaps.of(this.rfmScores.m, cell.rfm.m).addMany(list);
      AudienceBitmaps.of(this.rfmSegments, cell.rfm.segment).addMany(list);
    }
  }

  /** Keeps only `keep`'s profiles in the layer bitmaps, dropping bitmaps left empty (bulk loading). */
  restrictLayersTo(keep: Bitmap): void {
    for (const map of [this.lifecycle, this.rfmScores.r, this.rfmScores.f, this.rfmScores.m, this.rfmSegments] as Map<unknown, Bitmap>[]) {
      for (const [k, b] of map) {
        b.andInPlace(keep);
        if (b.isEmpty) map.delete(k);
      }
    }
  }

  private clearLayers(num: number): void {
    for (const map of [this.lifecycle, this.rfmScores.r, this.rfmScores.f, this.rfmScores.m, this.rfmSegments] as Map<unknown, Bitmap>[]) {
      for (const b of map.values()) b.remove(num);
    }
  }

  /** Forgets a profile everywhere (merged away or erased). */
  removeProfile(num: number): void {
    this.all.remove(num);
    for (const b of this.tags.values()) b.remove(num);
    for (const b of this.segments.values()) b.remove(num);
    this.clearLayers(num);
  }

  /** Whether `node` uses only tags, segments, lifecycle and RFM under all/any/not. */
  static canEvaluate(node: ConditionNode): boolean {
    if ('all' in node) return node.all.every((n) => AudienceBitmaps.canEvaluate(n));
    if ('any' in node) return node.any.every((n) => AudienceBitmaps.canEvaluate(n));
    if ('not' in node) return AudienceBitmaps.canEvaluate(node.not);
    return 'tag' in node || 'segment' in node || 'lifecycle' in node || 'rfm' in node || 'rfm_segment' in node;
  }

  /**
   * The canonical profiles matching a bitmap-only condition (see {@link canEvaluate}). `resolveTag`
   * maps a tag reference (id or name) to the tag id. The result is a new bitmap the caller owns.
   */
  evaluate(node: ConditionNode, resolveTag: (ref: string) => string | undefined): Bitmap {
    if (!this.allKnown) {
      if (AudienceBitmaps.usesComplement(node)) throw new Error('a complement needs the canonical profiles: these bitmaps were read without them');
      return this.eval(node, resolveTag).clone();
    }
    return RoaringBitmap32.and(this.eval(node, resolveTag), this.all);
  }

  /** Whether `node` takes a complement anywhere (`not`, a tag it must not have, a segment it must not be in): it needs `all`. */
  static usesComplement(node: ConditionNode): boolean {
    if ('all' in node) return node.all.some((n) => AudienceBitmaps.usesComplement(n));
    if ('any' in node) return node.any.some((n) => AudienceBitmaps.usesComplement(n));
    if ('not' in node) return true;
    if ('tag' in node) return !node.has;
    if ('segment' in node) return !node.in;
    return false;
  }

  /**
   * The exact set of canonical profiles matching a bitmap-only leaf (tag, segment, lifecycle, RFM,
   * RFM segment), or null for any other node. A new bitmap the caller owns.
   */
  leaf(node: ConditionNode, resolveTag: (ref: string) => string | undefined): Bitmap | null {
    if ('all' in node || 'any' in node || 'not' in node || !AudienceBitmaps.canEvaluate(node)) return null;
    if (!this.allKnown && AudienceBitmaps.usesComplement(node)) return null;
    return this.evaluate(node, resolveTag);
  }

  private eval(node: ConditionNode, resolveTag: (ref: string) => string | undefined): Bitmap {
    if ('all' in node) {
      const [first, ...rest] = node.all.map((n) => this.eval(n, resolveTag));
      let out = first ? first.clone() : this.all.clone();
      for (const b of rest) {
        if (out.isEmpty) break;
        out = RoaringBitmap32.and(out, b);
      }
      return out;
    }
    if ('any' in node) return RoaringBitmap32.orMany(node.any.map((n) => this.eval(n, resolveTag)));
    if ('not' in node) return RoaringBitmap32.andNot(this.all, this.eval(node.not, resolveTag));
    if ('tag' in node) {
      const id = resolveTag(node.tag);
      const b = (id !== undefined ? this.tags.get(id) : undefined) ?? newBitmap();
      return node.has ? b : RoaringBitmap32.andNot(this.all, b);
    }
    if ('segment' in node) {
      const b = this.segments.get(node.segment) ?? newBitmap();
      return node.in ? b : RoaringBitmap32.andNot(this.all, b);
    }
    if ('lifecycle' in node) {
      const stages: readonly string[] = Array.isArray(node.lifecycle) ? node.lifecycle : [node.lifecycle];
      return union(stages.map((s) => this.lifecycle.get(s)));
    }
    if ('rfm' in node) {
      let out: Bitmap | null = null;
      for (const dim of ['r', 'f', 'm'] as const) {
        const scores = node.rfm[dim];
        if (!scores) continue;
        const b = union(scores.map((s) => this.rfmScores[dim].get(s)));
        out = out ? RoaringBitmap32.and(out, b) : b;
      }
      return out ?? newBitmap();
    }
    if ('rfm_segment' in node) {
      const names: readonly string[] = Array.isArray(node.rfm_segment) ? node.rfm_segment : [node.rfm_segment];
      return union(names.map((s) => this.rfmSegments.get(s)));
    }
    throw new TypeError('condition needs the bulk evaluator');
  }
}

function union(bitmaps: ReadonlyArray<Bitmap | undefined>): Bitmap {
  const present = bitmaps.filter((b): b is Bitmap => b !== undefined);
  if (present.length === 0) return newBitmap();
  if (present.length === 1) return present[0]!;
  return RoaringBitmap32.orMany(present);
}
