/**
 * Real webhook payloads for tests, from @octokit/webhooks-examples (payloads GitHub sent,
 * collected by the Octokit project), instead of hand-written JSON that drifts from GitHub's.
 *
 *   const payload = withInstallation(webhookExample("issues", "labeled"));
 *   payload.label.name = "switchyard";           // adjust what the test is about
 *   await probot.receive({ id: "1", name: "issues", payload });
 *
 * Each call returns a fresh deep copy, so tests may mutate it.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import type { WebhookDefinition } from "@octokit/webhooks-examples";
import { InputError } from "../../src/core/errors.js";

export type WebhookEventName = WebhookDefinition["name"];
export type WebhookPayload<E extends WebhookEventName> = WebhookDefinition<E>["examples"][number];
type ActionOf<E extends WebhookEventName> =
  WebhookPayload<E> extends infer P ? (P extends { action: infer A extends string } ? A : never) : never;
/** The payload type narrowed to one action, e.g. IssuesLabeledEvent for ("issues", "labeled"). */
export type WebhookActionPayload<E extends WebhookEventName, A extends string> = Extract<
  WebhookPayload<E>,
  { action: A }
>;

let definitions: WebhookDefinition[] | undefined;

function load(): WebhookDefinition[] {
  if (!definitions) {
    const file = createRequire(import.meta.url).resolve("@octokit/webhooks-examples");
    definitions = JSON.parse(fs.readFileSync(file, "utf8")) as WebhookDefinition[];
  }
  return definitions;
}

/** Event names that have example payloads. */
export function webhookEventNames(): string[] {
  return load()
    .map((d) => d.name)
    .sort();
}

/**
 * The `index`-th example payload of event `name`, among those with `action` when one is given.
 * Throws an InputError listing what exists when nothing matches.
 */
export function webhookExample<E extends WebhookEventName>(name: E): WebhookPayload<E>;
export function webhookExample<E extends WebhookEventName, const A extends ActionOf<E>>(
  name: E,
  action: A,
  index?: number,
): WebhookActionPayload<E, A>;
export function webhookExample(name: string, action?: string, index = 0): unknown {
  const definition = load().find((d) => d.name === name);
  if (!definition) {
    throw new InputError(
      `no webhook examples for event "${name}"; events with examples: ${webhookEventNames().join(", ")}`,
    );
  }
  const examples = (definition.examples as { action?: string }[]).filter(
    (e) => action === undefined || e.action === action,
  );
  if (examples.length === 0) {
    const actions = [...new Set(definition.examples.map((e) => (e as { action?: string }).action))];
    const listed = actions.filter((a): a is string => typeof a === "string").sort();
    throw new InputError(
      listed.length === 0
        ? `"${name}" examples have no action; call webhookExample("${name}") without "${action}"`
        : `no "${name}" example with action "${action}"; actions with examples: ${listed.join(", ")}`,
    );
  }
  if (!Number.isInteger(index) || index < 0 || index >= examples.length) {
    const which = action === undefined ? `"${name}"` : `"${name}" "${action}"`;
    throw new InputError(
      `example index ${index} is out of range: there ${examples.length === 1 ? "is 1" : `are ${examples.length}`} ${which} example${examples.length === 1 ? "" : "s"} (0-based)`,
    );
  }
  return structuredClone(examples[index]);
}

/**
 * A copy of `payload` as GitHub delivers it to an installed app: the examples were mostly
 * captured from repository webhooks, which carry no `installation`, and Probot needs one to
 * authenticate.
 */
export function withInstallation<P extends object>(
  payload: P,
  id = 1,
): P & { installation: { id: number; node_id: string } } {
  if (!Number.isInteger(id) || id <= 0) {
    throw new InputError(`installation id must be a positive integer; got ${String(id)}`);
  }
  const node_id = Buffer.from(`023:IntegrationInstallation${id}`).toString("base64");
  return { ...structuredClone(payload), installation: { id, node_id } };
}
