// Rendering only: takes plain data, updates the DOM. No IPC, no state.
// Data (message bodies, names, emails, reasons) always goes in with textContent.

import { relativeTime, absoluteTime, isoTime } from "./time.js";

const $ = (id) => document.getElementById(id);

const SCREENS = Object.freeze({
  loading: "screen-loading",
  config: "screen-config",
  signedOut: "screen-signed-out",
  signingIn: "screen-signing-in",
  signedIn: "screen-signed-in",
});

// Where focus goes when a screen replaces the one that held it.
const FOCUS_TARGET = Object.freeze({
  signedOut: "sign-in",
  signingIn: "cancel-sign-in",
  signedIn: "composer-input",
});

let currentScreen = "loading";

/** Shows exactly one screen (the others get the `hidden` attribute). */
export function showScreen(name) {
  if (!(name in SCREENS)) throw new Error(`unknown screen ${name}`);
  const previous = currentScreen;
  const active = document.activeElement;
  const previousEl = $(SCREENS[previous]);
  // Focus "was inside" too when a busy (disabled) button just dropped it to <body>.
  const focusWasInside = (active && active !== document.body && previousEl && previousEl.contains(active))
    || ((!active || active === document.body) && previous !== "loading");

  for (const [key, id] of Object.entries(SCREENS)) {
    const el = $(id);
    if (el) el.hidden = key !== name;
  }
  currentScreen = name;
  document.body.dataset.screen = name;

  if (previous !== name) {
    const target = FOCUS_TARGET[name] && $(FOCUS_TARGET[name]);
    // Keep keyboard users in place: move focus only when it would be lost,
    // or into the composer when the message screen appears.
    if (target && (focusWasInside || name === "signedIn")) {
      target.focus({ preventScroll: true });
    }
  }
}

/**
 * Names the desktop's interface font (the app reads it from GTK on Linux)
 * in place of `system-ui`, which WebKitGTK resolves slowly. Only a plain
 * family name is used (the app checks too); otherwise the stylesheet's
 * `system-ui` stays.
 */
export function useFont(family) {
  if (typeof family !== "string" || !/^[\p{L}\p{N} ._-]{1,64}$/u.test(family)) return;
  document.documentElement.style.setProperty("--font", `"${family}", sans-serif`);
}

export function renderVersion(version) {
  $("app-version").textContent = version ? `Version ${version}` : "";
}

/** Shows which issuer and backend this app uses (text only, never markup). */
export function renderEndpoints(issuer, convexUrl) {
  const known = !!(issuer && convexUrl);
  for (const [issuerId, backendId, boxId] of [
    ["about-issuer", "about-backend", "about"],
    ["about-issuer-out", "about-backend-out", "app-endpoints"],
  ]) {
    $(issuerId).textContent = issuer || "";
    $(backendId).textContent = convexUrl || "";
    $(boxId).hidden = !known;
  }
}

export function renderConfig(message, hint) {
  $("config-message").textContent = message || "Courier isn't configured.";
  const hintEl = $("config-hint");
  hintEl.textContent = hint || "";
  hintEl.hidden = !hint;
}

/** The reason shown on the signed-out card (a sign-out reason or a sign-in error). */
export function renderSignedOutNotice(message) {
  const el = $("sign-out-reason");
  el.textContent = message || "";
  el.hidden = !message;
}

export function setSignInBusy(busy) {
  for (const id of ["sign-in", "sign-in-browser"]) {
    const b = $(id);
    b.disabled = busy;
    b.setAttribute("aria-busy", busy ? "true" : "false");
  }
}

export function renderSigningIn(mode) {
  const title = $("signing-in-title");
  const detail = $("signing-in-detail");
  if (mode === "browser") {
    title.textContent = "Waiting for your browser…";
    detail.textContent = "Finish signing in in the browser tab that just opened, then come back here.";
  } else {
    title.textContent = "Finish signing in in the window that opened";
    detail.textContent = "Courier continues on its own as soon as you’re done.";
  }
  setButtonBusy($("cancel-sign-in"), false);
}

export function setButtonBusy(button, busy) {
  button.disabled = busy;
  button.setAttribute("aria-busy", busy ? "true" : "false");
}

// ---- account ---------------------------------------------------------------

const AVATAR_COLORS = 8;

function initialsOf(user) {
  const name = (user && user.name ? user.name : "").trim();
  if (name) {
    const words = name.split(/\s+/u).filter(Boolean);
    const first = Array.from(words[0] || "")[0] || "";
    const last = words.length > 1 ? Array.from(words[words.length - 1])[0] || "" : "";
    return (first + last).toLocaleUpperCase();
  }
  const email = (user && user.email ? user.email : "").trim();
  if (email) return (Array.from(email)[0] || "?").toLocaleUpperCase();
  return "?";
}

