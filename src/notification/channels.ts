// The channels notifications leave by. Each sends one message and resolves, or throws an Error
// whose message is the reason kept in the journal (the worker retries, then parks).
//   - rest-hook: POST of the FHIR JSON, signed (HMAC-SHA256 of `timestamp.body`) so the receiver
//     can check it came from this server and was not replayed long after; the notification id
//     is sent too, for the receiver to drop a repeat (a crash between its answer and our record).
//   - email: nodemailer over the SMTP server of the configuration.
//   - sms: a pluggable sender; the one provided posts to an HTTP gateway.
//   - websocket (alerts in the DUI): server-sent events, held by the AlertHub (alerts.ts).
import { createHmac } from 'node:crypto';
import nodemailer from 'nodemailer';

export interface RestHookMessage {
  url: string;
  body: string;
  contentType: string;
  notificationId: string;
  secret?: string;
  /** `Name: value` lines of the subscription's channel.header. */
  headers: string[];
}

export const SIGNATURE_HEADER = 'x-tddui-signature';
export const TIMESTAMP_HEADER = 'x-tddui-timestamp';
export const NOTIFICATION_ID_HEADER = 'x-tddui-notification-id';

/** `sha256=<hex>` of `timestamp.body` under `secret`: what a receiver recomputes to check a rest-hook call. */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export async function postRestHook(m: RestHookMessage, timeoutMs = 10_000, clock: () => Date = () => new Date()): Promise<string> {
  const timestamp = String(Math.floor(clock().getTime() / 1000));
  const headers: Record<string, string> = { 'content-type': m.contentType, [NOTIFICATION_ID_HEADER]: m.notificationId, [TIMESTAMP_HEADER]: timestamp };
  if (m.secret) headers[SIGNATURE_HEADER] = signature(m.secret, timestamp, m.body);
  for (const line of m.headers) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let res: Response;
  try {
    res = await fetch(m.url, { method: 'POST', headers, body: m.body, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`rest-hook ${m.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status >= 300) throw new Error(`rest-hook ${m.url}: HTTP ${res.status}`);
  return `HTTP ${res.status}`;
}

export interface SmtpOptions {
  host: string;
  port: number;
  /** TLS from the start (465); else STARTTLS when the server offers it. */
  secure?: boolean;
  user?: string;
  pass?: string;
  /** The sender address. */
  from: string;
  /** Accept a self-signed certificate (tests, internal relays). */
  allowSelfSigned?: boolean;
}

export interface EmailSender {
  send(to: string, subject: string, text: string): Promise<string>;
  close?(): void;
}

/** E-mail through an SMTP server (nodemailer). */
export function smtpSender(o: SmtpOptions): EmailSender {
  const transport = nodemailer.createTransport({
    host: o.host,
    port: o.port,
    secure: o.secure ?? false,
    ...(o.user ? { auth: { user: o.user, pass: o.pass ?? '' } } : {}),
    ...(o.allowSelfSigned ? { tls: { rejectUnauthorized: false } } : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
  return {
    async send(to, subject, text) {
      const info = await transport.sendMail({ from: o.from, to, subject, text });
      return `SMTP ${String(info.response ?? 'ok').slice(0, 200)}`;
    },
    close: () => transport.close(),
  };
}

export interface SmsSender {
  send(to: string, text: string): Promise<string>;
}

/** SMS through an HTTP gateway: POST `{ to, text }` (JSON) with an optional bearer token. */
export function httpSmsGateway(o: { url: string; token?: string; timeoutMs?: number }): SmsSender {
  return {
    async send(to, text) {
      let res: Response;
      try {
        res = await fetch(o.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) },
          body: JSON.stringify({ to, text }),
          signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause;
        throw new Error(`SMS gateway: ${cause?.code ?? (err as Error).message}`);
      }
      await res.arrayBuffer().catch(() => undefined);
      if (res.status < 200 || res.status >= 300) throw new Error(`SMS gateway: HTTP ${res.status}`);
      return `SMS gateway HTTP ${res.status}`;
    },
  };
}
