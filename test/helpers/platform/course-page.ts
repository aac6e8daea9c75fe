// A course page that frames the tool, for browser tests of cookie-less launches. It implements the
// platform side of the 1EdTech "Client Side postMessages" and "OIDC Login with LTI Client Side
// postMessages" drafts: lti.capabilities (answered by the parent window) and lti.put_data /
// lti.get_data (answered by the frame named in lti_storage_target, or the parent for '_parent').
import { randomBytes } from 'node:crypto';
import express, { type Router } from 'express';
import { escapeHtml, HttpError, page } from './http.ts';
import type { Launches, PendingLaunch } from './oidc.ts';
import type { Site } from './site.ts';
import type { LaunchOptions } from './types.ts';

const TOOL_FRAME = 'lti-tool-frame';

/** The message handler, run in the course page (always) and in the storage frame (named targets). */
function storageScript(frame: string, handlesStorage: boolean, answersCapabilities = true): string {
  const config = JSON.stringify({ frame, handlesStorage, answersCapabilities }).replace(/</g, '\\u003c');
  return `(function () {
  var config = ${config};
  var QUOTA = 65536;
  var stores = new Map();
  var supported = [
    { subject: 'lti.capabilities' },
    { subject: 'lti.put_data', frame: config.frame },
    { subject: 'lti.get_data', frame: config.frame }
  ];
  function reply(event, message, data) {
    data.message_id = message.message_id;
    if (event.source) event.source.postMessage(data, event.origin);
  }
  function fail(event, message, code, text) {
    reply(event, message, { subject: message.subject + '.response', key: message.key, error: { code: code, message: text } });
  }
  // What this window was asked, by subject, for the tests to read (window.__ltiMessages).
  var asked = window.__ltiMessages = {};
  window.addEventListener('message', function (event) {
    var m = event.data;
    if (typeof m === 'string') { try { m = JSON.parse(m); } catch (e) { return; } }
    if (!m || typeof m !== 'object' || typeof m.subject !== 'string') return;
    if (/\\.response$/.test(m.subject)) return;
    asked[m.subject] = (asked[m.subject] || 0) + 1;
    // As Canvas and Moodle do: the tool's frame takes the height the tool asks for.
    if (m.subject === 'lti.frameResize') {
      var tool = document.getElementById('${TOOL_FRAME}');
      if (tool && event.source === tool.contentWindow && typeof m.height === 'number' && m.height > 0) tool.style.height = Math.min(m.height, 5000) + 'px';
      return;
    }
    if (m.subject === 'lti.capabilities') {
      // An older platform (Canvas before it answered capabilities) says nothing.
      if (config.answersCapabilities) reply(event, m, { subject: 'lti.capabilities.response', supported_messages: supported });
      return;
    }
    if (m.subject !== 'lti.put_data' && m.subject !== 'lti.get_data') {
      if (m.subject.indexOf('lti.') === 0) fail(event, m, 'unsupported_subject', 'not supported: ' + m.subject);
      return;
    }
    if (!config.handlesStorage) {
      fail(event, m, 'unsupported_subject', m.subject + ' goes to the frame named ' + config.frame);
      return;
    }
    if (typeof m.key !== 'string' || m.key === '') { fail(event, m, 'bad_request', 'key is required'); return; }
    var store = stores.get(event.origin);
    if (!store) { store = new Map(); stores.set(event.origin, store); }
    if (m.subject === 'lti.put_data') {
      if (typeof m.value !== 'string') { fail(event, m, 'bad_request', 'value must be a string'); return; }
      var used = 0;
      store.forEach(function (v, k) { if (k !== m.key) used += k.length + v.length; });
      if (used + m.key.length + m.value.length > QUOTA) { fail(event, m, 'storage_exhaustion', 'quota of ' + QUOTA + ' characters exceeded'); return; }
      store.set(m.key, m.value);
      reply(event, m, { subject: 'lti.put_data.response', key: m.key, value: m.value });
      return;
    }
    if (!store.has(m.key)) { fail(event, m, 'bad_request', 'no value stored for key ' + m.key); return; }
    reply(event, m, { subject: 'lti.get_data.response', key: m.key, value: store.get(m.key) });
  });
})();`;
}

export class CoursePages {
  #pages = new Map<string, PendingLaunch>();
  /** Whether each page answers lti.capabilities. */
  #capabilities = new Map<string, boolean>();
  readonly #site: Site;
  readonly #launches: Launches;

  constructor(site: Site, launches: Launches) {
    this.#site = site;
    this.#launches = launches;
  }

  /** A page whose iframe starts the launch; lti_storage_target defaults to the flavor's (Canvas: post_message_forwarding). */
  create(opts: LaunchOptions & { answersCapabilities?: boolean } = {}): string {
    const storageTarget = opts.storageTarget ?? (this.#site.flavor === 'canvas' ? 'post_message_forwarding' : '_parent');
    const pending = this.#launches.create({ ...opts, storageTarget });
    const key = randomBytes(12).toString('hex');
    this.#pages.set(key, pending);
    this.#capabilities.set(key, opts.answersCapabilities !== false);
    return this.#site.url(`/__sim/course/${key}`);
  }

  router(): Router {
    const site = this.#site;
    const router = express.Router();
    router.get('/__sim/course/:key', (req, res) => {
      const pending = this.#pages.get(req.params.key);
      if (!pending) throw new HttpError(404, 'not_found', 'no such course page', { format: 'html' });
      const tool = site.requireTool();
      const login = new URL(tool.loginUrl);
      for (const [k, v] of Object.entries(this.#launches.initiationParams(pending))) login.searchParams.set(k, v);
      const frame = pending.storageTarget ?? '_parent';
      const storageFrame = frame === '_parent'
        ? ''
        : `<iframe name="${escapeHtml(frame)}" src="/__sim/storage-frame?frame=${encodeURIComponent(frame)}" style="display:none" title="storage"></iframe>`;
      const title = pending.course?.title ?? 'Course';
      // As Moodle and Canvas do, the session cookie is SameSite=None: the auth request comes from
      // the tool's frame, a document of another site (Secure is allowed on http://localhost).
      res.cookie(site.layout.sessionCookie, pending.session, { httpOnly: true, sameSite: 'none', secure: true, path: '/' });
      res.type('html').set('Cache-Control', 'no-store').send(page(title,
        `<h1>${escapeHtml(title)}</h1>${storageFrame}` +
        `<iframe id="${TOOL_FRAME}" name="${TOOL_FRAME}" src="${escapeHtml(login.toString())}" ` +
        'allow="camera *; microphone *; display-capture *; autoplay *; fullscreen *" style="width:100%;height:640px;border:0" title="tool"></iframe>' +
        `<script>${storageScript(frame, frame === '_parent', this.#capabilities.get(req.params.key) !== false)}</script>`));
    });
    router.get('/__sim/storage-frame', (req, res) => {
      const frame = typeof req.query.frame === 'string' ? req.query.frame : 'post_message_forwarding';
      res.type('html').send(page('storage', `<script>${storageScript(frame, true)}</script>`));
    });
    return router;
  }
}
