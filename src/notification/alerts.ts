// Alerts in the DUI (channel `websocket`): server-sent events to the pages that listen to a
// subscription (GET /fhir/Subscription/{id}/$events, the Notifications page). An alert is marked
// sent once written to at least one open stream; with none open it stays pending in the
// journal and is sent when a page connects (nothing is lost while nobody is looking).

export interface AlertStream {
  /** Writes one SSE message; false when the stream is gone. */
  write(event: string, id: string, data: string): boolean;
}

export class AlertHub {
  private readonly streams = new Map<string, Set<AlertStream>>();
  /** Called when a page connects to a subscription (the service sends what is pending). */
  onConnect: ((subscriptionId: string) => void) | undefined;

  add(subscriptionId: string, stream: AlertStream): () => void {
    let set = this.streams.get(subscriptionId);
    if (!set) this.streams.set(subscriptionId, (set = new Set()));
    set.add(stream);
    this.onConnect?.(subscriptionId);
    return () => {
      set!.delete(stream);
      if (set!.size === 0) this.streams.delete(subscriptionId);
    };
  }

  /** Subscriptions with at least one open stream. */
  connected(): string[] {
    return [...this.streams.keys()];
  }

  /** Sends to every open stream of the subscription; how many received it. */
  push(subscriptionId: string, id: string, data: unknown): number {
    let n = 0;
    for (const s of this.streams.get(subscriptionId) ?? []) if (s.write('notification', id, JSON.stringify(data))) n++;
    return n;
  }
}
