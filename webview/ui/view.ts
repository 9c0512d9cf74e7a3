/**
 * The webview's DOM: finds the shell's elements once, forwards user actions as callbacks, and renders a
 * `ViewState` into the page. Rendering is idempotent and touches only what changed, so it can run after
 * every message without losing the focus or the caret.
 */
import { MOLMO_TASK_NAMES } from "../../server/protocol/molmo-protocol";
import type { MolmoPoint, MolmoTaskName } from "../../server/protocol/molmo-protocol";
import { answerSegments } from "../model/answer-text";
import { canAsk, taskNeedsQuestion } from "../model/view-state";
import type { AnswerView, ViewState } from "../model/view-state";
import { isMolmoTaskName } from "../protocol";
import { createElement, elementById } from "./dom";
import { formatPixels, pointLabel } from "../model/point-text";
import { markerId, renderMarkers } from "./overlay";

/** What the user can do; main.ts connects these to the state and the host. */
export interface ViewActions {
  ask(): void;
  cancel(): void;
  copyPoints(): void;
  saveAnnotatedPng(): void;
  editDraft(task: MolmoTaskName, question: string): void;
  imageFile(items: DataTransfer | null): void;
}

const PLACEHOLDERS: Record<MolmoTaskName, string> = {
  ask: "Ask about the image",
  point: "What to point at, e.g. the close buttons",
  count: "What to count, e.g. people",
  caption: "Describes the whole image (no question needed)",
  clock: "Reads the time on a clock (no question needed)",
};

function describeAnswer(answer: AnswerView | undefined): string {
  if (answer === undefined) return "";
  switch (answer.phase) {
    case "running":
      return answer.cancelRequested ? "Cancelling…" : "Molmo is answering…";
    case "cancelled":
      return "Cancelled.";
    case "failed":
      return `Failed: ${answer.error?.message ?? "unknown error"}${answer.error?.code ? ` (${answer.error.code})` : ""}`;
    case "done":
      return answer.summary ?? "Done.";
  }
}

function pointsKey(points: readonly MolmoPoint[]): string {
  return points.map((point) => `${point.index}:${point.xPercent},${point.yPercent}:${point.label}:${point.alt ?? ""}`).join("|");
}

/** The rendered page. */
export class WebviewView {
  private readonly fileName = elementById("file-name", HTMLHeadingElement);
  private readonly engineStatus = elementById("engine-status", HTMLSpanElement);
  private readonly stage = elementById("stage", HTMLElement);
  private readonly frame = elementById("frame", HTMLDivElement);
  readonly image = elementById("image", HTMLImageElement);
  private readonly overlay = elementById("overlay", HTMLDivElement);
  private readonly dropHint = elementById("drop-hint", HTMLParagraphElement);
  private readonly form = elementById("ask-form", HTMLFormElement);
  private readonly task = elementById("task", HTMLSelectElement);
  private readonly question = elementById("question", HTMLInputElement);
  private readonly askButton = elementById("ask", HTMLButtonElement);
  private readonly cancelButton = elementById("cancel", HTMLButtonElement);
  private readonly notice = elementById("notice", HTMLParagraphElement);
  private readonly answerStatus = elementById("answer-status", HTMLParagraphElement);
  private readonly answer = elementById("answer", HTMLDivElement);
  private readonly countBadge = elementById("count-badge", HTMLSpanElement);
  private readonly copyButton = elementById("copy-points", HTMLButtonElement);
  private readonly saveButton = elementById("save-png", HTMLButtonElement);
  private readonly pointsList = elementById("points-list", HTMLOListElement);

  private renderedPointsKey: string | undefined;
  private renderedAnswerText: string | undefined;
  private imageUri: string | undefined;
  private triedWithoutCors = false;

