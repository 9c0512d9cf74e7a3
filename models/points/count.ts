/** The count an answer states, with where the number is. */
export interface StatedCount {
  readonly value: number;
  readonly offset: number;
}

/** What the prose of an answer says about counting. */
export interface CountReading {
  readonly stated?: StatedCount;
  /** The answer says the object is absent ("There are none.", "This isn't in the image."). */
  readonly saysAbsent: boolean;
  /** The answer talks about counting ("Counting the …", "a total of"). */
  readonly countStyle: boolean;
}

// The reference's counting evaluator (olmo/eval/evaluators.py WORD_TO_NUM) knows words up to twenty.
const WORD_TO_NUMBER: Readonly<Record<string, number>> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17,
  eighteen: 18, nineteen: 19, twenty: 20,
};

// All patterns are anchored on literal words and use bounded or non-overlapping quantifiers, so they
// run in linear time. `\s+` also absorbs the spaces left where point tags were blanked out.
const TOTAL_OF = /\btotal\s+of\s+(\d{1,9}|[a-z]{2,12})\b/gi;
const THERE_ARE = /\bthere\s+(?:are|is)\s+(\d{1,9}|[a-z]{2,12})\b/gi;
const BARE_ANSWER = /^\s*(\d{1,9}|[a-z]{2,12})\s*\.?\s*$/i;
const ABSENT = /\b(?:isn['’]t|is\s+not|aren['’]t|are\s+not)\b[^.\n]{0,40}?\bin\s+the\s+image\b|\bthere\s+are\s+none\b/i;
const COUNT_STYLE = /\bcount(?:ing|ed)?\b|\btotal\s+of\b/i;

/**
 * Reads the stated count of a counting answer, in this order (the first form found wins):
 * 1. "… a total of N" (Molmo's `point_count` answers: "Counting the <points …>cars</points> shows a total of 3.");
 * 2. "There are N …" / "There is one …" (Molmo2's count-then-point form); "There are none/no …" → 0;
 * 3. an answer that is only a number: "3", "three.", "None." → 0.
 * N may be digits or an English number word up to twenty. Unlike the reference evaluator, which takes
 * any last word that is a number, a number elsewhere in free prose is NOT read as a count.
 *
 * @param masked the answer with its point tags blanked out by spaces (same length as the original, so
 *   offsets stay valid and coordinates are not mistaken for counts).
 */
export function readCount(masked: string): CountReading {
  const stated = firstCount(TOTAL_OF, masked) ?? firstCount(THERE_ARE, masked) ?? bareCount(masked);
  return { stated, saysAbsent: ABSENT.test(masked), countStyle: COUNT_STYLE.test(masked) };
}

function firstCount(pattern: RegExp, text: string): StatedCount | undefined {
  pattern.lastIndex = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    const value = numberValue(match[1], true);
    if (value !== undefined) return { value, offset: match.index + match[0].length - match[1].length };
  }
  return undefined;
}

function bareCount(text: string): StatedCount | undefined {
  const match = BARE_ANSWER.exec(text);
  if (match === null) return undefined;
  // A bare "No." answers a yes/no question; it is not a count.
  const value = numberValue(match[1], false);
  return value === undefined ? undefined : { value, offset: match.index + match[0].indexOf(match[1]) };
}

function numberValue(word: string, allowNo: boolean): number | undefined {
  if (/^\d+$/.test(word)) return Number(word);
  const lower = word.toLowerCase();
  if (lower === "none" || (allowNo && lower === "no")) return 0;
  return WORD_TO_NUMBER[lower];
}
