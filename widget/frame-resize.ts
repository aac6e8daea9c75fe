// Inside an LMS page the tool is an iframe of a height the LMS chose (Canvas: 400-ish px, Moodle:
// its activity setting), which would cut the stage's controls off. Canvas and Moodle both resize
// the frame on `lti.frameResize` { height } from the tool: sent whenever the page's height changes.
// The message carries a height only, so any parent may read it ('*'). The body's height, not the
// document's: the document is never shorter than the frame, so the frame could grow but never
// shrink back (when the class ends and the stage goes).

/** Starts following the page's height; answers the function that stops. */
export function followFrameHeight(): () => void {
  if (window.parent === window) return () => {};
  let sent = 0;
  const send = (): void => {
    const height = Math.ceil(document.body.scrollHeight);
    if (height === sent) return;
    sent = height;
    window.parent.postMessage({ subject: 'lti.frameResize', height }, '*');
  };
  const observer = new ResizeObserver(send);
  observer.observe(document.body);
  send();
  return () => observer.disconnect();
}
