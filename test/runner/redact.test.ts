import { describe, expect, it } from "@jest/globals";
import {
  findSecretSpans,
  normalizeSecrets,
  redact,
  SECRET_PATTERNS,
  StreamRedactor,
} from "../../src/core/redact.js";

/**
 * Fake credentials with the real shapes, assembled from pieces so this file holds nothing a
 * secret scanner would flag. `rep(s, n)` makes n characters from a pattern string.
 */
const rep = (s: string, n: number) => s.repeat(Math.ceil(n / s.length)).slice(0, n);
const j = (...parts: string[]) => parts.join("");
const FAKE = {
  ghp: j("gh", "p_", rep("aB3dE6gH9j", 36)),
  gho: j("gh", "o_", rep("Zy8Xw7Vu6T", 36)),
  ghu: j("gh", "u_", rep("Qq1Ww2Ee3R", 36)),
  ghs: j("gh", "s_", rep("Mn4Bv5Cx6Z", 36)),
  ghr: j("gh", "r_", rep("Lk7Jh8Gf9D", 36)),
  finePat: j("github", "_pat_", rep("11ABCDEFG0", 22), "_", rep("aZ9bY8cX7dW6", 59)),
  openaiLegacy: j("s", "k-", rep("T3BlbkFJ9xQz", 48)),
  openaiProj: j("s", "k-proj-", rep("Ab_Cd-Ef12", 120)),
  anthropic: j("s", "k-ant-api03-", rep("xY9_wV8-uT7", 93), "AA"),
  slackBot: j("xo", "xb-", "1234567890123-1234567890123-", rep("aBcDeFgHiJ", 24)),
  slackUser: j("xo", "xp-", "123456789012-123456789012-123456789012-", rep("0f1e2d3c4b", 32)),
  slackApp: j("xa", "pp-1-", "A0123456789-1234567890123-", rep("abcdef0123", 64)),
  aws: j("AK", "IA", "IOSFODNN7EXAMPLE"),
  awsSession: j("AS", "IA", "Y34FZKBOKMUTVV7A"),
  google: j("AI", "za", rep("Sy0_1-2aBcDeFgH", 35)),
};
const PEM = [
  j("-----BEGIN ", "RSA PRIVATE KEY-----"),
  "Proc-Type: 4,ENCRYPTED",
  "DEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF",
  "",
  rep("MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB+/=", 64),
  rep("aq9xY2hX+/Zr3tWQ8mN4kP1sLbV7cD0eFgH6iJ5kL2mN9oP3qR8sT1uV4wX7yZ0aB", 64),
  j("-----END ", "RSA PRIVATE KEY-----"),
].join("\n");

describe("redact: token shapes", () => {
  it.each(Object.entries(FAKE))("hides %s", (_name, token) => {
    expect(redact(`value: ${token}\n`)).toBe("value: ***\n");
    expect(redact(`"${token}"`)).toBe('"***"');
    expect(redact(`url?key=${token}&x=1`)).toBe("url?key=***&x=1");
  });

  it("hides PEM private key blocks of every flavour, encrypted headers included", () => {
    expect(redact(`key:\n${PEM}\nafter`)).toBe("key:\n***\nafter");
    for (const label of ["", "EC ", "OPENSSH ", "ENCRYPTED ", "DSA "]) {
      const block = j(
        `-----BEGIN ${label}`,
        "PRIVATE KEY-----\nAAAAB3NzaC1yc2E=\n",
        `-----END ${label}PRIVATE KEY-----`,
      );
      expect(redact(`x ${block} y`)).toBe("x *** y");
    }
  });

  it("hides a PEM key whose END line is missing as far as the key body runs", () => {
    expect(redact(j("log\n-----BEGIN ", "PRIVATE KEY-----\nMIIabc+/=\nMIIdef\n! done"))).toBe(
      "log\n***! done",
    );
  });

  it("hides the credential of an Authorization header but keeps the header readable", () => {
    expect(redact("Authorization: Bearer abc.def-ghi_jkl~mno")).toBe("Authorization: Bearer ***");
    expect(redact("curl -H 'authorization: token 0123456789abcdef' https://x")).toBe(
      "curl -H 'authorization: token ***' https://x",
    );
    expect(redact('{"Authorization":"Basic dXNlcjpwYXNzd29yZA=="}')).toBe('{"Authorization":"Basic ***"}');
    expect(redact("Proxy-Authorization: Bearer zzzzzzzzzz")).toBe("Proxy-Authorization: Bearer ***");
  });

  it("leaves ordinary text alone", () => {
    const text = [
      "task-list ask-for-help-with-many-hyphenated-words-here disk-usage-report-for-the-whole-machine",
      "gh_pages ghp_short ghp-not-a-token github_pat_short sk-short sk_live_notthisshape",
      "xoxb-short AKIAlowercase0000000 AIzaShort the word authorization: none",
      "-----BEGIN CERTIFICATE----- public stuff -----END CERTIFICATE-----",
      "Bearer of bad news; Authorization header required",
    ].join("\n");
    expect(redact(text)).toBe(text);
  });

  it("needs a word boundary before a token, so a longer identifier that ends in one is not cut in two", () => {
    expect(redact(`mask${FAKE.openaiLegacy.slice(1)}`)).toBe(`mask${FAKE.openaiLegacy.slice(1)}`);
    expect(redact(`x_${FAKE.ghp}`)).toBe(`x_${FAKE.ghp}`);
    expect(redact(`x-${FAKE.ghp}`)).toBe("x-***");
  });

  it("lists every pattern with a name and a description for the docs", () => {
    expect(SECRET_PATTERNS.map((p) => p.name)).toEqual([
      "github-token",
      "github-fine-grained-pat",
      "openai-anthropic-key",
      "slack-token",
      "aws-access-key-id",
      "google-api-key",
      "private-key",
      "authorization-header",
    ]);
    for (const p of SECRET_PATTERNS) {
      expect(p.description.length).toBeGreaterThan(20);
      expect(p.regex.global).toBe(true);
    }
  });
});

