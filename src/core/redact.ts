/**
 * Secret redaction for everything Switchyard prints or posts: tool output, gate output, check-run
 * summaries, comments. Two layers: literal values the caller knows are secret (the Action also
 * registers them with `core.setSecret`, but a comment posted through the API is not masked by the
 * runner's log filter), and well-known token shapes, which catch a secret nobody registered — a
 * tool that prints the key it found in a config file, say.
 *
 * Every pattern is linear-time: a literal prefix followed by single character classes, so a
 * hostile 100 MB stream cannot make the redactor backtrack. Redaction is over-eager on purpose
 * where the two goals collide: hiding an innocent string costs a little readability, printing a
 * real key costs a rotation.
 */

export const REDACTED = "***";

/** Literal secrets shorter than this are ignored: masking "1" or "yes" everywhere would hide more than it protects. */
export const MIN_SECRET_LENGTH = 4;

export interface SecretPattern {
  name: string;
  description: string;
  /**
   * A global regex (findSecretSpans resets its lastIndex; copy it before using it elsewhere). With
   * `group`, only that capture group is hidden, so "Authorization: Bearer" stays readable.
   */
  regex: RegExp;
  group?: number;
}

const PEM_LABEL = "[A-Z0-9 ]{0,40}PRIVATE KEY[A-Z ]{0,10}";
// Base64, whitespace and the legacy encrypted-PEM headers (Proc-Type: 4,ENCRYPTED / DEK-Info: ...).
const PEM_BODY = "[A-Za-z0-9+/=\\s:,-]";

export const SECRET_PATTERNS: readonly SecretPattern[] = [
  {
    name: "github-token",
    description:
      "GitHub tokens: ghp_ (classic PAT), gho_ (OAuth), ghu_ (user-to-server), ghs_ (app installation), ghr_ (refresh), + 36 or more letters/digits",
    regex: /(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,}/g,
  },
  {
    name: "github-fine-grained-pat",
    description:
      "GitHub fine-grained personal access tokens: github_pat_ + 22 or more letters, digits or _ (82 in practice)",
    regex: /(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,}/g,
  },
  {
    name: "openai-anthropic-key",
    description:
      "OpenAI and Anthropic API keys: sk- (also sk-proj-, sk-ant-, sk-svcacct-...) + 20 or more letters, digits, _ or -",
    regex: /(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,}/g,
  },
  {
    name: "slack-token",
    description: "Slack tokens: xoxa-, xoxb-, xoxe-, xoxo-, xoxp-, xoxr-, xoxs- and xapp- app tokens",
    regex: /(?<![A-Za-z0-9_-])(?:xox[abeoprs]|xapp)-[A-Za-z0-9-]{10,}/g,
  },
  {
    name: "aws-access-key-id",
    description: "AWS access key ids: AKIA or ASIA + 16 upper-case letters or digits",
    regex: /(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}/g,
  },
  {
    name: "google-api-key",
    description: "Google API keys: AIza + 35 letters, digits, _ or -",
    regex: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}/g,
  },
  {
    name: "private-key",
    description:
      "PEM private key blocks, -----BEGIN ... PRIVATE KEY----- to the matching END line (or as far as the key body runs when the END line is missing)",
    regex: new RegExp(
      `-----BEGIN${PEM_LABEL}-----(?:${PEM_BODY}*?-----END${PEM_LABEL}-----|${PEM_BODY}*)`,
      "g",
    ),
  },
  {
    name: "authorization-header",
    description:
      "The credential in an Authorization or Proxy-Authorization header (Bearer, token, Basic or bare)",
    regex:
      /(?<![A-Za-z0-9_-])(?:proxy-)?authorization["']?[ \t]{0,20}[:=][ \t]{0,20}["']?(?:(?:bearer|token|basic)[ \t]{1,20})?([^\s"',;]{8,})/dgi,
    group: 1,
  },
];

/** A region to hide. `anchor` is where the match that found it began, at or before `start`. */
export interface SecretSpan {
  start: number;
  end: number;
  anchor: number;
}

/** The literal values worth searching for: trimmed, long enough, each line of a multi-line secret too. */
export function normalizeSecrets(secrets: readonly string[]): string[] {
  const out = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== "string") continue;
    const trimmed = secret.trim();
    if (trimmed.length >= MIN_SECRET_LENGTH) out.add(trimmed);
    // A multi-line value (a PEM key, a JSON credential) is printed one line at a time as often as whole.
    if (trimmed.includes("\n")) {
      for (const line of trimmed.split(/\r?\n/)) {
        const l = line.trim();
        if (l.length >= MIN_SECRET_LENGTH) out.add(l);
      }
    }
  }
  // Longest first, so a secret that contains another is found whole (spans are merged anyway).
  return [...out].sort((a, b) => b.length - a.length);
}

/**
 * Every region of `text` (from `from` on) that holds a secret, sorted and merged. Characters before
 * `from` are context only: they decide whether a token starts at a word boundary.
 * `secrets` must already be normalised (see normalizeSecrets).
 */
