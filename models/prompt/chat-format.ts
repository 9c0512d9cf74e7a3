/**
 * Molmo v1's conversation format. It is not the ChatML template bundled in `tokenizer_config.json`
 * (Molmo never uses that): each user turn becomes `"User: " + text + " Assistant:"`, assistant turns are
 * the bare answer, and every message starts with a space (reference `DataFormatter.format_messages` with
 * `message_format="role"`, `always_start_with_space=True`; HF `MolmoProcessor.get_tokens_input`).
 * The EOS token that closes each assistant turn is not text: `buildInputIds` appends it as an id.
 */
import { PromptError } from "./errors";
import { cleanTurnText } from "./text-validation";

/** One turn of a conversation about an image. */
export interface ChatTurn {
  readonly role: "user" | "assistant";
  /** For user turns, typically the output of `buildPrompt`; for assistant turns, an earlier answer. */
  readonly text: string;
}

/** A single question in the released format: `" User: {text} Assistant:"`. */
export function formatUserMessage(text: string): string {
  return ` User: ${cleanTurnText(text, "question")} Assistant:`;
}

/**
 * The messages of a conversation, one string per turn, e.g.
 * `[" User: q1 Assistant:", " a1", " User: q2 Assistant:"]`. Each is tokenized on its own (as the
 * reference's `MultiModalPreprocessor.__call__` does), and an EOS id follows every assistant turn.
 *
 * Answers are trimmed before the leading space is added: decoded answers usually begin with a space
 * already (the first generated token carries it), and the training targets had none of their own.
 *
 * @throws {PromptError} unless turns alternate user/assistant, start and end with a user turn, and every
 *   text is non-empty and of sensible length.
 */
export function formatConversation(turns: readonly ChatTurn[]): string[] {
  checkTurnOrder(turns);
  return turns.map((turn, index) => {
    const text = cleanTurnText(turn.text, `${turn.role} turn ${index + 1}`);
    return turn.role === "user" ? ` User: ${text} Assistant:` : ` ${text}`;
  });
}

function checkTurnOrder(turns: readonly ChatTurn[]): void {
  if (!Array.isArray(turns) || turns.length === 0) {
    throw new PromptError("invalid_conversation", "The conversation has no turns.");
  }
  turns.forEach((turn, index) => {
    const expected = index % 2 === 0 ? "user" : "assistant";
    const role: unknown = (turn as { role?: unknown } | null)?.role;
    if (role !== expected) {
      throw new PromptError(
        "invalid_conversation",
        `Turn ${index + 1} must be a ${expected} turn (turns alternate user/assistant, starting with the user), got ${JSON.stringify(role)}.`,
      );
    }
  });
  if (turns.length % 2 === 0) {
    throw new PromptError("invalid_conversation", "The conversation must end with a user turn for the model to answer.");
  }
}
