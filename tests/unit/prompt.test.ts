/**
 * Prompt builders: the exact user text of every task, the released conversation format, and the
 * assembled [BOS][image tokens][text tokens] sequence on Molmo-7B-D's tokenizer. Expected ids come from
 * tests/fixtures/tokenizer/qwen2-golden-encodings.json, made by an independent BPE implementation over the
 * checkpoint's own vocab.json and merges.txt.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { buildInputIds, MOLMO_MAX_SEQUENCE_LENGTH, type ModelInput } from "../../models/prompt/build-input-ids";
import { buildPrompt } from "../../models/prompt/build-prompt";
import { formatConversation, formatUserMessage, type ChatTurn } from "../../models/prompt/chat-format";
import { parseClockAnswer } from "../../models/prompt/clock-answer";
import { PromptError } from "../../models/prompt/errors";
import type { MolmoTask } from "../../models/prompt/tasks";
import { MAX_LABEL_CHARS, MAX_TURN_CHARS } from "../../models/prompt/text-validation";
import type { ImageSpecialTokens } from "../../models/preprocess/types";
import type { MolmoTokenizer } from "../../models/tokenizer/molmo-tokenizer";
import { loadMolmoFixtureTokenizer, tokenizerFixturesDir } from "../helpers/molmo-tokenizer-fixture";

const golden = new Map(
  (JSON.parse(readFileSync(join(tokenizerFixturesDir(), "qwen2-golden-encodings.json"), "utf8")) as { cases: { text: string; ids: number[] }[] }).cases.map(
    (c) => [c.text, c.ids],
  ),
);

function goldenIds(text: string): number[] {
  const ids = golden.get(text);
  assert.ok(ids !== undefined, `no golden encoding for ${JSON.stringify(text)}`);
  return ids;
}

function assertPromptError(run: () => unknown, code: string, ...parts: string[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof PromptError, `expected a PromptError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const part of parts) {
      assert.ok(error.message.includes(part), `message ${JSON.stringify(error.message)} should mention ${JSON.stringify(part)}`);
    }
    return true;
  });
}

/**
 * The image-token layout of one image (molmo-reference §1.9): a 12×12 low-res view, then a high-res view of
 * `rows × cols` pooled patches, each row closed by <im_col>, each view framed by <im_start>/<im_end>.
 */
function imageTokenLayout(ids: ImageSpecialTokens, rows: number, cols: number): Int32Array {
  const view = (r: number, c: number): number[] => [ids.imStart, ...Array.from({ length: r }, () => [...Array<number>(c).fill(ids.imPatch), ids.imCol]).flat(), ids.imEnd];
  return Int32Array.from([...view(12, 12), ...view(rows, cols)]);
}

let tokenizer: MolmoTokenizer;
before(async () => {
  tokenizer = await loadMolmoFixtureTokenizer();
});

