/**
 * Streaming text while tokens are generated. The detokenising part is the tokenizer's business:
 * `MolmoTokenizer.createTextStreamer()` (models/tokenizer) returns a TextStreamer whose `push`/`flush`
 * match {@link TokenTextStreamer}; generation only calls it and forwards the text deltas.
 */
import type { StopReason } from "./stopping-criteria";

/**
 * Turns generated ids into text deltas: `push` returns the text one more token completes ("" while a
 * multi-byte character is incomplete), `flush` whatever is still held back at the end.
 */
export interface TokenTextStreamer {
  push(tokenId: number): string;
  flush(): string;
}

/** What a stream listener receives: one event per generated token, then one at the end. */
export type StreamEvent =
  | {
      readonly type: "token";
      readonly tokenId: number;
      /** 0 for the first generated token. */
      readonly index: number;
      /** The text this token completes; "" without a streamer or while a character is incomplete. */
      readonly text: string;
    }
  | {
      readonly type: "end";
      /** Text the streamer still held back; often "". */
      readonly text: string;
      readonly stopReason: StopReason;
    };

/** Called synchronously for each event; if it throws, generation stops and rejects with that error. */
export type StreamListener = (event: StreamEvent) => void;
