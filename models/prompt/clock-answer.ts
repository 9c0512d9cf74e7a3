/**
 * Reads the time out of Molmo's answer to the clock task. PixMo-Clocks answers are sentences holding
 * the time as H:MM or H:MM:SS (the reference's `ClockEval` splits on ":" and takes the integer on each
 * side); this takes the first such time in the text.
 */

/** A time read from an answer. */
export interface ClockReading {
  readonly hours: number;
  readonly minutes: number;
  /** Present when the answer gave seconds. */
  readonly seconds?: number;
  /** The time as zero-padded "HH:MM" (hours as the model gave them, 0-23). */
  readonly hhmm: string;
}

const TIME_PATTERN = /(?<![\d:])(\d{1,2}):([0-5]\d)(?::([0-5]\d))?(?![\d:])/;

/** The first time in `answer`, or undefined if it holds none (e.g. the model declined to answer). */
export function parseClockAnswer(answer: string): ClockReading | undefined {
  const match = TIME_PATTERN.exec(answer);
  if (match === null) {
    return undefined;
  }
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  if (hours > 23) {
    return undefined;
  }
  const hhmm = `${String(hours).padStart(2, "0")}:${match[2]}`;
  return match[3] === undefined ? { hours, minutes, hhmm } : { hours, minutes, seconds: Number(match[3]), hhmm };
}
