import { closest, distance } from "fastest-levenshtein";
import type { Config, ToolProfile } from "../../config/schema.js";
import { InputError } from "../errors.js";
import { circuitLookup, type CircuitState } from "../policy/circuit-breaker.js";
import type { Task } from "../task/schema.js";
import {
  SignalsSchema,
  type Candidate,
  type Exclusion,
  type ParsedSignals,
  type RoutingDecision,
  type Signals,
} from "./schema.js";
import { rankTools, STRATEGY_LABELS, type EligibleTool } from "./strategies.js";

/**
 * The router: (task, config, signals) -> decision. Pure and deterministic: it reads no clock and
 * no randomness (time and history arrive in `signals`), so a decision can be replayed from
 * GitHub's history and `/switchyard explain` shows exactly what the route saw.
 *
 * 1. Candidates are the chain for the task's capability: `routing.chains[capability]`, else
 *    `routing.chains.default`, else every enabled tool declaring the capability, cheapest first
 *    (cost_weight, then name). Every other configured tool is listed too, excluded, so an
 *    explanation accounts for every tool.
 * 2. Each chain tool is checked in this order, the first failure excluding it: defined, enabled,
 *    capable, available, circuit not open (a half-open circuit admits one trial run), below its
 *    max_concurrency.
 * 3. The strategy orders the rest (see strategies.ts). The first is chosen, the next
 *    `max_fallbacks` are the fallback chain, any further eligible tool is excluded as
 *    `beyond_max_fallbacks` (keeping its score, so one can see how close it came).
 * 4. An override (`/switchyard route <tool>`, then a `switchyard:<tool>` label or the task's own
 *    tool override) passes the same checks, chain membership aside. Accepted, the tool is chosen
 *    and the strategy's order follows as fallbacks; an eligible tool that the override pushed out
 *    of the fallback chain is excluded as `overridden`. Refused, the decision says why and routing
 *    goes on as if there had been none.
 */
export function route(task: Task, config: Config, signals: Signals): RoutingDecision {
  const s = parseSignals(signals);
  const capability = task.capability;
  const { routing } = config;

  const profiles = new Map<string, ToolProfile>();
  for (const t of config.tools) if (!profiles.has(t.name)) profiles.set(t.name, t);
  const chain = resolveChain(capability, config, profiles);
  const circuitOf = circuitLookup(s.outcomes, routing.circuit_breaker, Date.parse(s.now));
  const check = (name: string) => checkTool(name, profiles.get(name), capability, s, circuitOf);

  const chainChecks = chain.names.map((name, chainIndex) => ({ name, chainIndex, verdict: check(name) }));
  const eligible: EligibleTool[] = [];
  for (const { name, chainIndex, verdict } of chainChecks) {
    if (verdict.ok) eligible.push({ name, profile: verdict.profile, chainIndex, inFlight: verdict.inFlight });
  }
  const ranking = rankTools(routing.strategy, eligible, {
    taskKey: task.key,
    capability,
    describePosition: chain.describePosition,
    signals: s,
    metrics: routing.metrics,
  });
  const trial = (name: string) => (circuitOf(name).state === "half_open" ? "; half-open: trial run" : "");
  const order: Ranked[] = ranking.ranked.map((r) => ({ ...r, reason: r.reason + trial(r.name) }));
  const planned = new Set(order.slice(0, 1 + routing.max_fallbacks).map((r) => r.name));

  const override = resolveOverride(task, config, s, profiles, check);
  if (override?.accepted) {
    placeOverride(order, override, (at) =>
      at >= 0 ? `ranked #${at + 1} by ${STRATEGY_LABELS[routing.strategy]}` : `not in ${chain.label}`,
    );
    order[0]!.reason += trial(override.requested);
  }

  const candidates = rankedCandidates(order, routing.max_fallbacks, override?.accepted ? planned : new Set());
  const listed = new Set(candidates.map((c) => c.tool));
  for (const c of chainChecks) {
    if (c.verdict.ok || listed.has(c.name)) continue;
    listed.add(c.name);
    candidates.push(excluded(c.name, c.verdict.exclusion, c.verdict.reason));
  }
  for (const t of profiles.values()) {
    if (listed.has(t.name)) continue;
    listed.add(t.name);
    if (!t.enabled) candidates.push(excluded(t.name, "disabled", DISABLED));
    else if (!t.capabilities.includes(capability)) {
      candidates.push(excluded(t.name, "not_capable", notCapable(t, capability)));
    } else candidates.push(excluded(t.name, "not_in_chain", `not in ${chain.label}`));
  }

  const tool = order[0]?.name ?? null;
  const fallback = order.slice(1, 1 + routing.max_fallbacks).map((r) => r.name);
  let summary: string;
  if (tool === null) {
    summary = `No tool can take '${capability}': ${whyNone(chainChecks, profiles, capability)}.`;
  } else {
    const how = override?.accepted
      ? `, overridden by ${override.phrase}`
      : ranking.exploring
        ? ` by metrics (exploring: only ${plural(ranking.exploring.samples, "sample")})`
        : ` by ${STRATEGY_LABELS[routing.strategy]}`;
    const rest = fallback.length > 0 ? `fallback: ${fallback.join(", ")}` : "no fallback";
    summary = `Routed '${capability}' to ${tool}${how}; ${rest}.`;
  }
  if (override && !override.accepted) summary += ` Override ${override.label} refused: ${override.reason}.`;
  if (routing.strategy === "sticky" && s.previous_tool && !ranking.stickyKept && !override?.accepted) {
    const why = candidates.find((c) => c.tool === s.previous_tool)?.reason ?? "no longer configured";
    summary += ` Previous tool ${s.previous_tool} not kept: ${why}.`;
  }

  const decision: RoutingDecision = {
    task_key: task.key,
    capability,
    strategy: routing.strategy,
    tool,
    fallback,
    candidates,
    summary,
  };
  if (override) {
    const { requested, source, accepted, reason } = override;
    decision.override = { requested, source, accepted, reason };
  }
  return decision;
}