  constructor(actions: ViewActions) {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      actions.ask();
    });
    this.cancelButton.addEventListener("click", () => actions.cancel());
    this.copyButton.addEventListener("click", () => actions.copyPoints());
    this.saveButton.addEventListener("click", () => actions.saveAnnotatedPng());
    const editDraft = (): void => {
      const task = isMolmoTaskName(this.task.value) ? this.task.value : "ask";
      actions.editDraft(task, this.question.value);
    };
    this.task.addEventListener("change", editDraft);
    this.question.addEventListener("input", editDraft);
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.cancelButton.disabled) {
        event.preventDefault();
        actions.cancel();
      }
    });
    document.addEventListener("paste", (event) => actions.imageFile(event.clipboardData));
    // The whole panel takes drops, so an image dropped beside the picture is not opened by the browser.
    document.addEventListener("dragover", (event) => {
      event.preventDefault();
      this.stage.classList.add("dragging");
    });
    document.addEventListener("dragleave", () => this.stage.classList.remove("dragging"));
    document.addEventListener("drop", (event) => {
      event.preventDefault();
      this.stage.classList.remove("dragging");
      actions.imageFile(event.dataTransfer);
    });
    this.image.addEventListener("error", () => this.retryImageWithoutCors());
    this.pointsList.addEventListener("click", (event) => this.focusMarkerOf(event.target));
    for (const name of MOLMO_TASK_NAMES) {
      if (this.task.querySelector(`option[value="${name}"]`) === null) this.task.append(new Option(name, name));
    }
  }

  /** Renders the whole state. */
  render(state: ViewState): void {
    this.renderImage(state);
    this.renderEngine(state);
    this.renderForm(state);
    this.renderNotice(state);
    this.renderAnswer(state.answer);
    this.renderPoints(state.answer?.points ?? []);
  }

  private renderImage(state: ViewState): void {
    const image = state.image;
    this.fileName.textContent = image?.fileName ?? "No image";
    this.frame.hidden = image === undefined;
    this.dropHint.hidden = image !== undefined;
    if (image === undefined || image.uri === this.imageUri) return;
    this.imageUri = image.uri;
    this.triedWithoutCors = false;
    // Loaded with CORS so "Save annotated PNG" can read the pixels back from a canvas: VS Code's resource
    // origin answers with Access-Control-Allow-Origin: *, and data:/blob: URIs are same-origin anyway.
    this.image.crossOrigin = "anonymous";
    this.image.src = image.uri;
    this.image.alt = image.fileName;
  }

  private retryImageWithoutCors(): void {
    // A host without CORS headers refuses the CORS request; showing the image matters more than saving it.
    if (this.triedWithoutCors || this.imageUri === undefined) return;
    this.triedWithoutCors = true;
    this.image.removeAttribute("crossorigin");
    this.image.src = this.imageUri;
  }

  private renderEngine(state: ViewState): void {
    const engine = state.engine;
    this.engineStatus.textContent = engine === undefined ? "" : [engine.model, engine.ep, engine.state].filter(Boolean).join(" · ");
  }

  private renderForm(state: ViewState): void {
    const { task, question } = state.draft;
    if (this.task.value !== task) this.task.value = task;
    if (this.question.value !== question) this.question.value = question;
    const running = state.answer?.phase === "running";
    this.question.disabled = !taskNeedsQuestion(task);
    this.question.placeholder = PLACEHOLDERS[task];
    this.askButton.disabled = !canAsk(state);
    this.cancelButton.disabled = !running || state.answer?.cancelRequested === true;
    this.form.setAttribute("aria-busy", String(running));
  }

  private renderNotice(state: ViewState): void {
    const notice = state.notice;
    this.notice.hidden = notice === undefined;
    this.notice.textContent = notice?.message ?? "";
    this.notice.classList.toggle("error", notice?.level === "error");
  }

  private renderAnswer(answer: AnswerView | undefined): void {
    this.answerStatus.textContent = describeAnswer(answer);
    this.answerStatus.classList.toggle("error", answer?.phase === "failed");
    const streaming = answer?.phase === "running";
    // Busy while streaming, so a screen reader announces the answer once, not at every delta.
    this.answer.setAttribute("aria-busy", String(streaming));
    const text = answer === undefined ? "" : `${streaming ? "1" : "0"}${answer.text}`;
    if (text === this.renderedAnswerText) return;
    this.renderedAnswerText = text;
    const nodes = answerSegments(answer?.text ?? "", streaming).map((segment) => {
      if (segment.kind === "text") return document.createTextNode(segment.text);
      const mark = createElement("mark", "answer-points", segment.label);
      if (segment.indices.length > 0) mark.append(createElement("sup", "answer-indices", segment.indices.join(",")));
      return mark;
    });
    this.answer.replaceChildren(...nodes);
  }

  private renderPoints(points: readonly MolmoPoint[]): void {
    const count = points.length;
    this.countBadge.textContent = String(count);
    this.countBadge.setAttribute("aria-label", `${count} point${count === 1 ? "" : "s"}`);
    this.copyButton.disabled = count === 0;
    this.saveButton.disabled = count === 0;
    const key = pointsKey(points);
    if (key === this.renderedPointsKey) return;
    this.renderedPointsKey = key;
    renderMarkers(this.overlay, points);
    this.pointsList.replaceChildren(
      ...points.map((point) => {
        const item = createElement("li", "point-item");
        const button = createElement("button", "point-link");
        button.type = "button";
        button.dataset.marker = markerId(point);
        button.append(
          createElement("span", "point-index", String(point.index)),
          createElement("span", "point-label", pointLabel(point) || "(no label)"),
          createElement("span", "point-pixels", `${formatPixels(point)} px`),
        );
        button.setAttribute("aria-label", `Show point ${point.index}: ${pointLabel(point)} at ${formatPixels(point)} pixels`);
        item.append(button);
        return item;
      }),
    );
  }

  private focusMarkerOf(target: EventTarget | null): void {
    if (!(target instanceof Element)) return;
    const id = target.closest<HTMLElement>(".point-link")?.dataset.marker;
    if (id !== undefined) document.getElementById(id)?.focus();
  }
}
