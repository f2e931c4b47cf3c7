// Wires the pieces: auth state -> screens, live messages (pushed by the
// backend, merged with local pending sends), the connection indicator,
// composer and its draft.

import * as ipc from "./ipc.js";
import * as view from "./view.js";

const DRAFT_DEBOUNCE_MS = 300;
// Cached messages shown this long without a connection are marked stale;
// sooner, the live result usually replaces them without a flash.
const CACHED_QUIET_MS = 1000;
// The restoring screen and its spinner wait this long: most restores are
// done sooner, and then the first frame is already the screen that stays
// (no flash of "Restoring...", and WebKit's first frame is the cheap one;
// a spinner's animation also slows its first paint: app.css).
const LOADING_SCREEN_DELAY_MS = 400;
const LIMIT = view.COMPOSER_LIMIT;

const $ = (id) => document.getElementById(id);

const state = {
  auth: { status: "loading" },
  userId: null,
  generation: 0, // bumped on sign-out/user switch: late answers are dropped
  // Server messages, newest first, as the last live snapshot had them.
  server: [],
  isDone: false,
  loaded: false,
  loadingMore: false,
  listError: null,
  listErrorTone: "error", // "error" | "info"
  // Messages sent from here that the server list does not show yet.
  // { clientMessageId, body, createdAt, status: "pending"|"failed"|"sent", id?, error? }
  locals: [],
  offlineFromState: false,
  offlineFromCall: false,
  // The socket to the backend: up, and whether it ever was (a first
  // connection is "loading", a lost one "Reconnecting...").
  connected: false,
  everConnected: false,
  // The version of the last snapshot shown (versions only grow).
  snapshotVersion: 0,
  // The messages shown are the cache from the last run, since when.
  cached: false,
  cachedSince: 0,
};

// ---- helpers ------------------------------------------------------------------

