/**
 * The exact wordings sent to Molmo, each taken from what the released 0924 models were trained on.
 * Sources are in the reference code, allenai/molmo `olmo/data/data_formatter.py` (GENERAL_PROMPTS_V1,
 * DataFormatter) unless noted; models/prompt/README.md gives the reasoning.
 */

/**
 * Long caption: the first `long_caption` template. The reference's deterministic mode
 * (`DataFormatter.debug`) always picks a list's first template, and the HF model card's example sends
 * exactly this text.
 */
export const LONG_CAPTION_PROMPT = "Describe this image.";

/**
 * Short caption: a `short_caption` wording. No short-caption data was in the released fine-tuning
 * mixture, so this relies on the model's general instruction following (PixMo AskModelAnything).
 */
export const SHORT_CAPTION_PROMPT = "Briefly describe the image.";

/**
 * Pointing: the first `pointing` template (the deterministic pick). The model answers with `<point>`
 * or `<points>` markup, or "There are none." when nothing matches (`DataFormatter.format_points`).
 */
export const POINT_TEMPLATE = "Point to {label}\nPlease say 'This isn't in the image.' if it is not in the image.";

/**
 * Counting: a `point_count` template that asks for points and the count in so many words. Every
 * `point_count` template is trained on the same answer, "Counting the <points …>label</points> shows a
 * total of N." (`format_points`), so the choice only has to be unambiguous: plain "how many" questions
 * also occur in the conversational data, where they were prefixed with a "no pointing" instruction
 * (`pixmo_datasets.py` NO_POINT_PREFIX).
 */
export const COUNT_TEMPLATE = "Point to and count the {label} in the picture.";

/**
 * Clock reading: the reference's clock benchmark prompt (`olmo/data/academic_datasets.py::ClockBench`),
 * sent with the `clocks` style. `clocks` is not one of the DEMO_STYLES, so it was always prefixed in
 * training; PixMo-Clocks was used for the published models (reference README, "Training Changes").
 */
export const CLOCK_QUESTION = "What time is being shown?";

/** The style names used as `"<style>:"` prefixes (`DataFormatter.get_system_prompt`). */
export const STYLE = {
  longCaption: "long_caption",
  pointing: "pointing",
  pointCount: "point_count",
  clocks: "clocks",
} as const;

/** Fills the `{label}` slot of a template (a function replacer, so "$&" in a label stays literal). */
export function fillLabel(template: string, label: string): string {
  return template.replace("{label}", () => label);
}
