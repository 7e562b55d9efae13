// Static assets of the UI, kept as strings in the module so that `tsc` output is complete
// (no asset copy step) and nothing is fetched from elsewhere.

export const STYLE_CSS = `
:root { --fg:#1e2430; --muted:#5b6475; --line:#d8dde6; --bg:#f5f7fa; --card:#fff; --accent:#1f5fa8;
  --err:#b3261e; --err-bg:#fdecea; --warn:#8a5a00; --warn-bg:#fff4d6; --info:#2d5f8b; --info-bg:#e8f1fa; --ok:#1e6b3a; --ok-bg:#e6f4ea; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; color:var(--fg); background:var(--bg); }
a { color:var(--accent); }
header.top { display:flex; align-items:center; gap:2rem; padding:.6rem 1.5rem; background:#16324f; color:#fff; flex-wrap:wrap; }
header.top .brand { color:#fff; font-weight:700; font-size:1.15rem; text-decoration:none; }
header.top .brand span { font-weight:400; opacity:.8; font-size:.9rem; margin-left:.4rem; }
header.top nav ul { list-style:none; display:flex; gap:.3rem; margin:0; padding:0; flex-wrap:wrap; }
header.top nav a { color:#dfe8f3; text-decoration:none; padding:.35rem .75rem; border-radius:4px; display:block; }
header.top nav a:hover { background:#24486f; }
header.top nav a.active { background:#fff; color:#16324f; font-weight:600; }
main { max-width:1200px; margin:0 auto; padding:1.2rem 1.5rem 3rem; }
footer { text-align:center; color:var(--muted); font-size:.8rem; padding:1rem; border-top:1px solid var(--line); }
h1 { font-size:1.5rem; margin:.3rem 0 1rem; }
h2 { font-size:1.2rem; margin:1.6rem 0 .6rem; }
h3 { font-size:1.05rem; margin:.2rem 0 .5rem; }
h4 { font-size:.95rem; margin:.6rem 0 .3rem; color:var(--muted); }
.crumbs { margin:0; font-size:.85rem; color:var(--muted); }
.muted { color:var(--muted); font-size:.85rem; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size:.85em; background:#eef1f5; padding:0 .25em; border-radius:3px; word-break:break-all; }
.card { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:1rem 1.2rem; margin-bottom:1rem; }
.grid2 { display:grid; grid-template-columns: repeat(auto-fit, minmax(min(340px, 100%), 1fr)); gap:1rem; }
.grid2 > * { min-width:0; }
.table-wrap { max-width:100%; overflow-x:auto; margin-bottom:.5rem; }
.table-wrap > table.list { margin:0; }
td, th, p, li, dd { overflow-wrap:break-word; }
th[aria-sort] a.sort { color:inherit; text-decoration:none; white-space:nowrap; }
th[aria-sort] a.sort:hover, th[aria-sort] a.sort:focus { text-decoration:underline; }
th[aria-sort=ascending], th[aria-sort=descending] { background:#e1e9f4; }
.birth-name { font-weight:400; color:var(--muted); font-size:.85em; }
h1 .birth-name { font-size:1rem; }
table.answers td.code { font-family: ui-monospace, monospace; font-size:.85rem; white-space:nowrap; color:var(--muted); }
table.answers td.level-1 { padding-left:1.4rem; } table.answers td.level-2 { padding-left:2.2rem; } table.answers td.level-3, table.answers td.level-4 { padding-left:3rem; }
table.answers td.answer { font-weight:600; font-variant-numeric: tabular-nums; }
.doc-links { display:block; font-size:.85rem; margin-top:.15rem; }
.status { font-size:.8rem; padding:0 .35rem; border-radius:3px; white-space:nowrap; }
.status-done { background:var(--ok-bg); color:var(--ok); }
.status-planned { background:var(--info-bg); color:var(--info); }
.status-cancelled { background:#eef1f5; color:var(--muted); text-decoration:line-through; }
tr.row-cancelled td { color:var(--muted); }
tr.row-cancelled td:nth-child(4) { text-decoration:line-through; }
.day-list { display:none; list-style:none; margin:.5rem 0; padding:0; }
.day-list > li { border-top:1px solid var(--line); padding:.4rem 0; }
.day-list h3 { font-size:.95rem; margin:.1rem 0 .3rem; text-transform:capitalize; }
.day-list ul { list-style:none; margin:0; padding:0; }
.day-item { border-left:4px solid #3b7dd8; padding:.25rem .5rem; margin:.25rem 0; background:#f7f9fc; border-radius:3px; }
.day-item.cal-tr { border-left-color:#e08a1e; }
.day-item.cal-cancelled .what { text-decoration:line-through; color:var(--muted); }
.day-item.cal-planned { background:#fff; border:1px dashed #3b7dd8; border-left-width:4px; }
.day-item .time { font-variant-numeric: tabular-nums; font-weight:600; }
.day-item .detail { display:block; }
.no-data { font-style:italic; }
table.list { width:100%; border-collapse:collapse; background:var(--card); border:1px solid var(--line); }
table.list th, table.list td { text-align:left; padding:.45rem .6rem; border-bottom:1px solid var(--line); vertical-align:top; }
table.list th { background:#eef2f7; font-weight:600; font-size:.85rem; }
table.list td.num, table.list th.num { text-align:right; font-variant-numeric: tabular-nums; }
table.list tr:hover td { background:#f9fbfd; }
table.list tr.selected td { background:#eef4fb; font-weight:600; }
table.kv { border-collapse:collapse; }
table.kv th { text-align:left; font-weight:600; padding:.2rem 1rem .2rem 0; color:var(--muted); vertical-align:top; white-space:nowrap; }
table.kv td { padding:.2rem 0; overflow-wrap:anywhere; }
form.filters { display:flex; gap:.8rem; align-items:flex-end; flex-wrap:wrap; background:var(--card); border:1px solid var(--line); border-radius:6px; padding:.8rem 1rem; margin-bottom:1rem; }
form.filters label { display:flex; flex-direction:column; font-size:.8rem; color:var(--muted); gap:.2rem; }
input, select, button, textarea { font:inherit; }
input[type=text], input[type=search], input[type=date], select { padding:.35rem .5rem; border:1px solid #b9c2cf; border-radius:4px; background:#fff; min-width:10rem; }
button, .button { background:var(--accent); color:#fff; border:0; padding:.45rem 1rem; border-radius:4px; cursor:pointer; text-decoration:none; display:inline-block; }
button.secondary, .button.secondary { background:#e3e8ef; color:var(--fg); }
.pager { display:flex; gap:1rem; align-items:center; margin:.8rem 0; }
.pager .disabled { color:#aab2be; }
.badge { display:inline-block; padding:.05rem .5rem; border-radius:999px; font-size:.8rem; font-weight:600; }
.badge.ok { background:var(--ok-bg); color:var(--ok); }
.badge.ko { background:var(--err-bg); color:var(--err); }
.badge.neutral { background:#eef1f5; color:var(--muted); }
ul.ppa-diff { list-style:none; padding-left:0; }
ul.ppa-diff li { margin:.3rem 0; }
.badge.change-ajout { background:var(--ok-bg); color:var(--ok); }
.badge.change-retrait, .badge.change-cloture { background:#fff4e0; color:#8a5300; }
.badge.change-reformulation, .badge.change-statut, .badge.change-modification { background:#e8f0fb; color:#1f4e8c; }
.n-err { color:var(--err); font-weight:600; }
.n-warn { color:var(--warn); font-weight:600; }
.sev { display:inline-block; min-width:7.5rem; text-align:center; padding:.05rem .4rem; border-radius:3px; font-size:.75rem; font-weight:700; text-transform:uppercase; letter-spacing:.02em; }
.sev-fatal, .sev-error { background:var(--err-bg); color:var(--err); }
.sev-warning { background:var(--warn-bg); color:var(--warn); }
.sev-information { background:var(--info-bg); color:var(--info); }
.summary { font-weight:600; }
.group { background:var(--card); border:1px solid var(--line); border-left:5px solid #9aa7b8; border-radius:6px; padding:.8rem 1rem; margin:0 0 1rem; }
.group.has-errors { border-left-color:var(--err); }
.group.has-warnings { border-left-color:#d6a100; }
.group > summary { cursor:pointer; list-style-position:outside; }
.group > summary h3 { display:inline; }
.group[open] > summary { margin-bottom:.4rem; }
.error-list { color:var(--err); }
.group h3 .counts { font-weight:400; font-size:.8rem; color:var(--muted); margin-left:.5rem; }
ul.issues { list-style:none; margin:0; padding:0; }
li.issue { border-top:1px solid var(--line); padding:.5rem 0; }
li.issue:first-child { border-top:0; }
.issue-head { display:flex; gap:.6rem; align-items:baseline; flex-wrap:wrap; }
.rule { font-size:.75rem; color:var(--muted); border:1px solid var(--line); border-radius:3px; padding:0 .3rem; }
.msg { margin:.25rem 0; }
details.excerpt summary, details.infos summary { cursor:pointer; color:var(--muted); font-size:.85rem; }
pre.json { background:#1f2430; color:#e6e9ef; padding:.6rem .8rem; border-radius:4px; overflow:auto; max-height:28rem; font-size:.8rem; line-height:1.35; margin:.3rem 0; }
pre.json .j-line { display:inline; }
pre.json .j-mark { background:#7a2b25; color:#fff; }
pre.json .j-key { color:#9cdcfe; }
pre.json .j-mark .j-key, pre.json .j-mark .j-str { color:#fff; }
pre.json .j-str { color:#ce9178; }
pre.json .j-num, pre.json .j-bool { color:#b5cea8; }
pre.json .j-more { color:#8b93a1; }
pre.raw-body { white-space:pre-wrap; overflow-wrap:anywhere; max-height:24rem; overflow:auto; background:#f4f6f9; padding:.6rem; border-radius:4px; font-size:.85rem; }
.ok-box { background:var(--ok-bg); color:var(--ok); padding:.7rem 1rem; border-radius:6px; font-weight:600; }
.error-box { background:var(--err-bg); color:var(--err); padding:.7rem 1rem; border-radius:6px; font-weight:600; }
.warn-box { background:var(--warn-bg); color:var(--warn); padding:.7rem 1rem; border-radius:6px; }
.dropzone { border:2px dashed #8ea3bd; border-radius:8px; padding:2rem; text-align:center; background:#fff; color:var(--muted); }
.dropzone.over { background:var(--info-bg); border-color:var(--accent); color:var(--accent); }
.dropzone input[type=file] { margin-top:.8rem; }
textarea { width:100%; min-height:8rem; font-family: ui-monospace, monospace; font-size:.8rem; border:1px solid #b9c2cf; border-radius:4px; padding:.5rem; }
.stats { display:flex; gap:1rem; flex-wrap:wrap; margin-bottom:1rem; }
.stat { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:.7rem 1.1rem; min-width:10rem; }
.stat .v { font-size:1.6rem; font-weight:700; color:#16324f; }
.stat .l { font-size:.8rem; color:var(--muted); }
svg.chart { width:100%; height:auto; background:#fff; }
.chart-box { max-width:100%; overflow-x:auto; }
svg text { font-family: system-ui, sans-serif; }
.legend { display:flex; gap:1rem; font-size:.8rem; color:var(--muted); flex-wrap:wrap; }
.legend i { display:inline-block; width:.8rem; height:.8rem; border-radius:2px; margin-right:.3rem; vertical-align:-.1rem; }
.legend .c-evt { background:#3b7dd8; } .legend .c-tr { background:#e08a1e; } .legend .c-sej { background:#2f9e6b; } .legend .c-sej-open { background:#8fd1b0; }
.legend .c-done { background:#5b6475; } .legend .c-planned { background:#fff; border:1.5px solid #5b6475; }
.legend .c-cancelled { background: repeating-linear-gradient(45deg, #f1f3f6 0 2px, #c3cad4 2px 4px); border:1px dashed #5b6475; }
ul.tree, ul.tree ul { list-style:none; margin:0; padding-left:1.3rem; }
ul.tree { padding-left:0; }
ul.tree li { position:relative; padding:.15rem 0 .15rem .9rem; }
ul.tree ul li::before { content:""; position:absolute; left:-.6rem; top:0; bottom:0; border-left:1px solid #b9c2cf; }
ul.tree ul li::after { content:""; position:absolute; left:-.6rem; top:.95rem; width:1.1rem; border-top:1px solid #b9c2cf; }
ul.tree ul li:last-child::before { bottom:auto; height:.95rem; }
.node { display:inline-block; background:#fff; border:1px solid var(--line); border-radius:5px; padding:.25rem .6rem; }
.node .kind { font-size:.7rem; font-weight:700; text-transform:uppercase; letter-spacing:.03em; margin-right:.4rem; padding:.05rem .35rem; border-radius:3px; }
.kind-pp { background:#16324f; color:#fff; } .kind-attente { background:#f3e1f7; color:#6d2a80; } .kind-besoin { background:#fde7d3; color:#8a4300; }
.kind-objectif { background:#dcefe3; color:#1e6b3a; } .kind-action { background:#e1ecfa; color:#1f4f8a; } .kind-moyen { background:#eef1f5; color:#3d4757; }
.kind-prestation { background:#e6e1fa; color:#40308a; } .kind-bilan { background:#fff4d6; color:#8a5a00; } .kind-accord { background:#e8f6f6; color:#1d6262; } .kind-doc { background:#f1f1f1; color:#555; }
.node .detail { color:var(--muted); font-size:.85rem; display:block; }
.gir { display:inline-block; font-size:1.4rem; font-weight:800; color:#fff; background:#16324f; border-radius:6px; padding:.1rem .7rem; }
table.aggir td.code { font-weight:700; text-align:center; }
.yes { color:var(--ok); font-weight:600; } .no { color:var(--muted); }
.tabs { display:flex; gap:.5rem; margin:.5rem 0; flex-wrap:wrap; }
.tabs a { padding:.25rem .7rem; border:1px solid var(--line); border-radius:4px; text-decoration:none; background:#fff; }
.tabs a.active { background:var(--accent); color:#fff; border-color:var(--accent); }
.chart-rect-evt { fill:#3b7dd8; } .chart-rect-tr { fill:#e08a1e; }

/* Phones and narrow windows (390 px and up): nothing wider than the screen. Lists become one
   card per row (each cell with its column name), other tables scroll inside their box, the
   week calendar becomes a list of days. */
@media (max-width: 720px) {
  body { font-size:14px; }
  header.top { gap:.3rem 1rem; padding:.5rem .8rem; }
  header.top .brand span { display:none; }
  header.top nav a { padding:.3rem .5rem; }
  main { padding:.8rem .7rem 2rem; }
  h1 { font-size:1.25rem; }
  .card { padding:.7rem .8rem; }
  form.filters { padding:.6rem .7rem; gap:.5rem; }
  form.filters label { flex:1 1 100%; }
  input[type=text], input[type=search], input[type=date], select { min-width:0; width:100%; }
  .stats { gap:.5rem; }
  .stat { flex:1 1 40%; min-width:0; padding:.5rem .7rem; }
  .stat .v { font-size:1.3rem; }
  table.kv th { white-space:normal; padding-right:.6rem; }
  /* Any other table scrolls inside its own box rather than widening the page. */
  table.list:not(.cards) { display:block; overflow-x:auto; }
  table.list.cards, table.list.cards tbody, table.list.cards tr, table.list.cards td { display:block; width:100%; }
  table.list.cards { border:0; background:none; }
  table.list.cards thead { display:none; }
  table.list.cards tr { background:var(--card); border:1px solid var(--line); border-radius:6px; margin-bottom:.5rem; padding:.3rem .6rem; }
  table.list.cards td { border:0; padding:.15rem 0; text-align:left; }
  table.list.cards td.num { text-align:left; }
  table.list.cards td[data-label]:not([data-label=""])::before { content: attr(data-label) " : "; color:var(--muted); font-size:.8rem; }
  .pager { flex-wrap:wrap; gap:.5rem; }
  .group { padding:.6rem .7rem; }
  ul.tree ul { padding-left:.7rem; }
  ul.tree li { padding-left:.5rem; }
  .node { display:block; }
  svg.cal-week, .week-table { display:none; }
  /* Charts keep a readable size and scroll sideways inside their box. */
  .chart-box svg.chart { min-width:500px; }
  .day-list { display:block; }
  .tabs.week-nav strong { flex:1 1 100%; order:-1; }
  .sev { min-width:0; }
}
/* Coordination: circle and liaison notebook */
.proposals{list-style:none;padding:0}.proposal{margin:.4em 0}.proposal form,form.inline{display:inline}
.member-left td{color:#666}
.note{border-left:4px solid #c8d3df;padding:.4em .8em;margin:.6em 0;background:#fafbfc}
.note-urgent{border-left-color:#c0392b;background:#fdf0ee}
.badge-urgent{background:#c0392b;color:#fff;border-radius:3px;padding:0 .4em;font-size:.85em}
.note-withdrawn .note-text{text-decoration:line-through;color:#777}
.note-text{white-space:pre-wrap;overflow-wrap:anywhere}
.replies{margin-left:1.2em}
.note-form label,.note-actions label{display:block;margin:.3em 0}.note-form textarea,.note-actions textarea{width:100%;max-width:40em;min-height:4em}
.notice{background:#eef6ee;border:1px solid #9c9;padding:.4em .8em}
/* Notifications */
.badge.pending { background:#eef1f5; color:var(--muted); }
.badge.warn { background:#fff4e0; color:#8a5a00; }
.badge.error { background:var(--err-bg); color:var(--err); }
#alertes { list-style:none; padding:0; }
#alertes li.alerte { border-left:4px solid #2a6fdb; background:#f3f7ff; padding:.4em .8em; margin:.3em 0; transition:background 1s; }
#alertes li.alerte.nouvelle { background:#ffe9a8; }
/* Shared agendas: the week (seven day columns), appointments by status, free slots, the common-slot form */
.semaine{display:grid;grid-template-columns:repeat(7,minmax(9rem,1fr));gap:.4rem;overflow-x:auto}
.jour{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.4rem .5rem;min-height:6rem}
.jour h3{font-size:.9rem;margin:.1rem 0 .4rem;text-transform:capitalize}
.agenda-items{list-style:none;padding:0;margin:0;font-size:.85rem}
.agenda-items>li{border-left:4px solid #888;padding:.2rem .4rem;margin:.25rem 0;background:#f7f7f7}
.rdv-booked,.rdv-arrived,.rdv-fulfilled{border-left-color:#2a6ebb!important}
.rdv-pending,.rdv-proposed{border-left-color:#d08a00!important;background:#fff8e6!important}
.rdv-cancelled{border-left-color:#999!important;text-decoration:line-through;color:#666}
.libre{border-left-color:#3a9d3a!important;background:#eef8ee!important;color:#235c23}
.agenda-items .when{font-variant-numeric:tabular-nums;font-weight:600}
.agenda-items .participants{list-style:none;padding:0;margin:.15rem 0;font-size:.8rem}
.agenda-items .badge{display:inline-block;font-size:.72rem;border:1px solid #bbb;border-radius:3px;padding:0 .3em;background:#fff}
.badge-dui{border-color:#7a5bbf;color:#4b2f8f}
.week-nav{margin:.4rem 0 .8rem}
.find-form fieldset{border:1px solid var(--line);margin:.3rem 0 .6rem}
.find-form label{margin-right:1rem}
a.button{display:inline-block;border:1px solid #2a6ebb;border-radius:4px;padding:.3em .8em;text-decoration:none}
`;

