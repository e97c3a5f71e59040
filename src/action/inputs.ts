import { z } from "zod";

/**
 * The Action's inputs, parsed by one schema so every input has one meaning and one error message.
 * Inputs arrive as strings (an unset input is ""), so each is read as text first.
 */

const text = z.string().transform((s) => s.trim());
const optionalText = text.transform((s) => (s === "" ? undefined : s));

const InputsObject = z.object({
  mode: text.pipe(z.enum(["execute"], { error: "mode must be 'execute'" })),
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
  "config-path": text.pipe(z.string().min(1)),
  "dry-run": text
    .pipe(z.enum(["true", "false", ""], { error: "dry-run must be true or false" }))
    .transform((s) => s === "true"),
});

export const ActionInputsSchema = InputsObject.refine(
  (i) => i["issue-number"] !== undefined || i.task !== undefined,
  {
    message: "give issue-number or task",
    path: ["issue-number"],
  },
).refine((i) => !(i["issue-number"] !== undefined && i.task !== undefined), {
  message: "give issue-number or task, not both",
  path: ["task"],
});
export type ActionInputs = z.output<typeof ActionInputsSchema>;

/** Names of the inputs, for reading them and for the test that keeps action.yml in step. */
export const ACTION_INPUT_NAMES = Object.keys(InputsObject.shape) as (keyof ActionInputs)[];
