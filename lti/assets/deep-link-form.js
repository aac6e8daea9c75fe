// The Deep Linking form: sends the scheduled start as an instant (the browser knows the instructor's
// time zone; the server does not) and shows the paid threshold only for paid classes.
(function () {
  'use strict';
  var form = document.getElementById('placement');
  if (!form) return;
  var threshold = form.elements.threshold && form.elements.threshold.closest('label');
  function syncPolicy() {
    if (threshold) threshold.hidden = form.elements.policy.value !== 'paid';
  }
  Array.prototype.forEach.call(form.elements.policy, function (radio) {
    radio.addEventListener('change', syncPolicy);
  });
  syncPolicy();
  form.addEventListener('submit', function () {
    var local = form.elements.starts_at.value;
    var date = local ? new Date(local) : null;
    form.elements.starts_at_iso.value = date && !isNaN(date.getTime()) ? date.toISOString() : '';
  });
})();
