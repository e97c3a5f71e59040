import { z } from "zod";
import type { AlertKind } from "../core/analysis/alerts.js";
import { InputError } from "../core/errors.js";
import type { AppliedAlert } from "./alert-issues.js";

/**
 * Alerts to a chat webhook: one JSON POST per alert that opened, is still firing (the issue got a
 * comment) or resolved. The payload carries `text`, which Slack, Mattermost, Rocket.Chat and
 * Discord's `/slack` endpoints show as the message, plus the structured fields for anything that
 * wants more (docs/analysis.md documents them; `schema` names the version).
 *
 * The URL is a credential (whoever has it can post to the channel): it comes from a secret, the
 * Action masks it, and no message here contains it or its host. Delivery is bounded: a timeout
 * per attempt, a few retries on network errors, 429 and 5xx, none on other answers, redirects
 * refused (a redirect would send the payload somewhere the secret did not name). A failed
 * delivery is reported, never thrown: chat being down must not fail the analysis.
 */

export const ALERT_WEBHOOK_SCHEMA = "switchyard.alert/v1";

export type AlertWebhookEvent = "opened" | "still_firing" | "resolved";

export interface AlertWebhookPayload {
  schema: typeof ALERT_WEBHOOK_SCHEMA;
  /** One line for a chat message. */
  text: string;
  event: AlertWebhookEvent;
  kind: AlertKind;
  repository: string;
  title: string;
  headline: string;
  /** For still_firing: why people are told again. */
  reason: "changed" | "reminder" | "unreadable" | null;
  issue: { number: number; url: string | null } | null;
  values: Record<string, number | string | null | string[]>;
  window: { from: string; to: string };
  run_url: string | null;
  dashboard_url: string | null;
  /** The analysis's time (the window's end). */
  at: string;
}

export interface PayloadContext {
  repository: string;
  window: { from: string; to: string };
  now: string;
  runUrl?: string | null;
  dashboardUrl?: string | null;
}

const EVENT_WORDS: Record<AlertWebhookEvent, string> = {
  opened: "alert opened",
  still_firing: "alert still firing",
  resolved: "alert resolved",
};

/** The payloads for what was done; nothing for alerts left alone or duplicates closed. */
export function alertWebhookPayloads(
  applied: readonly AppliedAlert[],
  c: PayloadContext,
): AlertWebhookPayload[] {
  const out: AlertWebhookPayload[] = [];
  for (const a of applied) {
    const act = a.action;
    if (act.type === "none" || act.type === "close_duplicate") continue;
    if (a.type === "none" || a.type === "closed_duplicate") continue;
    const event: AlertWebhookEvent =
      a.type === "opened" ? "opened" : a.type === "commented" ? "still_firing" : "resolved";
    const headline = act.evaluation.headline;
    const link = a.url ?? (a.number !== null ? `#${a.number}` : null);
    out.push({
      schema: ALERT_WEBHOOK_SCHEMA,
      text: `[${c.repository}] Switchyard ${EVENT_WORDS[event]}: ${headline}${link ? ` (${link})` : ""}`,
      event,
      kind: a.kind,
      repository: c.repository,
      title: act.type === "open" ? act.title : titleOf(a.kind),
      headline,
      reason: act.type === "comment" ? act.reason : null,
      issue: a.number === null ? null : { number: a.number, url: a.url },
      values: act.evaluation.values,
      window: c.window,
      run_url: c.runUrl ?? null,
      dashboard_url: c.dashboardUrl ?? null,
      at: c.now,
    });
  }
  return out;
}

function titleOf(kind: AlertKind): string {
  return `Switchyard alert: ${kind.replace(/_/g, " ")}`;
}

export interface WebhookOptions {
  /** Per attempt. Default 10 s. */
  timeoutMs?: number;
  /** Attempts after the first, on network errors, timeouts, 429 and 5xx. Default 2. */
  retries?: number;
  /** The first retry's wait; each next one doubles. Default 1 s. */
  backoffMs?: number;
  /** The longest Retry-After honoured; a longer one ends the delivery. Default 30 s. */
  maxRetryAfterMs?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

const OptionsSchema = z.strictObject({
  timeoutMs: z.number().int().min(1).max(120_000).default(10_000),
  retries: z.number().int().min(0).max(5).default(2),
  backoffMs: z.number().int().min(0).max(60_000).default(1000),
  maxRetryAfterMs: z.number().int().min(0).max(300_000).default(30_000),
  fetch: z.custom<typeof fetch>((v) => typeof v === "function").optional(),
  sleep: z.custom<(ms: number) => Promise<void>>((v) => typeof v === "function").optional(),
});

export interface WebhookDelivery {
  delivered: boolean;
  attempts: number;
  /** The last HTTP status, null when none came back. */
  status: number | null;
  /** Why it was not delivered, with the URL redacted; null when delivered. */
  error: string | null;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * The URL, checked: https, or http to the local machine (a relay or a test server). The error
 * says what is wrong without repeating the value.
 */
export function checkWebhookUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new InputError("the alert webhook URL is not a URL; check the secret that holds it");
  }
  if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && LOOPBACK.has(parsed.hostname))) {
    throw new InputError(
      "the alert webhook URL must use https (plain http only to localhost); check the secret that holds it",
    );
  }
  if (parsed.username || parsed.password) {
    throw new InputError("the alert webhook URL must not hold a user name or password");
  }
  return parsed;
}

