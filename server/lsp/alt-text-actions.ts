/**
 * Alt text for images that have none: the quick fix "Generate alt text with Molmo" and, when
 * `molmo.diagnostics.missingAltText` is on, an Information diagnostic on each such image.
 *
 * Generating takes seconds, and clients ask for code actions on every cursor move, so with clients that can
 * resolve a code action's edit later (`codeAction/resolve`, VS Code among them) the list is cheap and the
 * model runs only when the user picks the action. With other clients the edit is generated while answering
 * the request itself (the client's cancellation stops it).
 */
import {
  CodeActionKind,
  DiagnosticSeverity,
  type CancellationToken,
  type ClientCapabilities,
  type CodeAction,
  type CodeActionParams,
  type Diagnostic,
  type WorkspaceEdit,
} from "vscode-languageserver/node";
import type { TextDocument } from "vscode-languageserver-textdocument";
import { HostError } from "../host/host-errors";
import { altTextEdit, cleanAltText } from "./alt-text";
import { resolveDocumentImage } from "./document-images";
import { signalOf, type FeatureContext } from "./feature-context";
import { lacksAltText, type ImageReference, type TextSpan } from "./image-references";
import { toResponseError } from "./response-errors";

export const GENERATE_ALT_TEXT_TITLE = "Generate alt text with Molmo";
export const MISSING_ALT_TEXT_CODE = "missing-alt-text";
const SOURCE = "molmo";

/** What a code action carries to `codeAction/resolve`: which image of which document version. */
interface AltTextActionData {
  readonly uri: string;
  readonly version: number;
  readonly start: number;
  readonly end: number;
}

/** What the client can do with code actions and edits. */
export interface AltTextClientSupport {
  /** The client resolves a code action's `edit` lazily. */
  readonly resolveEdit: boolean;
  /** The client applies versioned `documentChanges`. */
  readonly documentChanges: boolean;
}

/** Reads {@link AltTextClientSupport} from the client's capabilities. */
export function altTextClientSupport(capabilities: ClientCapabilities): AltTextClientSupport {
  return {
    resolveEdit: capabilities.textDocument?.codeAction?.resolveSupport?.properties.includes("edit") === true,
    documentChanges: capabilities.workspace?.workspaceEdit?.documentChanges === true,
  };
}

/** The images without alt text of a document as diagnostics ([] when the setting is off). */
export function missingAltTextDiagnostics(context: FeatureContext, document: TextDocument): Diagnostic[] {
  if (!context.settings.current.diagnostics.missingAltText) {
    return [];
  }
  return context.images
    .of(document)
    .filter(lacksAltText)
    .map((image) => ({
      range: toRange(document, image.span),
      severity: DiagnosticSeverity.Information,
      source: SOURCE,
      code: MISSING_ALT_TEXT_CODE,
      message: `The image ${image.target} has no alt text. Molmo can write it: use the quick fix "${GENERATE_ALT_TEXT_TITLE}".`,
    }));
}

/** Answers `textDocument/codeAction`: one quick fix per image without alt text in the range. */
export async function provideAltTextActions(
  context: FeatureContext,
  support: AltTextClientSupport,
  params: CodeActionParams,
  token: CancellationToken,
): Promise<CodeAction[]> {
  const only = params.context.only;
  if (only !== undefined && !only.some((kind) => kind === CodeActionKind.QuickFix || CodeActionKind.QuickFix.startsWith(`${kind}.`) || kind === CodeActionKind.Empty)) {
    return [];
  }
  const document = context.documents.get(params.textDocument.uri);
  if (document === undefined) {
    return [];
  }
  const start = document.offsetAt(params.range.start);
  const end = document.offsetAt(params.range.end);
  const images = context.images.of(document).filter((image) => lacksAltText(image) && image.span.start <= end && image.span.end >= start);
  const actions: CodeAction[] = [];
  for (const image of images) {
    const data: AltTextActionData = { uri: document.uri, version: document.version, start: image.span.start, end: image.span.end };
    const action: CodeAction = {
      title: GENERATE_ALT_TEXT_TITLE,
      kind: CodeActionKind.QuickFix,
      diagnostics: params.context.diagnostics.filter((diagnostic) => diagnostic.source === SOURCE && diagnostic.code === MISSING_ALT_TEXT_CODE && overlaps(document, diagnostic, image.span)),
      data,
    };
    if (support.resolveEdit) {
      actions.push(action);
      continue;
    }
    try {
      actions.push({ ...action, edit: await generateEdit(context, support, document, image, token) });
    } catch (error) {
      if (error instanceof HostError && error.code === "cancelled") {
        throw toResponseError(error);
      }
      actions.push({ ...action, disabled: { reason: error instanceof Error ? error.message : String(error) } });
    }
  }
  return actions;
}

/**
 * Answers `codeAction/resolve` for the alt-text action: generates the alt text and returns the action with its edit.
 *
 * @throws {ResponseError} when the document is gone or changed under the image, or generation fails.
 */
export async function resolveAltTextAction(context: FeatureContext, support: AltTextClientSupport, action: CodeAction, token: CancellationToken): Promise<CodeAction> {
  const data = action.data as Partial<AltTextActionData> | undefined;
  if (data === undefined || typeof data.uri !== "string" || typeof data.start !== "number" || typeof data.end !== "number") {
    return action;
  }
  try {
    const document = context.documents.get(data.uri);
    if (document === undefined) {
      throw new HostError("bad_request", `The document ${data.uri} is no longer open.`);
    }
    const image = context.images.of(document).find((candidate) => candidate.span.start === data.start && candidate.span.end === data.end && lacksAltText(candidate));
    if (image === undefined) {
      throw new HostError("bad_request", "The image changed since the action was offered; ask for the quick fix again.");
    }
    return { ...action, edit: await generateEdit(context, support, document, image, token) };
  } catch (error) {
    throw toResponseError(error);
  }
}

async function generateEdit(context: FeatureContext, support: AltTextClientSupport, document: TextDocument, image: ImageReference, token: CancellationToken): Promise<WorkspaceEdit> {
  // The document object is updated in place as the user types, so its version and the edit's range are
  // taken now, before the model runs: a client applying versioned changes then refuses a stale edit.
  const { uri, version } = document;
  const range = toRange(document, image.altSpan);
  const cancel = signalOf(token);
  try {
    const resolved = await resolveDocumentImage(image.target, uri, context.roots.paths(), context.settings.current);
    const description = await context.descriptions.describe(resolved, "alt", { signal: cancel.signal });
    const edit = altTextEdit(image, cleanAltText(description?.text ?? ""));
    const textEdit = { range, newText: edit.newText };
    return support.documentChanges ? { documentChanges: [{ textDocument: { uri, version }, edits: [textEdit] }] } : { changes: { [uri]: [textEdit] } };
  } finally {
    cancel.dispose();
  }
}

function toRange(document: TextDocument, span: TextSpan) {
  return { start: document.positionAt(span.start), end: document.positionAt(span.end) };
}

function overlaps(document: TextDocument, diagnostic: Diagnostic, span: TextSpan): boolean {
  return document.offsetAt(diagnostic.range.start) <= span.end && document.offsetAt(diagnostic.range.end) >= span.start;
}
