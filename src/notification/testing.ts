// Test peers of the notification tests: a webhook receiver (a real HTTP server that can be
// stopped and started again on its port, or made to fail), and Subscription builders.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_FHIR } from '../testing/paths.js';
import { NDE_EXT, FREQUENCY_EXT, SECRET_EXT } from './settings.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export const NDE_DIR = join(SHARED_FHIR, 'ans.fhir.fr.nde#3.0.0-ballot', 'package', 'example');

export function ndeExample(name: string): Json {
  return JSON.parse(readFileSync(join(NDE_DIR, name), 'utf8'));
}

export interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: Json;
  at: number;
}

/** A webhook receiver: records every call; `status` is what it answers. */
export class Webhook {
  received: Received[] = [];
  status = 200;
  private server: Server | undefined;
  port = 0;

  async start(port = this.port): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: Json;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        if (this.status < 300) this.received.push({ headers: req.headers, body, json, at: Date.now() });
        res.writeHead(this.status, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

/** Waits until `check` is true (polling), or fails after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 15_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A Subscription built from the NdE example `sub1`: in force (no end), for `criteria`, through
 * `channel` — with the project's frequency extension and rest-hook secret when given.
 */
export function subscription(o: {
  criteria?: string;
  channel: { type: string; endpoint?: string };
  subject?: Json;
  subscriber?: Json;
  frequency?: { frequency: string; hour?: number; dayOfWeek?: string };
  secret?: string;
}): Json {
  const s = ndeExample('Subscription-sub1.json');
  delete s.id;
  delete s.text;
  delete s.end;
  s.status = 'active';
  s.criteria = o.criteria ?? 'CommunicationRequest?event-type=SOR';
  s.channel = { ...o.channel, ...(o.secret ? { extension: [{ url: SECRET_EXT, valueString: o.secret }] } : {}) };
  if (o.subject) s.extension.find((e: Json) => e.url === NDE_EXT('subject')).valueReference = o.subject;
  if (o.subscriber) s.extension.find((e: Json) => e.url === NDE_EXT('subscriber')).valueReference = o.subscriber;
  if (o.frequency) {
    s.extension.push({
      url: FREQUENCY_EXT,
      extension: [
        { url: 'frequency', valueCode: o.frequency.frequency },
        ...(o.frequency.hour !== undefined ? [{ url: 'hour', valueInteger: o.frequency.hour }] : []),
        ...(o.frequency.dayOfWeek ? [{ url: 'dayOfWeek', valueCode: o.frequency.dayOfWeek }] : []),
      ],
    });
  }
  return s;
}
