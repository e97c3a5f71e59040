import type { Logger } from "probot";

/**
 * What a webhook handler's log lines should carry so an operator can follow one delivery across
 * replicas: Probot's `context.log` already binds the delivery id (`id`); this adds the event, the
 * repository and the task key, and lets the caller add its own fields.
 */

export interface DeliveryLike {
  id: string;
  name: string;
  payload: unknown;
  log: Logger;
}

export interface DeliveryBindings {
  /** The delivery id (x-github-delivery), also bound by Probot as `id`. */
  delivery: string;
  /** `issues.labeled`, or the bare event name when the payload has no action. */
  event: string;
  /** owner/name, when the payload names a repository. */
  repository?: string;
  /** owner/name#number, when the payload is about an issue or pull request. */
  task?: string;
}

/** The fields {@link deliveryLogger} binds, for tests and for callers that log elsewhere. */
export function deliveryBindings(context: Omit<DeliveryLike, "log">): DeliveryBindings {
  const payload = (
    typeof context.payload === "object" && context.payload !== null ? context.payload : {}
  ) as {
    action?: unknown;
    repository?: { full_name?: unknown };
    issue?: { number?: unknown };
    pull_request?: { number?: unknown };
  };
  const bindings: DeliveryBindings = {
    delivery: context.id,
    event: typeof payload.action === "string" ? `${context.name}.${payload.action}` : context.name,
  };
  const repository = payload.repository?.full_name;
  if (typeof repository === "string") {
    bindings.repository = repository;
    const number = payload.issue?.number ?? payload.pull_request?.number;
    if (typeof number === "number") bindings.task = `${repository}#${number}`;
  }
  return bindings;
}

/**
 * A child of `context.log` bound to the delivery, event, repository and task key; `extra` adds or
 * overrides fields (e.g. `{ task }` for a task the payload does not name, or `{ tool }`).
 */
export function deliveryLogger(context: DeliveryLike, extra: Record<string, unknown> = {}): Logger {
  return context.log.child({ ...deliveryBindings(context), ...extra });
}
