import { z } from "zod";
import { InputError } from "../core/errors.js";

/**
 * A process-wide sliding-window limit on content-creating requests, below GitHub's secondary
 * rate limits: "no more than 80 content-generating requests per minute and no more than 500 per
 * hour" (docs.github.com, "Rate limits for the REST API", About secondary rate limits).
 *
 * @octokit/plugin-throttling spaces writes one second apart, and comments three seconds apart in
 * a second group; a comment held by the second group then goes out together with the next write,
 * so one process reaches 80 writes a minute, the limit itself, and nothing bounds the hour. This
 * queue counts what was actually sent in the last minute and hour and holds a write until it fits,
 * so a burst of routes slows down instead of collecting 403s. The throttling plugin stays: it
 * still waits out the 403/429 answers another replica, or a person using the same installation,
 * can cause.
 *
 * Where it sits: an Octokit `request` hook registered after the throttling plugin's, so a write
 * waits here before it takes any of the throttling plugin's slots (its global group of 10 is
 * shared with reads, which must never wait behind writes). A slot is reserved when a write leaves
 * the queue and becomes a timestamp when the write reaches `fetch`; the throttling plugin's own
 * retries of that write reach `fetch` again and are counted as the extra requests they are.
 */

export interface WriteQueueLimits {
  /** Content-creating requests allowed to start in any 60 s. */
  perMinute: number;
  /** Content-creating requests allowed to start in any hour. */
  perHour: number;
}

/** 75% of GitHub's 80/min and 90% of its 500/h: headroom for a person or tool on the same account. */
export const DEFAULT_WRITE_LIMITS: WriteQueueLimits = { perMinute: 60, perHour: 450 };

export interface WriteQueueOptions extends Partial<WriteQueueLimits> {
  /** The clock, in ms. Default Date.now, read at each call (fake timers replace it). */
  now?: () => number;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

const OptionsSchema = z.strictObject({
  perMinute: z.number().int().min(1).max(80).optional(),
  perHour: z.number().int().min(1).max(500).optional(),
  now: z.custom<() => number>((v) => typeof v === "function", "a function returning ms").optional(),
});

/** One write let through: `sent()` when it reaches the network (again on each retry), then `done()`. */
export interface WriteTicket {
  sent(): void;
  done(): void;
}

export class WriteQueue {
  readonly limits: WriteQueueLimits;
  private readonly now: () => number;
  /** Start times of writes in the last hour, oldest first. */
  private readonly starts: number[] = [];
  /** Writes let through that have not reached fetch yet: they may any moment. */
  private reserved = 0;
  private readonly waiting: (() => void)[] = [];
  private timer: { at: number; handle: ReturnType<typeof setTimeout> } | null = null;

  constructor(options: WriteQueueOptions = {}) {
    const parsed = OptionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InputError(
        `invalid write queue options: ${issue.path.join(".") || "(root)"}: ${issue.message} ` +
          "(GitHub allows at most 80 content-creating requests a minute and 500 an hour)",
      );
    }
    const o = parsed.data;
    this.limits = {
      perMinute: o.perMinute ?? DEFAULT_WRITE_LIMITS.perMinute,
      perHour: o.perHour ?? DEFAULT_WRITE_LIMITS.perHour,
    };
    if (this.limits.perMinute > this.limits.perHour) {
      throw new InputError(
        `invalid write queue options: perMinute (${this.limits.perMinute}) is more than perHour (${this.limits.perHour})`,
      );
    }
    this.now = o.now ?? (() => Date.now());
  }

  /** Writes waiting for room. */
  get pending(): number {
    return this.waiting.length;
  }

  /** Writes counted against the limits now: sent within the last minute / hour, plus reserved. */
  usage(): { minute: number; hour: number } {
    const now = this.now();
    this.prune(now);
    const minute = this.starts.length - this.firstAfter(now - MINUTE);
    return { minute: minute + this.reserved, hour: this.starts.length + this.reserved };
  }

  /** Resolves when a write may go out, in the order asked. */
  acquire(): Promise<WriteTicket> {
    return new Promise<WriteTicket>((resolve) => {
      this.waiting.push(() => resolve(this.ticket()));
      this.pump();
    });
  }

  /** Runs `send` when there is room; `send` gets the ticket to mark each time it reaches fetch. */
  async run<T>(send: (ticket: WriteTicket) => Promise<T>): Promise<T> {
    const ticket = await this.acquire();
    try {
      return await send(ticket);
    } finally {
      ticket.done();
    }
  }

