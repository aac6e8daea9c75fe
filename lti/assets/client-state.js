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

  function show(selector, visible) {
    var el = document.querySelector(selector);
    if (el) el.hidden = !visible;
  }

  function fallback(reason) {
    show('[data-waiting]', false);
    show('[data-fallback]', true);
    if (reason && window.console) window.console.warn('Live Classroom: ' + reason);
  }

  /** The platform window that keeps the storage: the parent (or opener), or a frame it names. */
  function storageWindow(target) {
    var platform = window.parent !== window ? window.parent : window.opener;
    if (!platform) return null;
    if (target === '_parent') return platform;
    try {
      return platform.frames[target] || null;
    } catch (e) {
      return null;
    }
  }

  function ask(subject, fields, done) {
    var win = storageWindow(d.target);
    if (!win) return done('no platform window named ' + d.target);
    var id = 'lc-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2);
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
    // The storage frame may still be loading (Canvas's post_message_forwarding frame loads beside
    // ours): ask again until it answers. put_data and get_data are idempotent; one answer is used.
    var resend = setInterval(send, RESEND_MS);
    send();
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
