// The small HTML pages the LTI routes answer with. Every value is escaped; no inline script: the
// few pages that need script load it from lti/assets (served at /lti/assets/, relative URLs).
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;padding:1.5rem;color:#1f2328;background:#fff}
h1{font-size:1.25rem;margin:0 0 .5rem}p{margin:.25rem 0}.muted{color:#59636e}
form{display:grid;gap:.9rem;max-width:32rem}label{display:grid;gap:.2rem;font-weight:600}
input,select{font:inherit;padding:.4rem .5rem;border:1px solid #d1d9e0;border-radius:6px}
fieldset{border:1px solid #d1d9e0;border-radius:6px;padding:.5rem .75rem}legend{font-weight:600}
fieldset label{display:flex;gap:.4rem;font-weight:400;align-items:center}
.hint{font-weight:400;color:#59636e;font-size:.875rem}
.problem{border-left:4px solid #cf222e;padding:.25rem .75rem;background:#ffebe9}
button,a.button{display:inline-block;text-decoration:none;font:inherit;padding:.45rem 1rem;border-radius:6px;border:1px solid #1f883d;background:#1f883d;color:#fff;cursor:pointer;justify-self:start}
button.secondary{background:#f6f8fa;color:#1f2328;border-color:#d1d9e0}`;

function page(title: string, body: string, lang = 'en', script?: string, module?: string): string {
  const scriptTag =
    (script ? `<script src="${escapeHtml(script)}" defer></script>` : '') + (module ? `<script type="module" src="${escapeHtml(module)}"></script>` : '');
  return `<!doctype html>
<html lang="${escapeHtml(lang)}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style>${scriptTag}</head>
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
<h1>${escapeHtml(p.roomTitle)}</h1>
<p class="muted">${escapeHtml(p.courseTitle)} · ${escapeHtml(p.userName)}</p>
<live-classroom room-id="${escapeHtml(p.roomId)}" role="${escapeHtml(p.role)}" locale="${escapeHtml(p.locale)}" seat-token="${escapeHtml(p.seatToken)}">
<p>Loading the live class…</p>
<noscript><p>The live class needs JavaScript.</p></noscript>
</live-classroom>
</main>`,
    p.locale,
    undefined,
    // Relative to /lti/launch, so a tool served under a path prefix still finds it.
    '../widget/live-classroom.js',
  );
}

/** A refusal a person can act on: what happened and what to do. */
export function problemPage(title: string, explanation: string): string {
  return page(title, `<main role="alert"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(explanation)}</p></main>`);
}

export interface DeepLinkFormValues {
  title: string;
  startsAt?: string;
  duration: string;
  policy: string;
  threshold: string;
  attendance?: boolean;
}

export interface DeepLinkForm {
  /** Where the form posts, relative to the page. */
  action: string;
  ltik: string;
  courseTitle: string;
  values: DeepLinkFormValues;
  problem?: string;
}

/** The form an instructor fills in the LMS's tool picker to place a live class. */
export function deepLinkFormPage(f: DeepLinkForm): string {
  const v = f.values;
  const checked = (policy: string) => (v.policy === policy ? ' checked' : '');
  const problem = f.problem ? `<p class="problem" role="alert" id="problem">${escapeHtml(f.problem)}</p>` : '';
  return page(
    'Add a live class',
    `<main>
<h1>Add a live class</h1>
${f.courseTitle ? `<p class="muted">${escapeHtml(f.courseTitle)}</p>` : ''}
${problem}
<form method="post" action="${escapeHtml(f.action)}" id="placement"${f.problem ? ' aria-describedby="problem"' : ''}>
<input type="hidden" name="ltik" value="${escapeHtml(f.ltik)}">
<input type="hidden" name="starts_at_iso" value="">
<label>Title<input name="title" required maxlength="200" value="${escapeHtml(v.title)}"></label>
<label>Scheduled start<input type="datetime-local" name="starts_at" value="${escapeHtml(v.startsAt ?? '')}" aria-describedby="start-hint">
<span class="hint" id="start-hint">Optional, in your local time.</span></label>
<label>Duration (minutes)<input type="number" name="duration" required min="5" max="720" step="1" value="${escapeHtml(v.duration)}"></label>
<fieldset><legend>Who may join</legend>
<label><input type="radio" name="policy" value="enrolled"${checked('enrolled')}> Students enrolled in the course</label>
<label><input type="radio" name="policy" value="paid"${checked('paid')}> Enrolled students who paid the course fee</label>
</fieldset>
<label>Paid when the "Course fee paid" grade is at least (%)<input type="number" name="threshold" min="1" max="100" step="1" value="${escapeHtml(v.threshold)}" aria-describedby="threshold-hint">
<span class="hint" id="threshold-hint">Only for paid classes. Live Classroom creates that grade item in the course; the gradebook or the shop sets it when a student pays.</span></label>
<label class="check"><input type="checkbox" name="attendance" value="on"${v.attendance ? ' checked' : ''} aria-describedby="attendance-hint"> Send attendance to the gradebook</label>
<span class="hint" id="attendance-hint">When a class ends, each student's minutes present go to an "Attendance" grade item that Live Classroom creates.</span>
<button type="submit">Add live class</button>
</form>
</main>`,
    'en',
    'assets/deep-link-form.js',
  );
}

/** Returns the signed deep linking response to the platform: a form the script submits at once. */
export function deepLinkReturnPage(returnUrl: string, jwt: string, title: string): string {
  return page(
    'Returning to the course',
    `<main>
<h1>Adding "${escapeHtml(title)}" to the course…</h1>
<form method="post" action="${escapeHtml(returnUrl)}" data-auto-submit>
<input type="hidden" name="JWT" value="${escapeHtml(jwt)}">
<button type="submit">Continue to the course</button>
</form>
</main>`,
    'en',
    'assets/auto-submit.js',
  );
}

const NEW_WINDOW_TITLE = 'Open Live Classroom in a new window';
const NEW_WINDOW_TEXT =
  'Your browser does not let Live Classroom keep you signed in inside the course page (it blocks cookies in embedded pages). ' +
  'Open it in a window of its own; your course page stays open here.';

function newWindowSection(url: string, hidden: boolean): string {
  return `<section data-fallback${hidden ? ' hidden' : ''} role="alert">
<h1>${escapeHtml(NEW_WINDOW_TITLE)}</h1>
<p>${escapeHtml(NEW_WINDOW_TEXT)}</p>
<p><a class="button" href="${escapeHtml(url)}" target="_blank" rel="noopener">Open in a new window</a></p>
</section>`;
}

const WAITING = '<p data-waiting class="muted" role="status">Connecting to your course…</p>';

export interface ClientStateLogin {
  authUrl: string;
  storageTarget: string;
  platformOrigin: string;
  key: string;
  value: string;
  newWindowUrl: string;
}

/** Login step of a cookie-less launch: store the state's secret in platform storage, then go on. */
export function clientStateLoginPage(p: ClientStateLogin): string {
  return page(
    'Live Classroom',
    `<main id="lc-client-state" data-mode="store" data-auth-url="${escapeHtml(p.authUrl)}" data-target="${escapeHtml(p.storageTarget)}" data-origin="${escapeHtml(p.platformOrigin)}" data-key="${escapeHtml(p.key)}" data-value="${escapeHtml(p.value)}">
${WAITING}
<noscript>${newWindowSection(p.newWindowUrl, false)}</noscript>
</main>`,
    'en',
    'assets/client-state.js',
  );
}

export interface ClientStateLaunch {
  action: string;
  idToken: string;
  state: string;
  storageTarget: string;
  platformOrigin: string;
  key: string;
  newWindowUrl: string;
}

/** Launch step of a cookie-less launch: read the secret back from platform storage and post it with the launch. */
export function clientStateLaunchPage(p: ClientStateLaunch): string {
  return page(
    'Live Classroom',
    `<main id="lc-client-state" data-mode="retrieve" data-target="${escapeHtml(p.storageTarget)}" data-origin="${escapeHtml(p.platformOrigin)}" data-key="${escapeHtml(p.key)}">
${WAITING}
<form id="lc-launch" method="post" action="${escapeHtml(p.action)}" hidden>
<input type="hidden" name="id_token" value="${escapeHtml(p.idToken)}">
<input type="hidden" name="state" value="${escapeHtml(p.state)}">
<input type="hidden" name="lc_client_state" value="">
</form>
${newWindowSection(p.newWindowUrl, true)}
</main>`,
    'en',
    'assets/client-state.js',
  );
}

/** A framed login without platform storage: check this browser keeps our cookie before going on. */
export function cookieCheckPage(p: { authUrl: string; cookieName: string; newWindowUrl: string }): string {
  return page(
    'Live Classroom',
    `<main id="lc-client-state" data-mode="cookie-check" data-auth-url="${escapeHtml(p.authUrl)}" data-cookie="${escapeHtml(p.cookieName)}">
${WAITING}
${newWindowSection(p.newWindowUrl, true)}
<noscript>${newWindowSection(p.newWindowUrl, false)}</noscript>
</main>`,
    'en',
    'assets/client-state.js',
  );
}

/** A launch that arrived without the cookie its login set: offer the new window. */
export function newWindowPage(url: string): string {
  return page(NEW_WINDOW_TITLE, `<main>${newWindowSection(url, false)}</main>`);
}
