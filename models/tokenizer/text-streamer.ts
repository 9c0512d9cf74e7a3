/**
 * Turns a stream of generated token ids into text deltas, for showing an answer while it is generated.
 *
 * Byte-level BPE tokens are bytes, not characters: an emoji or a rare CJK character is often split over
 * two or three tokens, and decoding a prefix that ends inside such a character yields U+FFFD. The
 * streamer therefore decodes a short window of recent tokens and holds the text back while the window
 * ends in U+FFFD, releasing it once the character is complete. This is the incremental scheme of Hugging
 * Face's text-generation-inference (`decode_token`): `prefixOffset..readOffset` is text already emitted,
 * kept in the window because some decoders need the preceding token to decode the next one correctly.
 *
 * The concatenation of all deltas plus {@link TextStreamer.flush} equals decoding all ids at once.
 */
export class TextStreamer {
  private ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;
  private emitted = "";

  /** @param decode decodes a list of ids to text (the tokenizer's decode with the caller's options). */
  constructor(private readonly decode: (ids: readonly number[]) => string) {}

  /**
   * Adds one generated token and returns the text it completes: "" while a character is still incomplete,
   * possibly several characters when a held-back one completes. Throws (and forgets the id) if the id is
   * not a token of the vocabulary.
   */
  push(id: number): string {
    this.ids.push(id);
    let prefixText: string;
    let windowText: string;
    try {
      prefixText = this.decode(this.ids.slice(this.prefixOffset, this.readOffset));
      windowText = this.decode(this.ids.slice(this.prefixOffset));
    } catch (error) {
      this.ids.pop();
      throw error;
    }
    if (windowText.length <= prefixText.length || windowText.endsWith("\uFFFD")) {
      return "";
    }
    const delta = windowText.slice(prefixText.length);
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    this.compact();
    this.emitted += delta;
    return delta;
  }

  /**
   * Ends the stream: returns whatever is still held back (which keeps its U+FFFD if the generation stopped
   * in the middle of a character, as a one-shot decode would).
   */
  flush(): string {
    const prefixText = this.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const windowText = this.decode(this.ids.slice(this.prefixOffset));
    const delta = windowText.length > prefixText.length ? windowText.slice(prefixText.length) : "";
    this.prefixOffset = this.readOffset = this.ids.length;
    this.compact();
    this.emitted += delta;
    return delta;
  }

  /** All text returned so far by {@link push} and {@link flush}. */
  get text(): string {
    return this.emitted;
  }

  /** Drops ids that no longer take part in any window, so a long generation keeps memory flat. */
  private compact(): void {
    if (this.prefixOffset > 0) {
      this.ids = this.ids.slice(this.prefixOffset);
      this.readOffset -= this.prefixOffset;
      this.prefixOffset = 0;
    }
  }
}
