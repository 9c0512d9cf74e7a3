/**
 * From commands to `molmo/ask` (extension/commands/ask-request.ts): each command's task, how the arguments
 * of menus, keybindings and API callers are read, and the request params sent.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AskRequestError, IMAGE_COMMANDS, buildAskParams, isImageCommand, parseImageCommandArgs, taskFor } from "../../extension/commands/ask-request";
import { MolmoCommands } from "../../extension/commands/command-ids";

/** A stand-in for vscode.Uri with the fields the parser looks at. */
function uri(path: string): { scheme: string; path: string; fsPath: string; toString(): string } {
  return { scheme: "file", path, fsPath: path, toString: () => `file://${path}` };
}

void test("each image command runs its task; only describe needs no question", () => {
  assert.deepEqual(
    Object.fromEntries(Object.entries(IMAGE_COMMANDS).map(([id, spec]) => [id, [spec.task, spec.needsQuestion]])),
    {
      [MolmoCommands.ask]: ["ask", true],
      [MolmoCommands.pointAt]: ["point", true],
      [MolmoCommands.count]: ["count", true],
      [MolmoCommands.describe]: ["caption", false],
    },
  );
  assert.equal(isImageCommand(MolmoCommands.pointAt), true);
  assert.equal(isImageCommand(MolmoCommands.selectModel), false);
  assert.equal(isImageCommand("toString"), false);
});

void test("explorer context menu: (uri, selectedUris) takes the clicked image", () => {
  const clicked = uri("/ws/a.png");
  const parsed = parseImageCommandArgs([clicked, [clicked, uri("/ws/b.png")]]);
  assert.equal(parsed.uri, clicked);
  assert.deepEqual(parsed.options, {});
  assert.deepEqual(parsed.problems, []);
});

void test("editor title: (uri, { groupId }) ignores the editor group object", () => {
  const parsed = parseImageCommandArgs([uri("/ws/shot.jpg"), { groupId: 3 }]);
  assert.equal(parsed.uri?.fsPath, "/ws/shot.jpg");
  assert.deepEqual(parsed.options, {});
});

void test("keybinding / API: an options object with image, question, task and generation options", () => {
  const parsed = parseImageCommandArgs([
    {
      image: " /ws/ui.png ",
      question: "the Save button",
      task: "point",
      timeoutMs: 5000,
      options: { maxNewTokens: 8, temperature: 0, answerPrefix: "<point", seed: "x", extra: 1 },
    },
  ]);
  assert.equal(parsed.uri, undefined);
  assert.deepEqual(parsed.options, {
    image: "/ws/ui.png",
    question: "the Save button",
    task: "point",
    timeoutMs: 5000,
    options: { maxNewTokens: 8, temperature: 0, answerPrefix: "<point" },
  });
  assert.deepEqual(parsed.problems, ["options.seed is not a number"]);
  assert.equal(taskFor(MolmoCommands.ask, parsed.options), "point", "an explicit task overrides the command's");
  assert.equal(taskFor(MolmoCommands.count, {}), "count");
});

void test("bad option values are reported and dropped, not sent", () => {
  const parsed = parseImageCommandArgs([uri("/ws/a.png"), { question: 5, task: "poem", timeoutMs: -1, options: [] }]);
  assert.deepEqual(parsed.options, {});
  assert.deepEqual(parsed.problems, [
    "question is not a string",
    'task "poem" is not a Molmo task',
    "timeoutMs is not a positive number",
    "options is not an object",
  ]);
});

void test("params carry only what is set; caption and clock send no question", () => {
  assert.deepEqual(buildAskParams({ image: "/ws/a.png", task: "point", question: "  red circle ", partialResultToken: "p", workDoneToken: "w" }), {
    image: "/ws/a.png",
    task: "point",
    question: "red circle",
    workDoneToken: "w",
    partialResultToken: "p",
  });
  assert.deepEqual(buildAskParams({ image: "data:image/png;base64,AAAA", task: "caption", question: "ignored", options: {} }), {
    image: "data:image/png;base64,AAAA",
    task: "caption",
  });
  assert.deepEqual(
    buildAskParams({ image: "a.png", task: "ask", question: "What?", documentUri: "file:///ws/README.md", options: { maxNewTokens: 4 }, timeoutMs: 100 }),
    { image: "a.png", task: "ask", question: "What?", documentUri: "file:///ws/README.md", options: { maxNewTokens: 4 }, timeoutMs: 100 },
  );
});

void test("a question-less point/count/ask and an empty image are refused with a code", () => {
  assert.throws(() => buildAskParams({ image: "/a.png", task: "point", question: "  " }), (error: unknown) => {
    assert.ok(error instanceof AskRequestError);
    assert.equal(error.code, "empty_question");
    assert.match(error.message, /what to point at/);
    return true;
  });
  assert.throws(() => buildAskParams({ image: "/a.png", task: "count" }), /what to count/);
  assert.throws(() => buildAskParams({ image: " ", task: "caption" }), (error: unknown) => error instanceof AskRequestError && error.code === "empty_image");
});
