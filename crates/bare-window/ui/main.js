// Reports first paint once the heading is painted: requestAnimationFrame
// runs just before the frame is painted, the timeout just after (Courier's
// ui/js/main.js reports the same way).
function reportFirstPaint() {
  requestAnimationFrame(() =>
    setTimeout(
      () => window.__TAURI__.core.invoke("report_first_paint", { pageMs: performance.now() }),
      0,
    ),
  );
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", reportFirstPaint, { once: true });
} else {
  reportFirstPaint();
}