/**
 * "Valider un fichier": reads a dropped or chosen file in the browser and posts its text
 * with the page's form (so the same page works without JavaScript by pasting the content).
 */
export const VALIDATE_JS = `
(function () {
  var zone = document.getElementById('dropzone');
  var form = document.getElementById('validate-form');
  if (!zone || !form) return;
  var input = document.getElementById('fichier');
  var content = form.querySelector('textarea[name=contenu]');
  var name = form.querySelector('input[name=nom]');
  var status = document.getElementById('drop-status');
  function send(file) {
    if (!file) return;
    if (file.size > 20 * 1024 * 1024) { status.textContent = 'Fichier trop volumineux (20 Mo au plus).'; return; }
    status.textContent = 'Lecture de « ' + file.name + ' »…';
    file.text().then(function (text) {
      content.value = text;
      name.value = file.name;
      status.textContent = 'Validation de « ' + file.name + ' »…';
      form.submit();
    }, function () { status.textContent = 'Impossible de lire le fichier.'; });
  }
  ['dragenter', 'dragover'].forEach(function (t) {
    zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add('over'); });
  });
  ['dragleave', 'drop'].forEach(function (t) {
    zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.remove('over'); });
  });
  zone.addEventListener('drop', function (e) {
    var f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    send(f);
  });
  if (input) input.addEventListener('change', function () { send(input.files && input.files[0]); });
})();
`;

