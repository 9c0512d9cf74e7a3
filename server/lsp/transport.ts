/**
 * The message channel of an LSP connection. The server builds its reader and writer itself (instead of
 * letting vscode-languageserver read process.argv) so that it can log malformed messages — which the
 * library otherwise drops silently — and decide itself what happens when the client goes away.
 */
import { IPCMessageReader, IPCMessageWriter, StreamMessageReader, StreamMessageWriter, createServerPipeTransport, createServerSocketTransport, type MessageReader, type MessageWriter } from "vscode-languageserver/node";
import type { Logger } from "../../models/engine/logger";
import type { LspTransport } from "../cli/server-options";

/** A reader and writer, and how to learn that the client has gone. */
export interface LspChannel {
  readonly reader: MessageReader;
  readonly writer: MessageWriter;
  /** Calls `listener` once when the client side closes (stdin ends, the socket or IPC channel closes). */
  onClosed(listener: () => void): void;
}

/** Opens the channel `transport` names. */
export function openChannel(transport: LspTransport): LspChannel {
  switch (transport.kind) {
    case "stdio": {
      const reader = new ResilientStreamMessageReader(process.stdin);
      const writer = new StreamMessageWriter(process.stdout);
      return withCloseEvents(reader, writer, (listener) => {
        process.stdin.once("end", listener);
        process.stdin.once("close", listener);
      });
    }
    case "node-ipc": {
      if (process.send === undefined) {
        throw new Error("--node-ipc needs an IPC channel: start molmo-server with child_process.fork or a client that does.");
      }
      const reader = new IPCMessageReader(process);
      const writer = new IPCMessageWriter(process);
      return withCloseEvents(reader, writer, (listener) => process.once("disconnect", listener));
    }
    case "socket": {
      const [reader, writer] = createServerSocketTransport(transport.port);
      return withCloseEvents(reader, writer, () => undefined);
    }
    case "pipe": {
      const [reader, writer] = createServerPipeTransport(transport.name);
      return withCloseEvents(reader, writer, () => undefined);
    }
  }
}

/**
 * A stream reader that goes on after a message whose header lacks a Content-Length. vscode-jsonrpc reports
 * that error and returns from its data handler, leaving the messages already received behind the bad header
 * in its buffer until more bytes arrive — so a client waiting for an answer to one of them would wait
 * forever. Feeding the reader an empty chunk after each error makes it read on.
 */
class ResilientStreamMessageReader extends StreamMessageReader {
  protected override fireError(error: unknown): void {
    super.fireError(error);
    const reader = this as unknown as { onData?: (data: Buffer) => void };
    if (typeof reader.onData === "function") {
      setImmediate(() => reader.onData?.(Buffer.alloc(0)));
    }
  }
}

/** Adds the reader's and writer's own close events to the transport-specific ones, firing the listener once. */
function withCloseEvents(reader: MessageReader, writer: MessageWriter, extra: (listener: () => void) => void): LspChannel {
  return {
    reader,
    writer,
    onClosed(listener) {
      let fired = false;
      const once = () => {
        if (!fired) {
          fired = true;
          listener();
        }
      };
      reader.onClose(once);
      writer.onClose(once);
      extra(once);
    },
  };
}

/**
 * The channel's reader, with everything wrong about the incoming stream written to the server's log:
 * undecodable messages and bad headers (which the reader reports as errors and skips), messages that are
 * neither request, notification nor response (passed on: the library answers what it can), and messages
 * that stall half-way.
 */
export function loggingReader(reader: MessageReader, logger: Logger): MessageReader {
  reader.onError((error) =>
    isSystemError(error)
      ? logger.warn(`The connection to the client failed: ${error.message}`)
      : logger.warn(`Ignored a malformed message from the client: ${error.message}`),
  );
  reader.onPartialMessage((info) => logger.warn(`Still waiting for the rest of a message after ${info.waitingTime} ms; a wrong Content-Length swallows the messages behind it.`));
  return {
    onError: reader.onError,
    onClose: reader.onClose,
    onPartialMessage: reader.onPartialMessage,
    dispose: () => reader.dispose(),
    listen: (callback) =>
      reader.listen((message) => {
        if (!isJsonRpcMessage(message)) {
          logger.warn(`Ignored a malformed message from the client: neither a request, a notification nor a response: ${preview(message)}`);
        }
        callback(message);
      }),
  };
}

/**
 * Whether a reader error comes from the socket, pipe or stream (Node's system errors carry a code such as
 * ECONNREFUSED or EPIPE) rather than from the bytes the client sent.
 */
function isSystemError(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code);
}

function isJsonRpcMessage(message: unknown): boolean {
  if (typeof message !== "object" || message === null) {
    return false;
  }
  const candidate = message as Record<string, unknown>;
  return typeof candidate.method === "string" || ("id" in candidate && ("result" in candidate || "error" in candidate));
}

function preview(message: unknown): string {
  const text = JSON.stringify(message) ?? String(message);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