interface Ranked {
  name: string;
  score: number | null;
  reason: string;
}

/**
 * Moves an accepted override to the front of the strategy's order (or adds it, when it is outside
 * the chain) and notes on the tool it displaced that it would otherwise have been chosen.
 */
function placeOverride(
  order: Ranked[],
  override: OverrideRequest,
  where: (rankIndex: number) => string,
): void {
  const displaced = order[0]?.name;
  const at = order.findIndex((r) => r.name === override.requested);
  const ranked = at >= 0 ? order.splice(at, 1)[0] : undefined;
  order.unshift({
    name: override.requested,
    score: ranked?.score ?? null,
    reason: `overridden by ${override.phrase} (${where(at)})`,
  });
  const second = order[1];
  if (second && displaced !== override.requested && second.name === displaced) {
    second.reason += "; would have been chosen without the override";
  }
}

/**
 * Chosen, fallbacks, then the eligible tools that did not fit: those an accepted override pushed
 * out of what the strategy had planned are `overridden`, the rest `beyond_max_fallbacks`.
 */
function rankedCandidates(order: readonly Ranked[], maxFallbacks: number, planned: Set<string>): Candidate[] {
  return order.map((r, i): Candidate => {
    const { name: tool, score, reason } = r;
    if (i === 0) return { tool, score, status: "chosen", reason };
    if (i <= maxFallbacks) return { tool, score, status: "fallback", reason };
    return planned.has(tool)
      ? {
          tool,
          score,
          status: "excluded",
          exclusion: "overridden",
          reason: `${reason}; pushed out by the override (max_fallbacks ${maxFallbacks})`,
        }
      : {
          tool,
          score,
          status: "excluded",
          exclusion: "beyond_max_fallbacks",
          reason: `${reason}; beyond max_fallbacks (${maxFallbacks})`,
        };
  });
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function parseSignals(signals: Signals): ParsedSignals {
  const parsed = SignalsSchema.safeParse(signals);
  if (!parsed.success) {
    const details = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.length > 0 ? formatPath(i.path) : "signals"}: ${i.message}`)
      .join("; ");
    throw new InputError(`Invalid routing signals: ${details}`);
  }
  parsed.data.metrics.forEach((m, i) => {
    if (m.successes > m.attempts) {
      throw new InputError(
        `Invalid routing signals: metrics[${i}] (${m.tool}) has ${m.successes} successes out of ${m.attempts} attempts`,
      );
    }
  });
  return parsed.data;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join("");
}

interface Chain {
  names: string[];
  /** "the 'testing' chain", for "not in ..." reasons. */
  label: string;
  describePosition: (chainIndex: number) => string;
}

function resolveChain(capability: string, config: Config, profiles: Map<string, ToolProfile>): Chain {
  const chains = config.routing.chains;
  const own = chains[capability];
  const configured = own ?? chains["default"];
  if (configured) {
    const label = own ? `the '${capability}' chain` : "the default chain";
    return {
      names: [...new Set(configured)],
      label,
      describePosition: (i) => `#${i + 1} in ${label}`,
    };
  }
  const capable = [...profiles.values()]
    .filter((t) => t.enabled && t.capabilities.includes(capability))
    .sort((a, b) => a.cost_weight - b.cost_weight || compareNames(a.name, b.name));
  return {
    names: capable.map((t) => t.name),
    label: `the tools declaring '${capability}' (no chain configured)`,
    describePosition: (i) => `#${i + 1} by cost_weight (no chain for '${capability}')`,
  };
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

type Verdict =
  { ok: true; profile: ToolProfile; inFlight: number } | { ok: false; exclusion: Exclusion; reason: string };