/**
 * The Coordination page: a file chosen for a note travels in hidden form fields (base64, type,
 * name), read in the browser; the form stays a plain urlencoded post (no multipart parser).
 */
export const COORDINATION_JS = `
(function () {
  document.querySelectorAll('input[type=file][data-attach]').forEach(function (input) {
    var form = input.form;
    var status = form.querySelector('.attach-status');
    input.addEventListener('change', function () {
      var f = input.files && input.files[0];
      form.querySelector('input[name=fichier_data]').value = '';
      if (!f) { status.textContent = ''; return; }
      if (f.size > 5 * 1024 * 1024) { status.textContent = 'Fichier trop volumineux (5 Mo au plus).'; input.value = ''; return; }
      status.textContent = 'Lecture de « ' + f.name + ' »…';
      var reader = new FileReader();
      reader.onload = function () {
        var url = String(reader.result);
        form.querySelector('input[name=fichier_data]').value = url.slice(url.indexOf(',') + 1);
        form.querySelector('input[name=fichier_type]').value = f.type || 'application/octet-stream';
        form.querySelector('input[name=fichier_nom]').value = f.name;
        status.textContent = '« ' + f.name + ' » sera joint à la note.';
      };
      reader.onerror = function () { status.textContent = 'Impossible de lire le fichier.'; };
      reader.readAsDataURL(f);
    });
  });
})();
`;