  private ticket(): WriteTicket {
    this.reserved++;
    let holding = true;
    return {
      sent: () => {
        if (holding) {
          holding = false;
          this.reserved--;
        }
        this.starts.push(this.now());
        // A reservation became a start that will leave the window: waiters need a timer for it.
        if (this.waiting.length > 0) this.pump();
      },
      done: () => {
        if (!holding) return;
        // Never reached the network (refused before sending): its slot is free again.
        holding = false;
        this.reserved--;
        this.pump();
      },
    };
  }

  private pump(): void {
    while (this.waiting.length > 0) {
      const now = this.now();
      const wait = this.waitFor(now);
      if (wait > 0) {
        this.wakeAt(now + wait);
        return;
      }
      if (wait < 0) return; // full of reservations: a done() or the next timer wakes the queue
      this.waiting.shift()!();
    }
  }

  /** 0 when a write may start now, the ms until one may, or -1 when only reservations block. */
  private waitFor(now: number): number {
    this.prune(now);
    const inMinute = this.firstAfter(now - MINUTE);
    const minuteCount = this.starts.length - inMinute + this.reserved;
    const hourCount = this.starts.length + this.reserved;
    let until = 0;
    if (minuteCount >= this.limits.perMinute) {
      // The oldest start that has to leave the minute for one more write to fit.
      const k = minuteCount - this.limits.perMinute;
      const leaving = this.starts[inMinute + k];
      if (leaving === undefined) return -1;
      until = Math.max(until, leaving + MINUTE - now);
    }
    if (hourCount >= this.limits.perHour) {
      const leaving = this.starts[hourCount - this.limits.perHour];
      if (leaving === undefined) return -1;
      until = Math.max(until, leaving + HOUR - now);
    }
    return until === 0 ? 0 : Math.max(1, until);
  }

  private wakeAt(at: number): void {
    if (this.timer && this.timer.at <= at) return;
    if (this.timer) clearTimeout(this.timer.handle);
    const handle = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, at - this.now());
    this.timer = { at, handle };
  }

  /** Index of the first start later than `t` (starts are in time order). */
  private firstAfter(t: number): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! > t) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private prune(now: number): void {
    const keep = this.firstAfter(now - HOUR);
    if (keep > 0) this.starts.splice(0, keep);
  }
}

/**
 * Whether GitHub counts a request as content creation: every POST, PATCH, PUT and DELETE except
 * the app's own token requests, which have a limit of their own (2,000 an hour) and which every
 * read of a new installation needs, so holding them here would delay reads.
 */
export function isContentWrite(method: string, url: string): boolean {
  const m = method.toUpperCase();
  if (m === "GET" || m === "HEAD" || m === "OPTIONS") return false;
  const path = new URL(url, "http://github.invalid").pathname.replace(/^\/api\/v3(?=\/)/, "");
  if (m === "POST" && /^\/app\/installations\/[^/]+\/access_tokens$/.test(path)) return false;
  return true;
}

let shared: WriteQueue | undefined;

/** The queue every client in this process shares unless given another: the limits are GitHub's per account. */
export function sharedWriteQueue(): WriteQueue {
  shared ??= new WriteQueue();
  return shared;
}

interface HookedOctokit {
  hook: {
    wrap(
      name: "request",
      fn: (
        request: (options: RequestOptions) => Promise<unknown>,
        options: RequestOptions,
      ) => Promise<unknown>,
    ): void;
  };
}

interface RequestOptions {
  method: string;
  url: string;
  request?: { fetch?: typeof fetch } & Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * The Octokit plugin. The queue is the client option `writeQueue` (a WriteQueue, or `false` for
 * none), else the process-wide one. Register it after @octokit/plugin-throttling
 * (`ProbotOctokit.plugin(writeQueue)`, `Octokit.plugin(throttling, retry, writeQueue)`).
 */
export function writeQueue(octokit: unknown, options: Record<string, unknown> = {}): void {
  const chosen = options.writeQueue;
  if (chosen === false) return;
  if (chosen !== undefined && !(chosen instanceof WriteQueue)) {
    throw new InputError("invalid Octokit options: writeQueue: expected a WriteQueue or false");
  }
  const queue = chosen ?? sharedWriteQueue();
  (octokit as HookedOctokit).hook.wrap("request", (request, opts) => {
    if (!isContentWrite(opts.method, opts.url)) return request(opts);
    return queue.run((ticket) => {
      // Without a fetch of its own, Octokit uses globalThis.fetch at the time of the request.
      const inner = opts.request?.fetch;
      const counted = ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
        ticket.sent();
        return (inner ?? globalThis.fetch)(input, init);
      }) as typeof fetch;
      // Changed in place: before-after-hook binds every inner hook to this same options object
      // and ignores the argument a wrapper passes on.
      opts.request = { ...opts.request, fetch: counted };
      return request(opts);
    });
  });
}
