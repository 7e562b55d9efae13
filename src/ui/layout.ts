// The page shell: French navigation, one stylesheet, optional page script — all served by the
// UI's own routes (no CDN, nothing fetched from the network at run time).
import { html, type SafeHtml } from './html.js';

export type Section = 'envois' | 'qualite' | 'usagers' | 'cahiers' | 'pilotage' | 'valider' | 'journal' | 'notifications';

const NAV: { id: Section; href: string; label: string }[] = [
  { id: 'envois', href: '/envois', label: 'Envois reçus' },
  { id: 'qualite', href: '/qualite', label: 'Qualité des envois' },
  { id: 'usagers', href: '/usagers', label: 'Usagers' },
  { id: 'cahiers', href: '/mes-cahiers', label: 'Cahiers de liaison' },
  { id: 'pilotage', href: '/pilotage', label: 'Pilotage' },
  { id: 'valider', href: '/valider', label: 'Valider un fichier' },
  { id: 'journal', href: '/journal', label: 'Journal des accès' },
  { id: 'notifications', href: '/notifications', label: 'Notifications' },
];

export interface PageOptions {
  title: string;
  section?: Section;
  body: SafeHtml;
  /** Script paths under /ui/ (served by the UI routes). */
  scripts?: string[];
  /** Breadcrumb trail before the title: [label, href][] */
  crumbs?: [string, string][];
}

export function page(o: PageOptions): string {
  return html`<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} — TDDUI</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/style.css">
${(o.scripts ?? []).map((s) => html`<script src="${s}" defer></script>`)}
</head>
<body>
<header class="top">
<a class="brand" href="/">TDDUI <span>Transfert de données DUI</span></a>
<nav aria-label="Navigation principale"><ul>
${NAV.map((n) => html`<li><a href="${n.href}"${o.section === n.id ? html` aria-current="page" class="active"` : ''}>${n.label}</a></li>`)}
</ul></nav>
</header>
<main>
${o.crumbs?.length ? html`<p class="crumbs">${o.crumbs.map(([l, h]) => html`<a href="${h}">${l}</a> › `)}</p>` : ''}
${o.body}
</main>
<footer>Récepteur TDDUI (guide d’implémentation ANS/CNSA 2.2.0) — données conservées sur ce serveur, aucune ressource externe.</footer>
</body>
</html>
`.value;
}

export function notFoundPage(message: string): string {
  return page({ title: 'Introuvable', body: html`<h1>Introuvable</h1><p class="error-box">${message}</p><p><a href="/">Retour à l’accueil</a></p>` });
}

export function errorPage(message: string): string {
  return page({ title: 'Erreur', body: html`<h1>Erreur</h1><p class="error-box">${message}</p>` });
}
