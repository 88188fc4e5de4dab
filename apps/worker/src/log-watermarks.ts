/**
 * Which derivation-log rows a periodic sweep may take: those a live consumer (in this or another process)
 * should long have removed. Numbers grow as rows are logged, so the last number seen at least `ageMs` ago
 * bounds rows logged at least that long ago. Fed one sample per sweep.
 */
export class LogWatermarks {
  private readonly samples: { at: number; seq: number }[] = [];

  constructor(private readonly ageMs: number) {}

  /**
   * Notes `seq`, the last number logged as of `now`; returns the last number seen at least `ageMs` before
   * `now`, or undefined while no sample is that old.
   */
  note(now: number, seq: number): number | undefined {
    this.samples.push({ at: now, seq });
    let bound: number | undefined;
    while (this.samples.length > 1 && now - this.samples[0]!.at >= this.ageMs) {
      // The oldest sample is old enough: it bounds this sweep unless a younger one also is.
      bound = this.samples[0]!.seq;
      if (now - this.samples[1]!.at >= this.ageMs) this.samples.shift();
      else break;
    }
    return bound;
  }
}
