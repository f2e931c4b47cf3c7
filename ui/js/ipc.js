// The only module that touches window.__TAURI__ (withGlobalTauri is on).
// Every command and event name of the Rust <-> UI contract lives here.

/** Command names, as registered on the Rust side. */
export const Commands = Object.freeze({
  START: "start",
  AUTH_STATE: "auth_state",
  SIGN_IN: "sign_in",
  CANCEL_SIGN_IN: "cancel_sign_in",
  SIGN_OUT: "sign_out",
  MESSAGES_SNAPSHOT: "messages_snapshot",
  MESSAGES_LOAD_MORE: "messages_load_more",
  SEND_MESSAGE: "send_message",
  DRAFT_GET: "draft_get",
  DRAFT_SET: "draft_set",
  REPORT_FIRST_PAINT: "report_first_paint",
});

/** The names of the updates `start` opens (see src-tauri/src/updates.rs). */
export const Events = Object.freeze({
  AUTH_STATE_CHANGED: "auth://state-changed",
  MESSAGES_UPDATED: "messages://updated",
  CONNECTION_CHANGED: "messages://connection",
});

/** Error kinds a command can reject with, plus `unavailable` (no Tauri). */
export const ErrorKinds = Object.freeze({
  NOT_SIGNED_IN: "notSignedIn",
  OFFLINE: "offline",
  BACKEND: "backend",
  INVALID: "invalid",
  CONFIG: "config",
  INTERNAL: "internal",
  UNAVAILABLE: "unavailable",
});

/** A rejected command, always with a `kind` and a message for a person. */
export class IpcError extends Error {
  constructor(kind, message) {
    super(message || "Something went wrong.");
    this.name = "IpcError";
    this.kind = kind || ErrorKinds.INTERNAL;
  }
}

function tauri() {
  const t = window.__TAURI__;
  if (!t || !t.core || typeof t.core.invoke !== "function" || typeof t.core.Channel !== "function") {
    throw new IpcError(
      ErrorKinds.UNAVAILABLE,
      "This page is Courier's interface, and it can't reach the app from here.",
    );
  }
  return t;
}

/** True when the page runs inside the Courier app. */
export function isAvailable() {
  try {
    tauri();
    return true;
  } catch {
    return false;
  }
}

function toIpcError(err) {
  if (err instanceof IpcError) return err;
  if (err && typeof err === "object" && typeof err.kind === "string") {
    return new IpcError(err.kind, typeof err.message === "string" ? err.message : "");
  }
  if (typeof err === "string") return new IpcError(ErrorKinds.INTERNAL, err);
  if (err instanceof Error) return new IpcError(ErrorKinds.INTERNAL, err.message);
  return new IpcError(ErrorKinds.INTERNAL, "Something went wrong.");
}

async function invoke(command, args) {
  const t = tauri();
  try {
    return await t.core.invoke(command, args);
  } catch (err) {
    throw toIpcError(err);
  }
}

// ---- commands ---------------------------------------------------------------

/**
 * Opens the app's channel of updates and reads the state now, in one
 * request: every later change comes as `onUpdate({event, payload})`, with
 * the event names of `Events` and their payloads.
 * `info` is `{name, version, issuer, convexUrl, config: {ok, message?, hint?}}`;
 * `uiFont` the desktop's font family on Linux, else null.
 * @returns {Promise<{info: object, uiFont: string|null, auth: object, messages: object, connection: "connected"|"connecting"}>}
 */
export function start(onUpdate) {
  const channel = new (tauri().core.Channel)();
  channel.onmessage = onUpdate;
  return invoke(Commands.START, { channel });
}

/** @returns {Promise<object>} the current AuthState */
export const authState = () => invoke(Commands.AUTH_STATE);

/** @param {"webview"|"browser"|null} mode */
export const signIn = (mode = null) => invoke(Commands.SIGN_IN, { mode });

export const cancelSignIn = () => invoke(Commands.CANCEL_SIGN_IN);

export const signOut = () => invoke(Commands.SIGN_OUT);

/**
 * The live messages now (the payload of `messages://updated`).
 * @returns {Promise<{version: number, userId: string|null, messages: object[], loaded: boolean, loadingMore: boolean, isDone: boolean, error: string|null, notAuthenticated: boolean}>}
 */
export const messagesSnapshot = () => invoke(Commands.MESSAGES_SNAPSHOT);

/** Adds the next page of older messages to the live pages. */
export const messagesLoadMore = () => invoke(Commands.MESSAGES_LOAD_MORE);

/** @returns {Promise<{id: string}>} */
export const sendMessage = (body, clientMessageId) =>
  invoke(Commands.SEND_MESSAGE, { body, clientMessageId });

/** @returns {Promise<string>} */
export const draftGet = async () => (await invoke(Commands.DRAFT_GET)) ?? "";

export const draftSet = (text) => invoke(Commands.DRAFT_SET, { text });

/**
 * Tells the app the first message is painted (it keeps only the first call),
 * with the page's clock: the benchmark splits the time at the page's start.
 */
export const reportFirstPaint = () =>
  invoke(Commands.REPORT_FIRST_PAINT, { pageMs: performance.now() });