describe("redact: literal secrets", () => {
  it("hides every occurrence of the given values", () => {
    expect(redact("pw=hunter22 again hunter22.", ["hunter22"])).toBe("pw=*** again ***.");
  });

  it("ignores values too short to mask safely, and trims the rest", () => {
    expect(redact("a 123 true abc", ["123", "", "abc", "  true  "])).toBe("a 123 *** abc");
    expect(normalizeSecrets(["ab", "abcd", " padded-secret \n"])).toEqual(["padded-secret", "abcd"]);
  });

  it("hides each line of a multi-line secret on its own too", () => {
    const secret = "first-line-value\nsecond-line-value";
    expect(redact("got second-line-value here", [secret])).toBe("got *** here");
    expect(redact(`whole: ${secret}!`, [secret])).toBe("whole: ***!");
  });

  it("merges overlapping matches into one mask", () => {
    const inner = FAKE.ghp.slice(10, 30);
    expect(redact(`t=${FAKE.ghp};`, [inner])).toBe("t=***;");
    expect(findSecretSpans(`t=${FAKE.ghp};`, normalizeSecrets([inner]))).toEqual([
      { start: 2, end: 2 + FAKE.ghp.length, anchor: 2 },
    ]);
  });
});

describe("redact: linear time on hostile input", () => {
  it.each([
    ["ghp_ prefixes", "ghp_".repeat(250_000)],
    ["sk- chains", "sk-".repeat(300_000)],
    ["unterminated PEM headers", j("-----BEGIN ", "PRIVATE KEY-----\n").repeat(30_000)],
    ["PEM headers separated by junk", j("-----BEGIN ", "PRIVATE KEY-----!").repeat(30_000)],
    ["authorization headers", "authorization: ".repeat(60_000)],
    ["long token-like runs", "a".repeat(1_000_000)],
  ])("%s (1 MB) in well under a second", (_name, text) => {
    const t0 = performance.now();
    redact(text, ["not-present-secret"]);
    expect(performance.now() - t0).toBeLessThan(1_000);
  });
});

describe("StreamRedactor", () => {
  const corpus = [
    `start ${FAKE.ghp} then ${FAKE.finePat}\n`,
    `keys ${FAKE.anthropic} ${FAKE.slackBot} ${FAKE.aws} ${FAKE.google}\n`,
    `Authorization: Bearer ${rep("tok3n", 40)}\n`,
    `${PEM}\n`,
    "task-list and a literal: my-literal-secret-value, done\n",
  ].join("");
  const secrets = ["my-literal-secret-value"];
  const expected = redact(corpus, secrets);

  function streamed(chunks: string[], options = {}): string {
    const r = new StreamRedactor(secrets, options);
    return chunks.map((c) => r.push(c)).join("") + r.flush();
  }

  it("matches redact() on the whole text wherever the stream is split in two", () => {
    expect(expected).toBe(
      "start *** then ***\nkeys *** *** *** ***\nAuthorization: Bearer ***\n***\ntask-list and a literal: ***, done\n",
    );
    for (let cut = 0; cut <= corpus.length; cut++) {
      expect(streamed([corpus.slice(0, cut), corpus.slice(cut)])).toBe(expected);
    }
  });

  it("matches redact() when the stream arrives a few characters at a time", () => {
    for (const size of [1, 3, 7, 64, 257]) {
      const chunks: string[] = [];
      for (let i = 0; i < corpus.length; i += size) chunks.push(corpus.slice(i, i + size));
      expect(streamed(chunks)).toBe(expected);
    }
  });

  it("does not redact a word because a chunk boundary fell inside it", () => {
    const text = `${"x".repeat(300)} task-${rep("list-of-words-", 40)}\n`;
    for (let cut = 290; cut < 320; cut++) expect(streamed([text.slice(0, cut), text.slice(cut)])).toBe(text);
  });

  it("emits ordinary text promptly, holding back only a short window", () => {
    const r = new StreamRedactor();
    const out = r.push("a".repeat(10_000) + " ");
    expect(out.length).toBeGreaterThanOrEqual(10_001 - 256);
    expect(out + r.flush()).toBe("a".repeat(10_000) + " ");
  });

  it("holds a token that may still be growing, up to a limit", () => {
    const r = new StreamRedactor([], { maxHoldChars: 1000 });
    const y = "y".repeat(400);
    const z = "z".repeat(400);
    // Longer than the look-back window, so only "a match reaching the end is held" keeps it whole.
    const longToken = j("gh", "p_", rep("aB3dE6gH9j", 600));
    expect(r.push(`${y} ${longToken}`)).toBe(`${y} `);
    expect(r.push("MORE")).toBe("");
    const ended = r.push(` end ${z}`);
    expect(ended.startsWith("*** end z")).toBe(true);
    expect(ended + r.flush()).toBe(`*** end ${z}`);
    // A "token" that never ends is hidden up to the limit, then let through.
    const s = new StreamRedactor([], { maxHoldChars: 1000 });
    let out = s.push("sk-");
    for (let i = 0; i < 50; i++) out += s.push("a".repeat(100));
    out += s.flush();
    expect(out.startsWith("***")).toBe(true);
    expect(out.length).toBeLessThan(5_003);
  });
});
