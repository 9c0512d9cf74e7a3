/** Molmo's prompt builders: task → user text → conversation format → model token input. */
export { buildPrompt, isShortAnswerStyle, LENGTH_HINT_RANGE } from "./build-prompt";
export { formatConversation, formatUserMessage, type ChatTurn } from "./chat-format";
export { buildInputIds, MOLMO_MAX_SEQUENCE_LENGTH, type BuildInputIdsOptions, type ModelInput, type PromptTokenizer } from "./build-input-ids";
export { parseClockAnswer, type ClockReading } from "./clock-answer";
export { PromptError, type PromptErrorCode } from "./errors";
export { SHORT_ANSWER_STYLES, type MolmoTask, type AskTask, type CaptionTask, type PointTask, type CountTask, type ClockTask, type ShortAnswerStyle } from "./tasks";
export { MAX_LABEL_CHARS, MAX_TURN_CHARS } from "./text-validation";