function newClientMessageId() {
  if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const isSignedIn = () => state.auth.status === "signedIn";

// A successful call clears the offline flag a failed call set; the flag from
// the auth state follows the auth state (the issuer may still be away).
function markOnline() {
  state.offlineFromCall = false;
  renderOffline();
}

// Say what is unreachable: the sign-in service (from the auth state), the
// message server (a failed call), or both.
function renderOffline() {
  const issuer = isSignedIn() && state.offlineFromState;
  const backend = isSignedIn() && state.offlineFromCall;
  view.renderOffline(issuer && backend ? "both" : issuer ? "issuer" : backend ? "backend" : null);
}

/** Common handling of a failed call; returns a message for a person, or null. */
function noteError(err) {
  const kind = err && err.kind;
  if (kind === ipc.ErrorKinds.OFFLINE) {
    state.offlineFromCall = true;
    renderOffline();
    return null;
  }
  if (kind === ipc.ErrorKinds.NOT_SIGNED_IN) {
    // The session ended under us; ask for the state so the screen follows.
    syncAuthState();
    return null;
  }
  console.error("courier:", err);
  return (err && err.message) || "Something went wrong.";
}

// ---- messages ---------------------------------------------------------------

function displayItems() {
  const serverIds = new Set();
  const serverClientIds = new Set();
  for (const m of state.server) {
    serverIds.add(m._id);
    if (m.clientMessageId) serverClientIds.add(m.clientMessageId);
  }
  const locals = state.locals
    .filter((l) => !serverClientIds.has(l.clientMessageId) && !(l.id && serverIds.has(l.id)))
    .sort((a, b) => b.createdAt - a.createdAt)
    .map((l) => ({
      key: `local:${l.clientMessageId}`,
      id: l.id || null,
      clientMessageId: l.clientMessageId,
      body: l.body,
      time: l.createdAt,
      status: l.status === "sent" ? "sent" : l.status,
      error: l.error || null,
    }));
  const server = state.server.map((m) => ({
    key: m.clientMessageId ? `local:${m.clientMessageId}` : m._id,
    id: m._id,
    clientMessageId: m.clientMessageId || null,
    body: String(m.body ?? ""),
    time: Number(m._creationTime),
    status: "sent",
    error: null,
  }));
  return locals.concat(server);
}

function renderMessages() {
  const items = displayItems();
  view.renderMessages(items, {
    loading: isSignedIn() && !state.loaded,
    loaded: state.loaded,
    // No "Load more" under cached messages: pages come from the live list.
    isDone: state.isDone || state.cached,
    loadingMore: state.loadingMore,
    error: state.listError,
    errorTone: state.listErrorTone,
  });
  if (items.length > 0) reportFirstPaint();
}

let firstPaintReported = false;

// Once the first message is in the DOM, tell the app when it is painted
// (the window benchmark's figure): requestAnimationFrame runs just before
// the frame is painted, the timeout just after.
function reportFirstPaint() {
  if (firstPaintReported) return;
  firstPaintReported = true;
  requestAnimationFrame(() =>
    setTimeout(() => ipc.reportFirstPaint().catch((err) => console.warn("courier: first paint:", err)), 0),
  );
}

function pruneLocals() {
  const ids = new Set(state.server.map((m) => m._id));
  const cids = new Set(state.server.map((m) => m.clientMessageId).filter(Boolean));
  state.locals = state.locals.filter((l) => !cids.has(l.clientMessageId) && !(l.id && ids.has(l.id)));
}

/** Shows a snapshot of the live messages, if it is this account's. */
function applySnapshot(snap) {
  // The newest wins, whether it came as an event or as the answer to
  // messages_snapshot (the two can arrive in either order).
  if (!snap || !(snap.version > state.snapshotVersion)) return;
  if (!isSignedIn() || snap.userId !== state.userId) return;
  state.snapshotVersion = snap.version;
  state.server = dedupe(Array.isArray(snap.messages) ? snap.messages : []);
  state.isDone = !!snap.isDone;
  state.loaded = !!snap.loaded;
  state.loadingMore = !!snap.loadingMore;
  if (snap.cached && !state.cached) {
    state.cachedSince = Date.now();
    setTimeout(renderConnection, CACHED_QUIET_MS);
  }
  state.cached = !!snap.cached;
  renderConnection();
  if (snap.error) {
    state.listError = `Couldn't load your messages. ${snap.error}`;
    state.listErrorTone = "error";
  } else {
    state.listError = null;
  }
  pruneLocals();
  renderMessages();
}

/** Replays the current snapshot (at sign-in, and "Try again"). */
async function syncMessages() {
  try {
    applySnapshot(await ipc.messagesSnapshot());
  } catch (err) {
    console.error("courier: messages_snapshot failed:", err);
  }
}

function loadMore() {
  if (!isSignedIn() || state.isDone || state.loadingMore || !state.loaded || state.cached) return;
  state.loadingMore = true;
  renderMessages();
  ipc.messagesLoadMore().catch((err) => {
    state.loadingMore = false;
    const msg = noteError(err);
    if (msg) {
      state.listError = `Couldn't load older messages. ${msg}`;
      state.listErrorTone = "error";
    }
    renderMessages();
  });
}

function applyConnection(s) {
  state.connected = s === "connected";
  if (state.connected) {
    state.everConnected = true;
    // The socket is back: a failed send's "can't reach" no longer holds.
    state.offlineFromCall = false;
    renderOffline();
  }
  renderConnection();
}

// A quiet "Reconnecting..." while a socket that was up is down, or while
// the cached messages wait for a first connection: what is shown may be
// stale until it is back.
function renderConnection() {
  const staleCache = state.cached && Date.now() - state.cachedSince >= CACHED_QUIET_MS;
  view.renderReconnecting(isSignedIn() && !state.connected && (state.everConnected || staleCache));
}

function dedupe(list) {
  const seen = new Set();
  return list.filter((m) => m && typeof m._id === "string" && !seen.has(m._id) && seen.add(m._id));
}

function resetSession() {
  state.generation += 1;
  state.userId = null;
  state.server = [];
  state.isDone = false;
  state.loaded = false;
  state.loadingMore = false;
  state.cached = false;
  state.listError = null;
  state.locals = [];
  state.offlineFromState = false;
  state.offlineFromCall = false;
  // The draft belongs to the account that wrote it: never show it to the next.
  cancelDraftSave();
  view.setComposerText("");
  view.renderComposer(composerState());
  renderMessages();
}

// ---- sending ------------------------------------------------------------------

async function deliver(local) {
  const gen = state.generation;
  local.status = "pending";
  local.error = null;
  renderMessages();
  try {
    const res = await ipc.sendMessage(local.body, local.clientMessageId);
    if (gen !== state.generation) return;
    local.status = "sent";
    local.id = res && res.id ? res.id : null;
    markOnline();
    // The draft was this message; keep only what was typed since. The live
    // messages bring it from the server.
    saveDraftNow($("composer-input").value);
  } catch (err) {
    if (gen !== state.generation) return;
    local.status = "failed";
    const msg = noteError(err);
    local.error = err && err.kind === ipc.ErrorKinds.INVALID ? err.message : msg;
  }
  renderMessages();
}

function retry(clientMessageId) {
  const local = state.locals.find((l) => l.clientMessageId === clientMessageId);
  if (local && local.status === "failed") deliver(local);
}

function discard(clientMessageId) {
  state.locals = state.locals.filter((l) => l.clientMessageId !== clientMessageId);
  renderMessages();
}

function composerState() {
  const text = $("composer-input").value;
  return { text, canSend: isSignedIn() && text.trim().length > 0 && text.length <= LIMIT };
}

function submitComposer() {
  const cs = composerState();
  if (!cs.canSend) return;
  const body = cs.text.trim();
  const local = {
    clientMessageId: newClientMessageId(),
    body,
    createdAt: Date.now(),
    status: "pending",
  };
  state.locals.push(local);
  view.setComposerText("");
  cancelDraftSave();
  view.renderComposer(composerState());
  view.scrollToNewest();
  deliver(local);
}

// ---- draft --------------------------------------------------------------------

let draftTimer = null;

function cancelDraftSave() {
  if (draftTimer !== null) clearTimeout(draftTimer);
  draftTimer = null;
}

function scheduleDraftSave() {
  cancelDraftSave();
  draftTimer = setTimeout(() => {
    draftTimer = null;
    saveDraftNow($("composer-input").value);
  }, DRAFT_DEBOUNCE_MS);
}

function saveDraftNow(text) {
  cancelDraftSave();
  if (!ipc.isAvailable()) return;
  ipc.draftSet(text).catch((err) => console.warn("courier: draft not saved:", err));
}

async function restoreDraft() {
  try {
    const text = await ipc.draftGet();
    // Never overwrite what the person already started typing.
    if (typeof text === "string" && text && !$("composer-input").value) {
      view.setComposerText(text);
      view.renderComposer(composerState());
    }
  } catch (err) {
    console.warn("courier: draft not restored:", err);
  }
}

// ---- auth ---------------------------------------------------------------------

function showLoadingScreenSoon() {
  setTimeout(() => {
    if (state.auth.status !== "loading") return;
    $("screen-loading").classList.remove("screen--quiet");
    $("loading-spinner").hidden = false;
  }, LOADING_SCREEN_DELAY_MS);
}

let authEvents = 0; // counts events, so a slower auth_state answer cannot win

async function syncAuthState() {
  const seen = authEvents;
  try {
    const s = await ipc.authState();
    if (seen === authEvents) applyAuth(s);
  } catch (err) {
    console.error("courier: auth_state failed:", err);
  }
}

function reasonText(reason) {
  if (!reason) return "";
  if (typeof reason.message === "string" && reason.message) return reason.message;
  return "You were signed out. Sign in again to continue.";
}

function applyAuth(s) {
  if (!s || typeof s.status !== "string") return;
  const wasSignedIn = isSignedIn();
  state.auth = s;

  switch (s.status) {
    case "loading":
      view.showScreen("loading");
      showLoadingScreenSoon();
      break;
    case "signedOut":
      if (wasSignedIn || state.userId) resetSession();
      renderConnection();
      view.setSignInBusy(false);
      view.renderSignedOutNotice(reasonText(s.reason));
      view.showScreen("signedOut");
      break;
    case "signingIn":
      view.renderSigningIn(s.mode);
      view.showScreen("signingIn");
      break;
    case "signedIn": {
      const user = s.user || {};
      const userId = user.id ?? null;
      const newUser = state.userId !== userId;
      if (newUser) resetSession();
      state.userId = userId;
      if (newUser) restoreDraft();
      state.offlineFromState = !!s.offline;
      view.setSignOutBusy(false);
      view.renderUser(user);
      renderOffline();
      view.renderComposer(composerState());
      view.showScreen("signedIn");
      renderConnection();
      if (newUser) syncMessages();
      break;
    }
    default:
      console.warn("courier: unknown auth status", s.status);
  }
}

async function startSignIn(mode) {
  view.renderSignedOutNotice("");
  view.setSignInBusy(true);
  try {
    await ipc.signIn(mode);
  } catch (err) {
    view.setSignInBusy(false);
    if (err.kind === ipc.ErrorKinds.OFFLINE) {
      view.renderSignedOutNotice("Courier can't reach the sign-in service. Check your connection and try again.");
    } else {
      view.renderSignedOutNotice(err.message || "Sign-in couldn't start.");
    }
    if (state.auth.status !== "signedOut") syncAuthState();
  }
}

async function cancelSignIn() {
  const button = $("cancel-sign-in");
  view.setButtonBusy(button, true);
  try {
    await ipc.cancelSignIn();
  } catch (err) {
    console.error("courier: cancel failed:", err);
    view.setButtonBusy(button, false);
    syncAuthState();
  }
}

async function signOut() {
  view.setSignOutBusy(true);
  // Signing out removes this account's draft; do not write it again now.
  cancelDraftSave();
  try {
    await ipc.signOut();
  } catch (err) {
    view.setSignOutBusy(false);
    const msg = noteError(err);
    if (msg) {
      state.listError = `Couldn't sign out. ${msg}`;
      state.listErrorTone = "error";
      renderMessages();
    }
  }
}

// ---- clock ------------------------------------------------------------------

function startClock() {
  // Relative times age even when nothing else changes.
  setInterval(() => {
    if (isSignedIn() && document.visibilityState === "visible") renderMessages();
  }, 30000);
}

// ---- wiring -----------------------------------------------------------------

function wireDom() {
  $("sign-in").addEventListener("click", () => startSignIn(null));
  $("sign-in-browser").addEventListener("click", () => startSignIn("browser"));
  $("cancel-sign-in").addEventListener("click", cancelSignIn);
  $("sign-out").addEventListener("click", signOut);
  $("load-more").addEventListener("click", loadMore);
  $("messages-retry").addEventListener("click", () => {
    state.listError = null;
    renderMessages();
    syncMessages();
  });

  $("messages").addEventListener("click", (e) => {
    const button = e.target instanceof Element ? e.target.closest("button") : null;
    if (!button) return;
    const li = button.closest("li.message");
    const cid = li && li.dataset.clientMessageId;
    if (!cid) return;
    if (button.classList.contains("retry")) retry(cid);
    else if (button.classList.contains("discard")) discard(cid);
  });

  const input = $("composer-input");
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    submitComposer();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.shiftKey || e.altKey || e.isComposing || e.keyCode === 229) return;
    e.preventDefault();
    submitComposer();
  });
  input.addEventListener("input", () => {
    view.renderComposer(composerState());
    scheduleDraftSave();
  });
  window.addEventListener("pagehide", () => {
    if (draftTimer !== null) saveDraftNow(input.value);
  });
}