function colorIndex(seed) {
  let h = 0;
  for (const ch of seed) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return h % AVATAR_COLORS;
}

function initialsAvatar(user) {
  const span = document.createElement("span");
  span.id = "user-avatar";
  span.className = `avatar avatar--initials avatar--c${colorIndex(String(user.id || user.email || user.name || ""))}`;
  span.setAttribute("aria-hidden", "true");
  span.textContent = initialsOf(user);
  return span;
}

function renderAvatar(user) {
  const slot = $("avatar-slot");
  const current = $("user-avatar");
  const picture = typeof user.picture === "string" && user.picture ? user.picture : null;
  const key = `${picture || ""}|${user.id || ""}|${user.name || ""}|${user.email || ""}`;
  if (current && current.dataset.key === key) return;

  let el;
  if (picture) {
    el = document.createElement("img");
    el.id = "user-avatar";
    el.className = "avatar avatar--image";
    el.alt = "";
    el.width = 32;
    el.height = 32;
    el.referrerPolicy = "no-referrer";
    el.decoding = "async";
    el.addEventListener("error", () => {
      const fallback = initialsAvatar(user);
      fallback.dataset.key = key;
      if (el.isConnected) el.replaceWith(fallback);
    }, { once: true });
    el.src = picture;
  } else {
    el = initialsAvatar(user);
  }
  el.dataset.key = key;
  if (current) current.replaceWith(el);
  else slot.append(el);
}

export function renderUser(user) {
  const u = user || {};
  const name = (u.name || "").trim();
  const email = (u.email || "").trim();
  const nameEl = $("user-name");
  const emailEl = $("user-email");
  nameEl.textContent = name || email || "Signed in";
  emailEl.textContent = name ? email : "";
  emailEl.hidden = !name || !email;
  nameEl.title = name || email;
  emailEl.title = email;
  renderAvatar(u);
}

export function setSignOutBusy(busy) {
  setButtonBusy($("sign-out"), busy);
}

// ---- status -----------------------------------------------------------------

const OFFLINE_TEXT = {
  issuer: "Courier can't reach the sign-in service. Your session is kept and your messages still load; Courier keeps retrying.",
  backend: "Courier can't reach the message server. Your session is kept; Courier will reconnect.",
  both: "You're offline. Courier keeps your session and will reconnect.",
};

/** `what`: null (all reachable), "issuer", "backend" or "both". */
export function renderOffline(what) {
  const banner = $("offline-banner");
  banner.hidden = !what;
  if (what) {
    banner.textContent = OFFLINE_TEXT[what];
    banner.dataset.unreachable = what;
  } else {
    delete banner.dataset.unreachable;
  }
}

/** The quiet indicator shown while the socket to the backend is down. */
export function renderReconnecting(on) {
  $("reconnecting").hidden = !on;
}

// ---- messages ---------------------------------------------------------------

/** key -> { el, sig } for keyed updates that keep focus on Retry buttons. */
const rendered = new Map();

function statusNodes(item) {
  if (item.status === "pending") {
    const s = document.createElement("span");
    s.className = "message-status message-status--pending";
    s.textContent = "Sending…";
    return [s];
  }
  if (item.status === "failed") {
    const s = document.createElement("span");
    s.className = "message-status message-status--failed";
    s.textContent = "Not sent";
    if (item.error) s.title = item.error;
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "retry btn btn--link btn--small";
    retry.textContent = "Retry";
    retry.setAttribute("aria-label", "Retry sending this message");
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "discard btn btn--link btn--small btn--quiet";
    discard.textContent = "Discard";
    discard.setAttribute("aria-label", "Discard this message");
    const nodes = [s, retry, discard];
    if (item.error) {
      const why = document.createElement("span");
      why.className = "message-error";
      why.textContent = item.error;
      nodes.push(why);
    }
    return nodes;
  }
  return [];
}

function buildMessage() {
  return $("tpl-message").content.firstElementChild.cloneNode(true);
}

