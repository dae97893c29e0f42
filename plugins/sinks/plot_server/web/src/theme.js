// Loaded in <head>, before the first paint, so a dark page never flashes white: the theme is
// the one chosen on this page before (localStorage), else the system's.
(function applyTheme() {
  let t = null;
  try {
    t = localStorage.getItem('tributary.theme');
  } catch {
    /* storage off */
  }
  if (t !== 'dark' && t !== 'light') {
    t = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  }
  document.documentElement.dataset.theme = t;
})();