let connectionEvents = 0; // as authEvents: an older answer cannot win

function onUpdate(update) {
  switch (update && update.event) {
    case ipc.Events.AUTH_STATE_CHANGED:
      authEvents += 1;
      applyAuth(update.payload);
      break;
    case ipc.Events.MESSAGES_UPDATED:
      applySnapshot(update.payload);
      break;
    case ipc.Events.CONNECTION_CHANGED:
      connectionEvents += 1;
      applyConnection(update.payload);
      break;
    default:
      console.warn("courier: unknown update", update && update.event);
  }
}

async function start() {
  showLoadingScreenSoon();
  wireDom();
  view.renderComposer(composerState());

  // One request: the app opens its channel of updates, then reads the
  // state, so nothing is missed in between (see src-tauri/src/updates.rs).
  const seen = { auth: authEvents, connection: connectionEvents };
  let started;
  try {
    started = await ipc.start(onUpdate);
  } catch (err) {
    const hint = err.kind === ipc.ErrorKinds.UNAVAILABLE
      ? "Open Courier from its app icon (or with the run command in the README) rather than in a web browser."
      : "Restart Courier. If this keeps happening, check the app's log.";
    view.renderConfig(err.message || "Courier couldn't read its settings.", hint);
    view.showScreen("config");
    return;
  }
  view.useFont(started.uiFont); // before the first frame that has text
  const info = started.info;
  view.renderVersion(info && info.version);
  view.renderEndpoints(info && info.issuer, info && info.convexUrl);
  if (info && info.config && info.config.ok === false) {
    view.renderConfig(info.config.message, info.config.hint);
    view.showScreen("config");
    return;
  }

  startClock();
  // The session, its messages and the socket's state applied in one go:
  // the first signed-in frame already shows the messages. The draft is
  // restored once the session says whose it is (applyAuth).
  if (seen.auth === authEvents) applyAuth(started.auth);
  applySnapshot(started.messages); // the newest version wins anyway
  if (seen.connection === connectionEvents) applyConnection(started.connection);
}

start();