/** `text` with every piece of the URL that could identify or authorise it replaced. */
export function redactWebhookUrl(text: string, url: string): string {
  const pieces = new Set<string>([url, url.trim()]);
  try {
    const u = new URL(url.trim());
    pieces.add(u.href);
    pieces.add(u.origin + u.pathname);
    pieces.add(u.host);
    if (u.pathname.length > 1) pieces.add(u.pathname);
    if (u.search.length > 1) pieces.add(u.search.slice(1));
    for (const value of u.searchParams.values()) if (value.length >= 8) pieces.add(value);
    for (const segment of u.pathname.split("/")) if (segment.length >= 8) pieces.add(segment);
  } catch {
    // Not a URL: the whole string is all there is to hide.
  }
  let out = text;
  for (const piece of [...pieces].filter((p) => p.length > 0).sort((a, b) => b.length - a.length)) {
    out = out.split(piece).join("[webhook URL]");
    const encoded = encodeURIComponent(piece);
    if (encoded !== piece) out = out.split(encoded).join("[webhook URL]");
  }
  return out;
}

/** Read structurally: fetch's errors (a DOMException for the timeout) come from another realm in tests. */
function describe(error: unknown): string {
  const e = error as { name?: unknown; message?: unknown; cause?: { message?: unknown } } | null;
  if (typeof e !== "object" || e === null) return String(error);
  if (e.name === "TimeoutError" || e.name === "AbortError") return "no answer before the timeout";
  const message = typeof e.message === "string" ? e.message : String(error);
  const cause = typeof e.cause?.message === "string" ? `: ${e.cause.message}` : "";
  return `${message}${cause}`;
}

function retryAfterMs(header: string | null): number | null {
  if (header === null) return null;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null;
}

/** POSTs one payload; see the module comment for the rules. Never throws for a delivery failure. */
export async function postAlertWebhook(
  url: string,
  payload: AlertWebhookPayload,
  options: WebhookOptions = {},
): Promise<WebhookDelivery> {
  const parsedOptions = OptionsSchema.safeParse(options);
  if (!parsedOptions.success) {
    const issue = parsedOptions.error.issues[0]!;
    throw new InputError(`invalid webhook options: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const o = parsedOptions.data;
  const target = checkWebhookUrl(url);
  const send = o.fetch ?? globalThis.fetch;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const body = JSON.stringify(payload);
  let status: number | null = null;
  let error = "not sent";
  const attempts = o.retries + 1;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let wait = o.backoffMs * 2 ** (attempt - 1);
    try {
      const response = await send(target.href, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "switchyard" },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(o.timeoutMs),
      });
      status = response.status;
      // The answer's body is of no use; reading it to the end frees the connection.
      await response.arrayBuffer().catch(() => undefined);
      if (status >= 200 && status < 300) return { delivered: true, attempts: attempt, status, error: null };
      if (status >= 300 && status < 400) {
        return {
          delivered: false,
          attempts: attempt,
          status,
          error: `the webhook answered ${status}, a redirect, which is not followed; give the final URL in the secret`,
        };
      }
      if (status !== 429 && status < 500) {
        return {
          delivered: false,
          attempts: attempt,
          status,
          error: `the webhook answered ${status}; check the URL in the secret and that the hook still exists`,
        };
      }
      error = `the webhook answered ${status}`;
      const after = status === 429 ? retryAfterMs(response.headers.get("retry-after")) : null;
      if (after !== null) {
        if (after > o.maxRetryAfterMs) {
          return {
            delivered: false,
            attempts: attempt,
            status,
            error: `${error} and asked to wait ${Math.round(after / 1000)} s, longer than ${Math.round(o.maxRetryAfterMs / 1000)} s`,
          };
        }
        wait = after;
      }
    } catch (e) {
      error = `the webhook could not be reached: ${describe(e)}`;
    }
    if (attempt < attempts) await sleep(wait);
  }
  return {
    delivered: false,
    attempts,
    status,
    error: redactWebhookUrl(`${error} (after ${attempts} attempt${attempts === 1 ? "" : "s"})`, url),
  };
}
