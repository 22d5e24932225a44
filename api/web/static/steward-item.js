// Keyboard shortcuts of the steward's item page (served as a file: the pages' CSP allows no inline script).
document.addEventListener('keydown', function (e) {
  if (e.ctrlKey || e.metaKey || e.altKey || e.target.closest('input, select, textarea')) return;
  var ids = {'1': 'same', 's': 'same', '2': 'different', 'd': 'different', '3': 'not-sure', 'n': 'not-sure', 'u': 'undo'};
  var target = document.getElementById(ids[e.key.toLowerCase()]);
  if (target) { e.preventDefault(); target.click(); }
});