const DISABLED = "disabled (enabled: false)";

function checkTool(
  name: string,
  profile: ToolProfile | undefined,
  capability: string,
  s: ParsedSignals,
  circuitOf: (tool: string) => CircuitState,
): Verdict {
  if (!profile) return { ok: false, exclusion: "unknown_tool", reason: "no profile with this name in tools" };
  if (!profile.enabled) return { ok: false, exclusion: "disabled", reason: DISABLED };
  if (!profile.capabilities.includes(capability)) {
    return { ok: false, exclusion: "not_capable", reason: notCapable(profile, capability) };
  }
  const availability = s.availability[name];
  if (typeof availability === "string") {
    return { ok: false, exclusion: "unavailable", reason: `unavailable (${availability})` };
  }
  const inFlight = s.in_flight[name] ?? 0;
  const circuit = circuitOf(name);
  if (circuit.state === "open") {
    return {
      ok: false,
      exclusion: "circuit_open",
      reason: `circuit open until ${circuit.retry_at} (${circuit.failures} of ${circuit.samples} recent runs failed)`,
    };
  }
  if (circuit.state === "half_open" && inFlight > 0) {
    return {
      ok: false,
      exclusion: "circuit_open",
      reason: "circuit half-open, its one trial run is in flight",
    };
  }
  if (inFlight >= profile.max_concurrency) {
    return {
      ok: false,
      exclusion: "over_concurrency",
      reason: `at its concurrency limit (${inFlight} of ${profile.max_concurrency} running)`,
    };
  }
  return { ok: true, profile, inFlight };
}

function notCapable(profile: ToolProfile, capability: string): string {
  return `not capable of '${capability}' (declares ${profile.capabilities.join(", ")})`;
}

function excluded(tool: string, exclusion: Exclusion, reason: string): Candidate {
  return { tool, score: null, status: "excluded", exclusion, reason };
}

interface OverrideRequest {
  requested: string;
  source: "label" | "command" | "task";
  /** How people asked, for reasons: "label switchyard:claude". */
  phrase: string;
  /** The request as written, for "Override <label> refused": "switchyard:claude". */
  label: string;
  accepted: boolean;
  reason: string;
}

/**
 * A command names the tool for this one route, so it wins over a label that may have been on the
 * issue for weeks. `task.overrides.tool` comes from a `switchyard:<tool>` label or, failing that,
 * from the task itself (an issue-form field).
 */
function resolveOverride(
  task: Task,
  config: Config,
  s: ParsedSignals,
  profiles: Map<string, ToolProfile>,
  check: (name: string) => Verdict,
): OverrideRequest | undefined {
  let requested: string;
  let source: OverrideRequest["source"];
  let phrase: string;
  if (s.command_tool !== undefined) {
    requested = s.command_tool;
    source = "command";
    phrase = `command /switchyard route ${requested}`;
  } else if (task.overrides.tool !== undefined) {
    requested = task.overrides.tool;
    source = task.labels.includes(`switchyard:${requested}`) ? "label" : "task";
    phrase = source === "label" ? `label switchyard:${requested}` : `the task's tool override (${requested})`;
  } else {
    return undefined;
  }
  const label =
    source === "command"
      ? `/switchyard route ${requested}`
      : source === "label"
        ? `switchyard:${requested}`
        : `to ${requested}`;
  const refuse = (reason: string): OverrideRequest => ({
    requested,
    source,
    phrase,
    label,
    accepted: false,
    reason,
  });

  if (!config.routing.allow_override) {
    return refuse("overrides are turned off (routing.allow_override: false)");
  }
  if (!profiles.has(requested)) {
    return refuse(`no tool named '${requested}' in tools${suggest(requested, profiles)}`);
  }
  const verdict = check(requested);
  if (!verdict.ok) return refuse(`${requested} ${verdict.reason}`);
  return { requested, source, phrase, label, accepted: true, reason: `overridden by ${phrase}` };
}

function suggest(name: string, profiles: Map<string, ToolProfile>): string {
  if (profiles.size === 0) return "";
  const names = [...profiles.keys()];
  const near = closest(name, names);
  return distance(name, near) <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean '${near}'?)` : "";
}

function whyNone(
  chainChecks: readonly { name: string; verdict: Verdict }[],
  profiles: Map<string, ToolProfile>,
  capability: string,
): string {
  if (chainChecks.length > 0) {
    return chainChecks.map((c) => `${c.name} ${c.verdict.ok ? "eligible" : c.verdict.reason}`).join(", ");
  }
  const disabled = [...profiles.values()].filter((t) => !t.enabled && t.capabilities.includes(capability));
  if (disabled.length > 0)
    return `every tool declaring it is disabled (${disabled.map((t) => t.name).join(", ")})`;
  return "no configured tool declares it";
}
