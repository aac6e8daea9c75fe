// Runs in the tool's frame during a launch (see lti/client-state.ts). Three modes, chosen by the
// server through data attributes on #lc-client-state:
//   store        put a one-time value in the platform's storage (lti.put_data), then go to the platform
//   retrieve     read it back (lti.get_data) and post it with the launch
//   cookie-check go on if this browser kept our cookie, else offer a new window
(function () {
  'use strict';
  var root = document.getElementById('lc-client-state');
  if (!root) return;
  var d = root.dataset;
  var TIMEOUT_MS = 4000;
  var RESEND_MS = 250;
  var CAPABILITIES_MS = 1000;

  function show(selector, visible) {
    var el = document.querySelector(selector);
    if (el) el.hidden = !visible;
  }

  function fallback(reason) {
    show('[data-waiting]', false);
    show('[data-fallback]', true);
    if (reason && window.console) window.console.warn('Live Classroom: ' + reason);
  }

  /** The platform's window: the parent of our frame, or the window that opened ours. */
  function platformWindow() {
    return window.parent !== window ? window.parent : window.opener;
  }

  /** The platform window that keeps the storage: the platform's window, or a frame of it by name. */
  function storageWindow(target) {
    var platform = platformWindow();
    if (!platform) return null;
    if (!target || target === '_parent') return platform;
    try {
      return platform.frames[target] || null;
    } catch (e) {
      return null;
    }
  }

  function messageId() {
    return 'lc-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2);
  }

  /**
   * Asks the platform which messages it takes and in which frame (lti.capabilities, answered by
   * the platform's own window, whose origin we do not know: the answer only names a frame, and the
   * data itself goes only to the storage origin). `done(null)` when the platform does not answer.
   */
  function capabilities(done) {
    var platform = platformWindow();
    if (!platform) return done(null);
    var id = messageId();
    var finished = false;
    function finish(answer) {
      if (finished) return;
      finished = true;
      window.removeEventListener('message', onMessage);
      clearTimeout(timer);
      done(answer);
    }
    function onMessage(event) {
      var m = event.data;
      if (event.source !== platform || !m || typeof m !== 'object' || m.message_id !== id || m.subject !== 'lti.capabilities.response') return;
      finish(Array.isArray(m.supported_messages) ? m.supported_messages : []);
    }
    var timer = setTimeout(function () {
      finish(null);
    }, CAPABILITIES_MS);
    window.addEventListener('message', onMessage);
    try {
      platform.postMessage({ subject: 'lti.capabilities', message_id: id }, '*');
    } catch (e) {
      finish(null);
    }
  }

  /**
   * Where `subject` goes: the frame the platform named in its capabilities, else the one named by
   * lti_storage_target. `resend` when we could not ask: the storage frame may still be loading.
   */
  function route(subject, done) {
    capabilities(function (supported) {
      if (supported === null) return done({ target: d.target, resend: true });
      for (var i = 0; i < supported.length; i++) {
        var entry = supported[i];
        if (entry && entry.subject === subject) return done({ target: typeof entry.frame === 'string' && entry.frame ? entry.frame : '_parent', resend: false });
      }
      done({ error: 'the platform does not take ' + subject });
    });
  }

  function ask(subject, fields, done) {
    route(subject, function (where) {
      if (where.error) return done(where.error);
      var win = storageWindow(where.target);
      if (!win) return done('no platform window named ' + where.target);
      var id = messageId();
      var finished = false;
      function finish(error, message) {
        if (finished) return;
        finished = true;
        window.removeEventListener('message', onMessage);
        clearTimeout(timer);
        clearInterval(resend);
        done(error, message);
      }
      function onMessage(event) {
        var m = event.data;
        if (event.origin !== d.origin || !m || typeof m !== 'object' || m.message_id !== id) return;
        if (m.subject !== subject + '.response') return;
        if (m.error) return finish('platform storage refused ' + subject + ': ' + (m.error.code || '') + ' ' + (m.error.message || ''));
        finish(null, m);
      }
      var timer = setTimeout(function () {
        finish('platform storage did not answer ' + subject);
      }, TIMEOUT_MS);
      window.addEventListener('message', onMessage);
      var message = { subject: subject, message_id: id };
      for (var k in fields) message[k] = fields[k];
      function send() {
        try {
          win.postMessage(message, d.origin);
        } catch (e) {
          finish('could not reach platform storage: ' + e.message);
        }
      }
      // A platform that answered lti.capabilities has its storage frame ready: one message. One
      // that did not (an older Canvas) may still be loading its frame beside ours: ask again until
      // it answers (put_data and get_data are idempotent; one answer is used).
      var resend = where.resend ? setInterval(send, RESEND_MS) : undefined;
      send();
    });
  }

  if (d.mode === 'store') {
    ask('lti.put_data', { key: d.key, value: d.value }, function (error) {
      // Without storage the launch may still work with cookies; the launch page offers a new window if not.
      if (error && window.console) window.console.warn('Live Classroom: ' + error);
      window.location.replace(d.authUrl);
    });
  } else if (d.mode === 'retrieve') {
    ask('lti.get_data', { key: d.key }, function (error, message) {
      if (error || typeof message.value !== 'string') return fallback(error || 'no value in platform storage');
      var form = document.getElementById('lc-launch');
      form.elements.lc_client_state.value = message.value;
      form.submit();
    });
  } else if (d.mode === 'cookie-check') {
    if (document.cookie.indexOf(d.cookie + '=') !== -1) window.location.replace(d.authUrl);
    else fallback('this browser does not keep cookies for Live Classroom inside the course page');
  }
})();
