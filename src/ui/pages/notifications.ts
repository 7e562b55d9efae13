// "Notifications": my subscriptions (nature of the events, frequency, channel, validity) and
// what was sent (the delivery journal: status, attempts, the reason of a failure), with the
// alerts of the `websocket` subscriptions appearing live (server-sent events, /ui/notifications.js).
// With authentication on, "my" subscriptions are those whose subscriber is the token's person
// (fhirUser); without it, every subscription of the server.
import { html, type SafeHtml } from '../html.js';
import { page } from '../layout.js';
import { frInstant } from '../fhir-util.js';
import { typeLabel } from '../../notification/render.js';
import type { JournalEntry, NotificationService } from '../../notification/service.js';
import type { SubscriptionSettings } from '../../notification/settings.js';
import { plural } from '../../fhir/outcome/plural.js';

/** The page needs `connect-src 'self'` for its event stream, beside the UI's policy. */
export const NOTIFICATIONS_CSP = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const CHANNEL: Record<string, string> = { 'rest-hook': 'Service web (rest-hook)', email: 'Courriel', sms: 'SMS', websocket: 'Alerte dans le DUI' };
const STATUS: Record<string, [string, string]> = {
  sent: ['Envoyée', 'ok'],
  pending: ['À envoyer', 'pending'],
  failed: ['En échec, nouvel essai prévu', 'warn'],
  parked: ['Mise de côté après échecs', 'error'],
  held: ['En attente du résumé', 'pending'],
  digested: ['Incluse dans un résumé', 'ok'],
};
const DAYS: Record<string, string> = { mon: 'lundi', tue: 'mardi', wed: 'mercredi', thu: 'jeudi', fri: 'vendredi', sat: 'samedi', sun: 'dimanche' };

function frequencyText(s: SubscriptionSettings): string {
  if (s.frequency === 'immediate') return 'Immédiate';
  if (s.frequency === 'daily') return `Résumé quotidien à ${s.hour} h`;
  return `Résumé hebdomadaire le ${DAYS[s.weekday]} à ${s.hour} h`;
}

function natureText(s: SubscriptionSettings): string {
  if (s.eventTypes.length === 0) return 'Tous les événements';
  return s.eventTypes.map((t) => typeLabel(t.system, t.code)).join(', ');
}

function validityText(s: SubscriptionSettings, now: Date): string {
  const status = (s.resource as { status?: string }).status;
  if (!s.live) return status === 'off' ? 'Désactivé' : 'En erreur';
  if (s.end && Date.parse(s.end) <= now.getTime()) return `Terminé le ${frInstant(s.end)}`;
  if (s.start && Date.parse(s.start) > now.getTime()) return `À partir du ${frInstant(s.start)}`;
  return s.end ? `Actif jusqu’au ${frInstant(s.end)}` : 'Actif';
}

function entryText(e: JournalEntry): string {
  const p = e.payload as { digest?: boolean; items?: unknown[]; payload?: { contentString?: string }[] };
  if (p.digest) return `Résumé ${e.frequency === 'weekly' ? 'hebdomadaire' : 'quotidien'} : ${plural((p.items ?? []).length, 'évènement', 'évènements')}`;
  return p.payload?.[0]?.contentString ?? '';
}

