// The small HTML pages the LTI routes answer with. Every value is escaped; no inline script.
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;padding:1.5rem;color:#1f2328;background:#fff}
h1{font-size:1.25rem;margin:0 0 .5rem}p{margin:.25rem 0}.muted{color:#59636e}`;

function page(title: string, body: string, lang = 'en'): string {
  return `<!doctype html>
<html lang="${escapeHtml(lang)}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>
${body}
</body>
</html>
`;
}

export interface ClassroomPage {
  roomId: string;
  roomTitle: string;
  courseTitle: string;
  userName: string;
  role: string;
  locale: string;
  seatToken: string;
}

/** The page that hosts the widget; the element reads its seat token from an attribute. */
export function classroomPage(p: ClassroomPage): string {
  return page(
    p.roomTitle,
    `<main>
<live-classroom room-id="${escapeHtml(p.roomId)}" role="${escapeHtml(p.role)}" locale="${escapeHtml(p.locale)}" seat-token="${escapeHtml(p.seatToken)}">
<h1>${escapeHtml(p.roomTitle)}</h1>
<p class="muted">${escapeHtml(p.courseTitle)}</p>
<p>Signed in as ${escapeHtml(p.userName)} (${escapeHtml(p.role)}).</p>
</live-classroom>
</main>`,
    p.locale,
  );
}

/** A refusal a person can act on: what happened and what to do. */
export function problemPage(title: string, explanation: string): string {
  return page(title, `<main role="alert"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(explanation)}</p></main>`);
}