function updateMessage(li, item, now) {
  li.dataset.id = item.id || "";
  if (item.clientMessageId) li.dataset.clientMessageId = item.clientMessageId;
  else delete li.dataset.clientMessageId;
  li.dataset.status = item.status;
  li.classList.toggle("message--pending", item.status === "pending");
  li.classList.toggle("message--failed", item.status === "failed");

  const body = li.querySelector(".message-body");
  if (body.textContent !== item.body) body.textContent = item.body;

  const time = li.querySelector(".message-time");
  time.textContent = relativeTime(item.time, now);
  time.title = absoluteTime(item.time);
  time.dateTime = isoTime(item.time);

  const meta = li.querySelector(".message-meta");
  const sig = `${item.status}|${item.error || ""}`;
  if (li.dataset.sig !== sig) {
    // Rebuild the status part only when it changed (keeps focus otherwise).
    const hadFocus = meta.contains(document.activeElement);
    for (const n of Array.from(meta.children)) if (n !== time) n.remove();
    meta.append(...statusNodes(item));
    li.dataset.sig = sig;
    if (hadFocus) {
      const retry = meta.querySelector("button.retry");
      if (retry) retry.focus({ preventScroll: true });
      else {
        li.tabIndex = -1;
        li.focus({ preventScroll: true });
      }
    }
  }
}

/**
 * @param {Array<{key: string, id: string|null, clientMessageId?: string, body: string,
 *   time: number, status: "sent"|"pending"|"failed", error?: string}>} items newest first
 * @param {{loading: boolean, loaded: boolean, isDone: boolean, loadingMore: boolean,
 *   error: string|null, errorTone?: "error"|"info"}} opts
 */
export function renderMessages(items, opts) {
  const list = $("messages");
  const now = Date.now();
  const keep = new Set();
  // The first messages shown just appear; later ones slide in (app.css).
  const arriving = rendered.size > 0;

  items.forEach((item, index) => {
    keep.add(item.key);
    let entry = rendered.get(item.key);
    if (!entry) {
      entry = { el: buildMessage() };
      if (arriving) entry.el.classList.add("message--arrived");
      rendered.set(item.key, entry);
    }
    updateMessage(entry.el, item, now);
    const at = list.children[index];
    if (at !== entry.el) list.insertBefore(entry.el, at || null);
  });
  for (const [key, entry] of rendered) {
    if (!keep.has(key)) {
      const hadFocus = entry.el.contains(document.activeElement);
      entry.el.remove();
      rendered.delete(key);
      if (hadFocus) $("composer-input").focus({ preventScroll: true });
    }
  }

  $("messages-loading").hidden = !(opts.loading && !opts.loaded);
  $("messages-empty").hidden = !(opts.loaded && items.length === 0 && !opts.error);

  const errorBox = $("messages-error");
  errorBox.hidden = !opts.error;
  const info = opts.errorTone === "info";
  errorBox.classList.toggle("notice--error", !info);
  errorBox.classList.toggle("notice--info", info);
  errorBox.setAttribute("role", info ? "status" : "alert");
  $("messages-error-text").textContent = opts.error || "";

  const more = $("load-more");
  const hideMore = !opts.loaded || opts.isDone;
  if (hideMore && more.contains(document.activeElement)) $("composer-input").focus({ preventScroll: true });
  more.hidden = hideMore;
  // aria-disabled rather than disabled: a disabled button drops keyboard focus.
  more.setAttribute("aria-disabled", opts.loadingMore ? "true" : "false");
  more.setAttribute("aria-busy", opts.loadingMore ? "true" : "false");
  more.textContent = opts.loadingMore ? "Loading…" : "Load more";
}

/** Scrolls the message list back to the newest message. */
export function scrollToNewest() {
  $("feed").scrollTo({ top: 0 });
}

// ---- composer ---------------------------------------------------------------

export const COMPOSER_LIMIT = 10000;
const COUNTER_FROM = 9000;
const MAX_ROWS = 8;

/** @param {{text: string, canSend: boolean}} state */
export function renderComposer({ text, canSend }) {
  const input = $("composer-input");
  const length = text.length;
  const counter = $("composer-counter");
  const showCounter = length >= COUNTER_FROM;
  counter.hidden = !showCounter;
  const over = length > COMPOSER_LIMIT;
  counter.classList.toggle("composer-counter--over", over);
  counter.textContent = showCounter
    ? over
      ? `${(length - COMPOSER_LIMIT).toLocaleString()} ${length - COMPOSER_LIMIT === 1 ? "character" : "characters"} over the 10,000 limit`
      : `${length.toLocaleString()} / ${COMPOSER_LIMIT.toLocaleString()}`
    : "";
  input.setAttribute("aria-invalid", over ? "true" : "false");
  $("composer-send").disabled = !canSend;

  // Grow with hard line breaks (attribute, not inline style: the CSP is strict).
  const rows = Math.min(MAX_ROWS, Math.max(1, text.split("\n").length));
  if (input.rows !== rows) input.rows = rows;
}

export function setComposerText(text) {
  const input = $("composer-input");
  if (input.value !== text) input.value = text;
}
