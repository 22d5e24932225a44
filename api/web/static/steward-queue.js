// Keyboard shortcuts of the steward's queue page (served as a file: the pages' CSP allows no inline script).
document.addEventListener('keydown', function (e) {
  if (e.target.closest('input, select, textarea')) return;
  if (e.key === 'Enter') { document.getElementById('start').click(); }
  if (e.key === 'u' || e.key === 'U') { var u = document.getElementById('undo'); if (u) u.click(); }
});