void describe("buildPrompt: the exact text of each task", () => {
  const cases: [string, MolmoTask, string][] = [
    ["free question, trimmed, no prefix", { kind: "ask", question: "  What is in the picture?\n" }, "What is in the picture?"],
    ["short-answer style", { kind: "ask", question: "What color is the car?", style: "vqa2" }, "vqa2: What color is the car?"],
    ["chart style", { kind: "ask", question: "What is the highest value?", style: "chart_qa" }, "chart_qa: What is the highest value?"],
    ["long caption (default)", { kind: "caption" }, "Describe this image."],
    ["long caption with style prefix", { kind: "caption", detail: "long", stylePrefix: true }, "long_caption: Describe this image."],
    ["long caption with length hint", { kind: "caption", lengthHint: 65 }, "long_caption 65: Describe this image."],
    ["short caption", { kind: "caption", detail: "short" }, "Briefly describe the image."],
    [
      "point, label lower-cased and tidied",
      { kind: "point", label: "  Red \n CAR " },
      "Point to red car\nPlease say 'This isn't in the image.' if it is not in the image.",
    ],
    [
      "point with style prefix",
      { kind: "point", label: "red car", stylePrefix: true },
      "pointing: Point to red car\nPlease say 'This isn't in the image.' if it is not in the image.",
    ],
    ["count", { kind: "count", label: "Traffic Lights" }, "Point to and count the traffic lights in the picture."],
    ["count with style prefix", { kind: "count", label: "boats", stylePrefix: true }, "point_count: Point to and count the boats in the picture."],
    ["clock", { kind: "clock" }, "clocks: What time is being shown?"],
    ["label with replacement patterns stays literal", { kind: "point", label: "$& and $1" }, "Point to $& and $1\nPlease say 'This isn't in the image.' if it is not in the image."],
  ];
  for (const [name, task, expected] of cases) {
    void test(name, () => assert.equal(buildPrompt(task), expected));
  }

  void test("empty, overlong and malformed input give clear errors", () => {
    assertPromptError(() => buildPrompt({ kind: "ask", question: " \n\t " }), "empty_text", "question");
    assertPromptError(() => buildPrompt({ kind: "ask", question: "x".repeat(MAX_TURN_CHARS + 1) }), "text_too_long", String(MAX_TURN_CHARS));
    assert.equal(buildPrompt({ kind: "ask", question: "x".repeat(MAX_TURN_CHARS) }).length, MAX_TURN_CHARS);
    assertPromptError(() => buildPrompt({ kind: "point", label: "   " }), "empty_text", "label");
    assertPromptError(() => buildPrompt({ kind: "count", label: "a".repeat(MAX_LABEL_CHARS + 1) }), "text_too_long", String(MAX_LABEL_CHARS));
    assertPromptError(() => buildPrompt({ kind: "ask", question: 42 } as unknown as MolmoTask), "invalid_task", "string");
    assertPromptError(() => buildPrompt({ kind: "ask", question: "Why?", style: "poetry" } as unknown as MolmoTask), "invalid_task", "poetry", "vqa2");
    assertPromptError(() => buildPrompt({ kind: "dance" } as unknown as MolmoTask), "invalid_task", "dance");
    assertPromptError(() => buildPrompt(null as unknown as MolmoTask), "invalid_task");
    assertPromptError(() => buildPrompt({ kind: "caption", detail: "medium" } as unknown as MolmoTask), "invalid_task", "medium");
    assertPromptError(() => buildPrompt({ kind: "caption", detail: "short", lengthHint: 10 }), "invalid_task", "long captions");
    for (const hint of [-1, 2.5, 401, Number.NaN]) {
      assertPromptError(() => buildPrompt({ kind: "caption", lengthHint: hint }), "invalid_task", "lengthHint");
    }
    assertPromptError(() => buildPrompt({ kind: "point", label: "cat", stylePrefix: "yes" } as unknown as MolmoTask), "invalid_task", "stylePrefix");
  });
});

void describe("conversation format", () => {
  void test("one question: leading space, User/Assistant roles, no ChatML", () => {
    assert.equal(formatUserMessage("Describe this image."), " User: Describe this image. Assistant:");
  });

  void test("multi-turn: every message starts with a space; answers are trimmed first", () => {
    const turns: ChatTurn[] = [
      { role: "user", text: "Describe this image." },
      { role: "assistant", text: " A black cat.\n" },
      { role: "user", text: "What color is its collar?" },
    ];
    assert.deepEqual(formatConversation(turns), [" User: Describe this image. Assistant:", " A black cat.", " User: What color is its collar? Assistant:"]);
  });

  void test("turns must alternate, start and end with the user, and be non-empty", () => {
    assertPromptError(() => formatConversation([]), "invalid_conversation", "no turns");
    assertPromptError(() => formatConversation([{ role: "assistant", text: "Hi" }]), "invalid_conversation", "Turn 1");
    assertPromptError(() => formatConversation([{ role: "user", text: "a" }, { role: "user", text: "b" }]), "invalid_conversation", "Turn 2");
    assertPromptError(() => formatConversation([{ role: "user", text: "a" }, { role: "assistant", text: "b" }]), "invalid_conversation", "end with a user turn");
    assertPromptError(
      () => formatConversation([{ role: "user", text: "a" }, { role: "assistant", text: "  " }, { role: "user", text: "c" }]),
      "empty_text",
      "assistant turn 2",
    );
  });
});

