// Relative times for message timestamps ("just now", "5 min ago", "yesterday", a date)
// and the absolute form used for the tooltip.

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;

function startOfDay(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dateFmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const dateYearFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

/**
 * @param {number} ms timestamp (ms since epoch)
 * @param {number} [now]
 * @returns {string}
 */
export function relativeTime(ms, now = Date.now()) {
  const diff = now - ms;
  if (!Number.isFinite(diff)) return "";
  if (diff < MINUTE) return "just now"; // includes small clock skew into the future
  if (diff < HOUR) return `${Math.floor(diff / MINUTE)} min ago`;
  const then = new Date(ms);
  const today = startOfDay(new Date(now));
  if (ms >= today) {
    const hours = Math.floor(diff / HOUR);
    return hours < 6 ? `${hours} h ago` : timeFmt.format(then);
  }
  if (ms >= startOfDay(new Date(today - 1))) return "yesterday";
  if (then.getFullYear() === new Date(now).getFullYear()) return dateFmt.format(then);
  return dateYearFmt.format(then);
}

/** The full date and time, for a tooltip. */
export function absoluteTime(ms) {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? "" : fullFmt.format(d);
}

/** An ISO string for `<time datetime>`. */
export function isoTime(ms) {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}
