/**
 * When to restart molmo-server after it exits unexpectedly. A crash is restarted (the model is loaded again
 * on the next request), but a server that keeps dying — a broken bundle that crashes onnxruntime, a bad
 * `molmo.server.args` flag — must not be restarted in a loop: after {@link RestartPolicy.maxRestarts}
 * crashes within the window the extension stops and says so, with a "Restart Server" action.
 *
 * Pure: the clock is injected for tests.
 */
export class RestartPolicy {
  private crashes: number[] = [];

  constructor(
    readonly maxRestarts = 4,
    readonly windowMs = 3 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a crash; true when the server should be restarted, false when it crashed too often. */
  recordCrash(): boolean {
    const time = this.now();
    this.crashes = this.crashes.filter((at) => time - at < this.windowMs);
    this.crashes.push(time);
    return this.crashes.length <= this.maxRestarts;
  }

  /** Crashes within the current window. */
  get recentCrashes(): number {
    const time = this.now();
    return this.crashes.filter((at) => time - at < this.windowMs).length;
  }

  /** Forgets the crashes (after the user restarts the server by hand). */
  reset(): void {
    this.crashes = [];
  }
}