export function findSecretSpans(text: string, secrets: readonly string[], from = 0): SecretSpan[] {
  const spans: SecretSpan[] = [];
  for (const secret of secrets) {
    let i = text.indexOf(secret, from);
    while (i !== -1) {
      spans.push({ start: i, end: i + secret.length, anchor: i });
      i = text.indexOf(secret, i + 1);
    }
  }
  for (const pattern of SECRET_PATTERNS) {
    const re = pattern.regex;
    re.lastIndex = from;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      const range = pattern.group !== undefined ? m.indices?.[pattern.group] : undefined;
      if (range) spans.push({ start: range[0], end: range[1], anchor: m.index });
      else spans.push({ start: m.index, end: m.index + m[0].length, anchor: m.index });
    }
    re.lastIndex = 0;
  }
  return mergeSpans(spans);
}

function mergeSpans(spans: SecretSpan[]): SecretSpan[] {
  if (spans.length <= 1) return spans;
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: SecretSpan[] = [{ ...spans[0]! }];
  for (let i = 1; i < spans.length; i++) {
    const s = spans[i]!;
    const last = merged[merged.length - 1]!;
    if (s.start <= last.end) {
      last.end = Math.max(last.end, s.end);
      last.anchor = Math.min(last.anchor, s.anchor);
    } else {
      merged.push({ ...s });
    }
  }
  return merged;
}

/** text[from, to) with every span inside it replaced by REDACTED. Spans must lie within [from, to). */
function applySpans(text: string, spans: readonly SecretSpan[], from: number, to: number): string {
  if (spans.length === 0) return text.slice(from, to);
  let out = "";
  let at = from;
  for (const s of spans) {
    out += text.slice(at, s.start) + REDACTED;
    at = s.end;
  }
  return out + text.slice(at, to);
}

/** Replaces known secret values and well-known token shapes in `text` with "***". */
export function redact(text: string, secrets: readonly string[] = []): string {
  const spans = findSecretSpans(text, normalizeSecrets(secrets));
  return applySpans(text, spans, 0, text.length);
}

export interface StreamRedactorOptions {
  /**
   * The most text held back waiting to see whether a secret continues. A token still growing
   * past this is hidden up to here and the rest passes: only a pathological stream gets that far.
   */
  maxHoldChars?: number;
}

/** Enough to see any token's prefix and minimum length, a PEM header and an Authorization header. */
const MIN_WINDOW = 256;

/**
 * Redaction for a stream that arrives in chunks, where a secret may be split between two of them.
 * It holds back the last few hundred characters (and any match that reaches the end of what has
 * arrived, since it may go on) until the next chunk shows where they end. Output is the same as
 * `redact` on the whole text, but for streams that stay inside a secret for longer than
 * `maxHoldChars`.
 */
export class StreamRedactor {
  private readonly secrets: string[];
  private readonly window: number;
  private readonly maxHold: number;
  /** Held text not yet emitted. */
  private carry = "";
  /** The last character emitted, so a token right after the cut is judged with its real left neighbour. */
  private context = "";

  constructor(secrets: readonly string[] = [], options: StreamRedactorOptions = {}) {
    this.secrets = normalizeSecrets(secrets);
    const longest = this.secrets[0]?.length ?? 0;
    this.window = Math.max(MIN_WINDOW, longest);
    this.maxHold = Math.max(options.maxHoldChars ?? 64 * 1024, this.window * 2);
  }

  /** Takes the next chunk; returns the redacted text that is now safe to emit (possibly ""). */
  push(chunk: string): string {
    if (chunk.length === 0) return "";
    const base = this.context.length;
    const text = this.context + this.carry + chunk;
    const spans = findSecretSpans(text, this.secrets, base);
    let cut = Math.max(base, text.length - this.window);
    // Hold back every match that reaches past the cut or to the end (it may continue), from where
    // the match began, so the next push sees it whole. Moving the cut can expose another match.
    for (let moved = true; moved;) {
      moved = false;
      for (const s of spans) {
        const from = Math.max(base, s.anchor);
        if ((s.end > cut || s.end === text.length) && from < cut) {
          cut = from;
          moved = true;
        }
      }
    }
    if (text.length - cut > this.maxHold) cut = text.length;
    return this.emit(text, spans, base, cut);
  }

  /** Emits whatever is still held: call once, when the stream has ended. */
  flush(): string {
    if (this.carry.length === 0) return "";
    const base = this.context.length;
    const text = this.context + this.carry;
    return this.emit(text, findSecretSpans(text, this.secrets, base), base, text.length);
  }

  private emit(text: string, spans: readonly SecretSpan[], base: number, cut: number): string {
    const done = spans.filter((s) => s.end <= cut);
    // A span crossing the cut would only happen after a forced flush: hide it up to the cut.
    const crossing = spans.find((s) => s.start < cut && s.end > cut);
    const out = applySpans(text, done, base, crossing ? crossing.start : cut) + (crossing ? REDACTED : "");
    this.carry = text.slice(cut);
    this.context = cut > 0 ? text.slice(cut - 1, cut) : this.context;
    return out;
  }
}