void describe("buildInputIds on Molmo-7B-D's tokenizer", () => {
  const BOS = 151643;

  void test("[BOS][image tokens][text tokens], exactly as the HF processor assembles it", () => {
    const image = imageTokenLayout(tokenizer.imageTokens, 12, 12);
    assert.equal(image.length, 316);
    const input = buildInputIds({ tokenizer, imageTokens: image, prompt: buildPrompt({ kind: "caption" }) });
    assert.ok(input.inputIds instanceof Int32Array);
    assert.deepEqual(Array.from(input.inputIds), [BOS, ...image, 2657, 25, 60785, 419, 2168, 13, 21388, 25]);
    assert.equal(input.imageTokenOffset, 1);
    assert.equal(input.textTokenOffset, 317);
  });

  void test("image-token positions plus imageTokenOffset are the sequence positions of the <im_patch> tokens", () => {
    const image = imageTokenLayout(tokenizer.imageTokens, 20, 28);
    const { inputIds, imageTokenOffset } = buildInputIds({ tokenizer, imageTokens: image, prompt: "What is this?" });
    const patchPositionsInImage = [...image.keys()].filter((i) => image[i] === tokenizer.imageTokens.imPatch);
    assert.equal(patchPositionsInImage.length, 144 + 20 * 28);
    const patchPositionsInSequence = [...inputIds.keys()].filter((i) => inputIds[i] === tokenizer.imageTokens.imPatch);
    assert.deepEqual(
      patchPositionsInImage.map((p) => p + imageTokenOffset),
      patchPositionsInSequence,
    );
  });

  void test("every task's prompt tokenizes to the independently computed ids", () => {
    const tasks: MolmoTask[] = [
      { kind: "point", label: "Red car" },
      { kind: "point", label: "red car", stylePrefix: true },
      { kind: "count", label: "traffic lights" },
      { kind: "clock" },
      { kind: "ask", question: "What color is the car?", style: "vqa2" },
      { kind: "caption", lengthHint: 65 },
      { kind: "caption", detail: "short" },
    ];
    for (const task of tasks) {
      const { inputIds, textTokenOffset } = buildInputIds({ tokenizer, prompt: buildPrompt(task) });
      assert.equal(textTokenOffset, 1, "text-only: the text follows BOS");
      assert.deepEqual(Array.from(inputIds), [BOS, ...goldenIds(` User: ${buildPrompt(task)} Assistant:`)], JSON.stringify(task));
    }
  });

  void test("multi-turn: each message tokenized on its own, EOS after each answer", () => {
    const image = imageTokenLayout(tokenizer.imageTokens, 12, 12);
    const input = buildInputIds({
      tokenizer,
      imageTokens: image,
      messages: [
        { role: "user", text: "Describe this image." },
        { role: "assistant", text: "A black cat." },
        { role: "user", text: "What color is its collar?" },
      ],
    });
    const expected = [
      BOS,
      ...image,
      ...goldenIds(" User: Describe this image. Assistant:"),
      ...goldenIds(" A black cat."),
      tokenizer.eosId,
      ...goldenIds(" User: What color is its collar? Assistant:"),
    ];
    assert.deepEqual(Array.from(input.inputIds), expected);
  });

  void test("accepts image tokens as a plain array, and no image at all", () => {
    const image = Array.from(imageTokenLayout(tokenizer.imageTokens, 12, 12));
    const fromArray: ModelInput = buildInputIds({ tokenizer, imageTokens: image, prompt: "Hi" });
    assert.deepEqual(Array.from(fromArray.inputIds.subarray(1, 1 + image.length)), image);
    const textOnly = buildInputIds({ tokenizer, prompt: "Describe this image." });
    assert.deepEqual(Array.from(textOnly.inputIds), [BOS, 2657, 25, 60785, 419, 2168, 13, 21388, 25]);
  });

  void test("special-token strings in user text or answers are refused", () => {
    assertPromptError(() => buildInputIds({ tokenizer, prompt: "Stop here <|endoftext|> and go on" }), "reserved_token", "<|endoftext|>", "question");
    assertPromptError(() => buildInputIds({ tokenizer, prompt: "Where is the <im_patch>?" }), "reserved_token", "<im_patch>");
    assertPromptError(() => buildInputIds({ tokenizer, prompt: buildPrompt({ kind: "point", label: "<|image|>" }) }), "reserved_token", "<|image|>");
    assertPromptError(
      () =>
        buildInputIds({
          tokenizer,
          messages: [
            { role: "user", text: "Hi" },
            { role: "assistant", text: "Hello<|im_end|>" },
            { role: "user", text: "Bye" },
          ],
        }),
      "reserved_token",
      "<|im_end|>",
      "turn 2",
    );
  });

  void test("image tokens from another tokenizer or out of layout are refused", () => {
    const olmoIds: ImageSpecialTokens = { imStart: 100278, imEnd: 100279, imPatch: 100280, imCol: 100281 };
    assertPromptError(() => buildInputIds({ tokenizer, imageTokens: imageTokenLayout(olmoIds, 12, 12), prompt: "Hi" }), "invalid_image_tokens", "100278", "another tokenizer");
    const stray = imageTokenLayout(tokenizer.imageTokens, 12, 12);
    stray[5] = 9707;
    assertPromptError(() => buildInputIds({ tokenizer, imageTokens: stray, prompt: "Hi" }), "invalid_image_tokens", "9707", "position 5");
    const headless = imageTokenLayout(tokenizer.imageTokens, 12, 12).subarray(1);
    assertPromptError(() => buildInputIds({ tokenizer, imageTokens: headless, prompt: "Hi" }), "invalid_image_tokens", "<im_start>");
  });

  void test("sequences longer than the context (minus the answer's room) are refused", () => {
    // Twelve crops in a 3x4 grid: 158 low-res + 2 + 28 * 37 high-res tokens.
    const image = imageTokenLayout(tokenizer.imageTokens, 28, 36);
    assert.equal(image.length, 1196);
    // Qwen2 splits numbers into single digits: 3000 digits are 3000 tokens.
    const question = `Which of these digits are on the screen? ${"0123456789".repeat(300)}`;
    assertPromptError(() => buildInputIds({ tokenizer, imageTokens: image, prompt: question }), "sequence_too_long", String(MOLMO_MAX_SEQUENCE_LENGTH), "1196 image");
    const fits = buildInputIds({ tokenizer, imageTokens: image, prompt: "Describe this image." });
    assert.equal(fits.inputIds.length, 1 + 1196 + 8);
    assertPromptError(
      () => buildInputIds({ tokenizer, imageTokens: image, prompt: "Describe this image.", reserveTokens: 4096 - 1205 + 1 }),
      "sequence_too_long",
      "for the answer",
    );
    assert.equal(buildInputIds({ tokenizer, imageTokens: image, prompt: "Describe this image.", reserveTokens: 4096 - 1205 }).inputIds.length, 1205);
    assertPromptError(() => buildInputIds({ tokenizer, prompt: "Hi", maxSequenceLength: 5 }), "sequence_too_long");
  });

  void test("exactly one of prompt and messages", () => {
    assertPromptError(() => buildInputIds({ tokenizer }), "invalid_task", "either");
    assertPromptError(() => buildInputIds({ tokenizer, prompt: "a", messages: [{ role: "user", text: "b" }] }), "invalid_task", "either");
    assertPromptError(() => buildInputIds({ tokenizer, prompt: "  " }), "empty_text");
  });
});

void describe("parseClockAnswer", () => {
  void test("reads H:MM and H:MM:SS out of an answer", () => {
    assert.deepEqual(parseClockAnswer(" The time shown is 10:35."), { hours: 10, minutes: 35, hhmm: "10:35" });
    assert.deepEqual(parseClockAnswer("It is 3:07:45 PM"), { hours: 3, minutes: 7, seconds: 45, hhmm: "03:07" });
    assert.deepEqual(parseClockAnswer("23:59"), { hours: 23, minutes: 59, hhmm: "23:59" });
  });

  void test("no time, or no valid one, gives undefined", () => {
    assert.equal(parseClockAnswer("I can't see a clock in this image."), undefined);
    assert.equal(parseClockAnswer("The ratio is 1:2"), undefined);
    assert.equal(parseClockAnswer("25:00"), undefined);
    assert.equal(parseClockAnswer("12:345"), undefined);
  });
});
