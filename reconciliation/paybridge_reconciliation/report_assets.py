"""Inline CSS (screen and print) and the copy-button script of report.html: nothing is
loaded from the internet."""

STYLE = """
*{box-sizing:border-box}
body{font-family:"DejaVu Sans",system-ui,sans-serif;margin:1rem auto;max-width:1320px;
padding:0 1rem;font-size:14px;color:#111}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:1.6rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:12px;width:100%}
table.narrow{width:auto}
td,th{border:1px solid #ccc;padding:.2rem .4rem;text-align:left;vertical-align:top;
overflow-wrap:break-word}
th{background:#f2f2f2}
td.num,th.num{text-align:right;white-space:nowrap}
.id{font-family:"DejaVu Sans Mono",monospace;white-space:nowrap}
button.copy{font-size:11px;padding:0 .25rem;margin-left:.2rem;cursor:pointer;border:1px solid #bbb;
background:#fff;border-radius:3px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(400px,1fr));gap:.8rem}
figure{margin:0}figcaption{font-weight:600}
figure svg{max-width:100%;height:auto}
.muted{color:#555}
.diff{color:#a00;font-weight:600}
@page{size:A4 landscape;margin:10mm}
@media print{
 body{max-width:none;margin:0;padding:0;font-size:9pt}
 table{font-size:7.5pt}
 button.copy{display:none}
 thead{display:table-header-group}
 tr,figure{break-inside:avoid}
 a{color:inherit;text-decoration:none}
 .charts{display:block}
 figure{display:inline-block;width:48%;vertical-align:top}
}
"""

SCRIPT = """
document.addEventListener('click', function (event) {
  var button = event.target.closest('button.copy');
  if (!button) return;
  var text = button.getAttribute('data-copy');
  function fallback() {
    var area = document.createElement('textarea');
    area.value = text; document.body.appendChild(area); area.select();
    try { document.execCommand('copy'); } catch (e) {}
    document.body.removeChild(area);
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).catch(fallback);
  } else { fallback(); }
  button.textContent = 'copied';
  setTimeout(function () { button.textContent = 'copy'; }, 1200);
});
"""
