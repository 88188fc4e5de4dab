/**
 * Version-4 UUIDs from a seeded generator, for message ids. Segment and RudderStack SDKs send a
 * random UUID as each `messageId`, so every stored event lands at a random place in the index
 * the events are found by message id with (on SQLite by a hash of it); counter-like ids would sort
 * together and hide that cost. Seeded so that a run is repeatable.
 */
export function seededUuids(seed: number): () => string {
  let s = seed | 0;
  const word = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  return () => {
    const a = hex(word());
    const b = hex(word());
    const c = hex(word());
    const d = hex(word());
    // xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx
    return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-${'89ab'[parseInt(c[0]!, 16) & 3]}${c.slice(1, 4)}-${c.slice(4, 8)}${d}`;
  };
}
