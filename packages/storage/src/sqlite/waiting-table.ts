/**
 * 32-bit key → inbox seq, for the messages waiting in the SQLite inbox (see SqliteHotPath): open
 * addressing with linear probing over two typed arrays, at most half full. 12 bytes a slot — ~24 bytes
 * a waiting message — where a `Map<number, number>` took ~70 (33–40 MB of the server thread's heap with
 * 500k messages waiting during a 1M-profile ingest). Hand-written: the npm hash maps on typed arrays
 * are either unmaintained or pull in a collection library for one structure.
 */
export class WaitingTable {
  private keys: Int32Array;
  /** 0: an empty slot (inbox seqs start at 1). */
  private seqs: Float64Array;
  private mask: number;
  /** 32 − log2(slots): the top bits of the multiplicative hash pick the home slot. */
  private shift: number;
  size = 0;

  constructor(capacity = 1024) {
    const n = 2 ** Math.ceil(Math.log2(Math.max(16, capacity)));
    this.keys = new Int32Array(n);
    this.seqs = new Float64Array(n);
    this.mask = n - 1;
    this.shift = 32 - Math.log2(n);
  }

  /** Slots allocated (tests and memory figures). */
  get capacity(): number {
    return this.seqs.length;
  }

  get(key: number): number | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.seqs[i];
  }

  /** Adds `key`, or moves it to `seq`. */
  set(key: number, seq: number): void {
    if (!(seq >= 1)) throw new RangeError(`inbox seqs start at 1, got ${seq}`);
    const i = this.find(key);
    if (i >= 0) {
      this.seqs[i] = seq;
      return;
    }
    if ((this.size + 1) * 2 > this.seqs.length) this.resize(this.seqs.length * 2);
    let j = this.home(key);
    while (this.seqs[j] !== 0) j = (j + 1) & this.mask;
    this.keys[j] = key;
    this.seqs[j] = seq;
    this.size++;
  }

  delete(key: number): void {
    let i = this.find(key);
    if (i < 0) return;
    this.seqs[i] = 0;
    this.size--;
    // Backward shift: move up each following entry of the run whose home is not in (i, j], so every
    // entry stays reachable from its home without tombstones.
    for (let j = (i + 1) & this.mask; this.seqs[j] !== 0; j = (j + 1) & this.mask) {
      const h = this.home(this.keys[j]!);
      const between = i <= j ? h > i && h <= j : h > i || h <= j;
      if (between) continue;
      this.keys[i] = this.keys[j]!;
      this.seqs[i] = this.seqs[j]!;
      this.seqs[j] = 0;
      i = j;
    }
  }

  /** Keeps only the entries with `seq >= minSeq` (all of them gone when `minSeq` is null). */
  retainFrom(minSeq: number | null): void {
    const keys = this.keys;
    const seqs = this.seqs;
    let kept = 0;
    const keep = (i: number) => minSeq !== null && seqs[i] !== 0 && seqs[i]! >= minSeq;
    for (let i = 0; i < seqs.length; i++) if (keep(i)) kept++;
    const next = new WaitingTable(kept * 2);
    for (let i = 0; i < seqs.length; i++) if (keep(i)) next.set(keys[i]!, seqs[i]!);
    this.keys = next.keys;
    this.seqs = next.seqs;
    this.mask = next.mask;
    this.shift = next.shift;
    this.size = next.size;
  }

  private find(key: number): number {
    for (let i = this.home(key); ; i = (i + 1) & this.mask) {
      if (this.seqs[i] === 0) return -1;
      if (this.keys[i] === key) return i;
    }
  }

  /** The slot a key starts probing from: Fibonacci hashing, the product's top bits. */
  private home(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> this.shift;
  }

  private resize(n: number): void {
    const { keys, seqs } = this;
    this.keys = new Int32Array(n);
    this.seqs = new Float64Array(n);
    this.mask = n - 1;
    this.shift = 32 - Math.log2(n);
    this.size = 0;
    for (let i = 0; i < seqs.length; i++) if (seqs[i] !== 0) this.set(keys[i]!, seqs[i]!);
  }
}
