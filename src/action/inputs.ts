import { z } from "zod";

/**
 * The Action's inputs, parsed by one schema so every input has one meaning and one error message.
 * Inputs arrive as strings (an unset input is ""), so each is read as text first.
 */

const text = z.string().transform((s) => s.trim());
const optionalText = text.transform((s) => (s === "" ? undefined : s));

/** What the Action can do; each mode is one file of src/action/. */
export const ACTION_MODES = ["execute", "route", "recover", "analyze"] as const;

const InputsObject = z.object({
  mode: text.pipe(z.enum(ACTION_MODES, { error: `mode must be one of: ${ACTION_MODES.join(", ")}` })),
  "github-token": text.pipe(z.string().min(1, "github-token is empty; pass ${{ github.token }} or a token")),
  "issue-number": optionalText.pipe(
    z
      .string()
      .regex(/^[1-9]\d*$/, "issue-number must be a positive whole number")
      .transform(Number)
      .optional(),
  ),
  task: optionalText,
  decision: optionalText,
  tool: optionalText,
  deliver: text
    .pipe(z.enum(["commit", "artifact", ""], { error: "deliver must be commit or artifact" }))
    .transform((s) => (s === "" ? "commit" : s)),
  "config-path": text.pipe(z.string().min(1)),
  "app-id": optionalText.pipe(
    z
      .string()
      .regex(/^[1-9]\d*$/, "app-id must be a positive whole number")
      .transform(Number)
      .optional(),
  ),
  "trigger-label": optionalText,
  /** The recovery step the app dispatched (JSON); recoverMode checks it with its own schema. */
  recovery: optionalText,
  "event-logs": text.transform((s) =>
    s
      .split(/[\n,]/)
      .map((p) => p.trim())
      .filter((p) => p !== ""),
  ),
  "window-days": optionalText.pipe(
    z
      .string()
      .regex(/^[1-9]\d*$/, "window-days must be a whole number of days from 1 to 90")
      .transform(Number)
      .pipe(z.number().max(90, "window-days must be a whole number of days from 1 to 90"))
      .optional(),
  ),
  /** A secret: main.ts masks it before anything else runs. */
  "alert-webhook-url": optionalText,
  "dry-run": text
    .pipe(z.enum(["true", "false", ""], { error: "dry-run must be true or false" }))
    .transform((s) => s === "true"),
});

// Only mode execute works on one named task; the other modes read theirs from the event.
export const ActionInputsSchema = InputsObject.refine(
  (i) => i.mode !== "execute" || i["issue-number"] !== undefined || i.task !== undefined,
  {
    message: "mode execute needs issue-number or task",
    path: ["issue-number"],
  },
).refine((i) => !(i["issue-number"] !== undefined && i.task !== undefined), {
  message: "give issue-number or task, not both",
  path: ["task"],
});
export type ActionInputs = z.output<typeof ActionInputsSchema>;

/** Names of the inputs, for reading them and for the test that keeps action.yml in step. */
export const ACTION_INPUT_NAMES = Object.keys(InputsObject.shape) as (keyof ActionInputs)[];