export async function notificationsPage(service: NotificationService | undefined, fhirUser: string | undefined, now = new Date()): Promise<string> {
  if (!service) {
    return page({
      title: 'Notifications',
      section: 'notifications',
      body: html`<h1>Notifications</h1><p class="notice">Les notifications ne sont pas activées sur ce serveur : démarrez-le avec le volet Notification d’événements (<code>--ig ans.fhir.fr.nde</code>).</p>`,
    });
  }
  let subs = await service.dispatcher.subscriptions();
  if (fhirUser) {
    const mine: SubscriptionSettings[] = [];
    for (const s of subs) if ((await service.dispatcher.subscriberOf(s)) === fhirUser) mine.push(s);
    subs = mine;
  }
  const ids = subs.map((s) => s.id);
  const journal = ids.length ? await service.journal({ subscriptions: ids, count: 50, offset: 0 }) : { total: 0, items: [] };
  const alerts = subs.filter((s) => s.channel === 'websocket' && s.live).map((s) => s.id);
  const rows: SafeHtml[] = subs.map(
    (s) => html`<tr data-subscription="${s.id}">
<td>${s.subject?.name ?? s.subject?.ref ?? '—'}</td>
<td>${natureText(s)}</td>
<td>${frequencyText(s)}</td>
<td>${CHANNEL[s.channel] ?? s.channel}${s.endpoint ? html`<br><span class="muted">${s.endpoint.replace(/^(mailto|tel):/, '')}</span>` : ''}</td>
<td>${validityText(s, now)}</td>
</tr>`,
  );
  const sent: SafeHtml[] = journal.items.map((e) => {
    const [label, cls] = STATUS[e.status] ?? [e.status, ''];
    return html`<tr class="notif-${e.status}">
<td>${frInstant(e.sentAt ?? e.created)}</td>
<td>${entryText(e)}</td>
<td>${CHANNEL[e.channel] ?? e.channel}</td>
<td><span class="badge ${cls}">${label}</span></td>
<td>${e.attempts}</td>
<td>${e.lastError ?? ''}</td>
</tr>`;
  });
  return page({
    title: 'Notifications',
    section: 'notifications',
    scripts: alerts.length ? ['/ui/notifications.js'] : [],
    body: html`<h1>Notifications</h1>
${alerts.length
  ? html`<section class="alerts"><h2>Alertes en direct</h2><ul id="alertes" data-subscriptions="${alerts.join(',')}" aria-live="polite"></ul><p class="muted" id="alertes-etat">Connexion au flux des alertes…</p></section>`
  : ''}
<h2>Mes abonnements</h2>
${rows.length
  ? html`<table class="data" id="abonnements"><thead><tr><th>Usager</th><th>Nature</th><th>Fréquence</th><th>Canal</th><th>Validité</th></tr></thead><tbody>${rows}</tbody></table>`
  : html`<p class="notice">Aucun abonnement.</p>`}
<h2>Ce qui a été envoyé</h2>
${sent.length
  ? html`<p class="muted">${plural(journal.total, 'notification', 'notifications')}, les 50 plus récentes :</p><table class="data" id="envoyees"><thead><tr><th>Date</th><th>Événement</th><th>Canal</th><th>État</th><th>Tentatives</th><th>Raison de l’échec</th></tr></thead><tbody>${sent}</tbody></table>`
  : html`<p class="notice">Rien n’a encore été envoyé.</p>`}`,
  });
}

/**
 * The page's script: one EventSource per `websocket` subscription; each notification appears at
 * the top of the list with its French text, highlighted a moment.
 */
export const NOTIFICATIONS_JS = `'use strict';
(function () {
  var list = document.getElementById('alertes');
  var state = document.getElementById('alertes-etat');
  if (!list) return;
  var ids = (list.getAttribute('data-subscriptions') || '').split(',').filter(Boolean);
  var open = 0;
  function text(data) {
    if (data.digest) {
      var n = (data.items || []).length;
      return 'Résumé : ' + n + (n < 2 ? ' évènement' : ' évènements');
    }
    var p = data.request && data.request.payload && data.request.payload[0];
    return (p && p.contentString) || 'Nouvelle notification';
  }
  ids.forEach(function (id) {
    var es = new EventSource('/fhir/Subscription/' + encodeURIComponent(id) + '/$events');
    es.onopen = function () { open++; state.textContent = 'Alertes en direct : connecté.'; };
    es.onerror = function () { state.textContent = 'Flux des alertes interrompu, reconnexion…'; };
    es.addEventListener('notification', function (ev) {
      var data = JSON.parse(ev.data);
      var li = document.createElement('li');
      li.className = 'alerte nouvelle';
      li.setAttribute('data-id', data.id);
      li.textContent = text(data);
      list.insertBefore(li, list.firstChild);
      setTimeout(function () { li.classList.remove('nouvelle'); }, 4000);
    });
  });
})();
`;
