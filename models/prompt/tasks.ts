/**
 * The tasks users ask Molmo for, as data. {@link buildPrompt} (build-prompt.ts) turns each into the user
 * text the released models were fine-tuned on; models/prompt/README.md explains each choice.
 */

/**
 * Academic short-answer styles of the released fine-tuning mixture (reference
 * `launch_scripts/train_multitask_model.py` AUX, style names from `olmo/data/academic_datasets.py` and
 * `pixmo_datasets.py`). Prefixing a question with `"<style>:"` asks for that dataset's answer style,
 * e.g. `vqa2:` for a one- or two-word answer.
 */
export const SHORT_ANSWER_STYLES = [
  "vqa2",
  "text_vqa",
  "okvqa",
  "a_okvqa_da",
  "chart_qa",
  "doc_qa",
  "info_qa",
  "st_qa",
  "tally_qa",
  "tabwmp_da",
  "figure_qa",
  "plot_qa",
  "dv_qa",
  "pixmo_docs_charts",
  "pixmo_docs_tables",
  "pixmo_docs_diagrams",
  "pixmo_docs_other",
] as const;

/** One of {@link SHORT_ANSWER_STYLES}. */
export type ShortAnswerStyle = (typeof SHORT_ANSWER_STYLES)[number];

/** A free question, answered in the conversational "demo" style unless a short-answer style is given. */
export interface AskTask {
  readonly kind: "ask";
  readonly question: string;
  /** Academic answer style; omitted = no prefix, the conversational style the HF processor gets. */
  readonly style?: ShortAnswerStyle;
}

/** A description of the whole image. */
export interface CaptionTask {
  readonly kind: "caption";
  /** "long" (default): a detailed paragraph; "short": a sentence or two. */
  readonly detail?: "long" | "short";
  /**
   * Length hint of the caption pre-training stage: roughly the wanted caption length in characters
   * divided by 15 (the reference's default is 65, about 1000 characters). Sent as `long_caption <n>:`.
   * Only valid with detail "long". Whether the fine-tuned 0924 models still follow it is UNVERIFIED.
   */
  readonly lengthHint?: number;
  /** Prefix `long_caption:` (a style the fine-tuned models saw 10% of the time); default false. */
  readonly stylePrefix?: boolean;
}

/** Point at every instance of something; the answer is `<point>`/`<points>` markup or "There are none.". */
export interface PointTask {
  readonly kind: "point";
  /** What to point at, a short noun phrase ("red car"); lower-cased as in training. */
  readonly label: string;
  /** Prefix `pointing:` to force the pointing style; default false (the demo's behaviour). */
  readonly stylePrefix?: boolean;
}

/** Point at every instance of something, then count them: "Counting the <points …>…</points> shows a total of N.". */
export interface CountTask {
  readonly kind: "count";
  /** What to count, a plural noun phrase ("traffic lights"); lower-cased as in training. */
  readonly label: string;
  /** Prefix `point_count:` to force the point-then-count style; default false (the demo's behaviour). */
  readonly stylePrefix?: boolean;
}

/** Read the time on a clock or watch face; the answer contains the time as H:MM. */
export interface ClockTask {
  readonly kind: "clock";
}

/** Everything {@link buildPrompt} understands. */
export type MolmoTask = AskTask | CaptionTask | PointTask | CountTask | ClockTask;
