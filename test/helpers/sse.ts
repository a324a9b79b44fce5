// A Server-Sent Events reader over fetch (undici) for the event stream tests: messages parsed as they arrive.
export interface SseMessage {
  readonly id?: string;
  readonly event?: string;
  readonly data: string;
  /** A comment-only block (heartbeat, greeting). */
  readonly comment?: string;
}

export interface SseClient {
  readonly status: number;
  readonly messages: SseMessage[];
  /** Settles once `predicate` holds for the messages received so far (rejects after `ms`, or if the stream ends). */
  until(predicate: (messages: SseMessage[]) => boolean, ms?: number): Promise<void>;
  /** Settles when the server ends the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

export function parseSse(block: string): SseMessage {
  let id: string | undefined;
  let event: string | undefined;
  let comment: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) comment = line.slice(1).trim();
    else if (line.startsWith('id: ')) id = line.slice(4);
    else if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  return {
    ...(id !== undefined ? { id } : {}),
    ...(event !== undefined ? { event } : {}),
    ...(comment !== undefined ? { comment } : {}),
    data: data.join('\n'),
  };
}

export async function openSse(url: string, headers: Record<string, string>): Promise<SseClient> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const messages: SseMessage[] = [];
  const waiters = new Set<() => void>();
  let finished = false;
  const ended = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    let text = '';
    try {
      for await (const chunk of response.body) {
        text += decoder.decode(chunk, { stream: true });
        for (let at = text.indexOf('\n\n'); at >= 0; at = text.indexOf('\n\n')) {
          messages.push(parseSse(text.slice(0, at)));
          text = text.slice(at + 2);
        }
        for (const wake of waiters) wake();
      }
    } catch {
      // Aborted by close().
    } finally {
      finished = true;
      for (const wake of waiters) wake();
    }
  })();
  return {
    status: response.status,
    messages,
    ended,
    close: () => controller.abort(),
    until: (predicate, ms = 20_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`not seen in ${ms} ms; got ${messages.length} messages`));
        }, ms);
        const check = () => {
          if (predicate(messages)) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          } else if (finished) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`the stream ended first; got ${messages.length} messages`));
          }
        };
        waiters.add(check);
        check();
      }),
  };
}
