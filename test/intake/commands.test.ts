import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sanitizeUntrusted } from "../../src/domain/untrusted.js";
import { commandNames, firstCommand, helpText, maxNoteLength, parseCommands, type ParsedCommand } from "../../src/intake/commands.js";

const HIDDEN = /[\u200B-\u200D\u2060-\u2064\uFEFF\u00AD\u180E\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/;
const invisible = ["\u200B", "\u200C", "\u200D", "\u2060", "\uFEFF", "\u00AD", "\u202A", "\u202E", "\u2066", "\u2069", "\u200E", "\u200F", "\u061C"];

describe("parseCommands", () => {
  const table: [string, string, ParsedCommand[]][] = [
    ["a bare retry", "/retry", [{ command: "retry", note: "" }]],
    ["retry with a note", "/retry   mock the clock  ", [{ command: "retry", note: "mock the clock" }]],
    ["retry with a model and a note", "/retry --model openai/gpt-5 try smaller steps", [{ command: "retry", note: "try smaller steps", model: "openai/gpt-5" }]],
    ["retry with --model=", "/retry --model=anthropic/claude-opus-4-1", [{ command: "retry", note: "", model: "anthropic/claude-opus-4-1" }]],
    ["retry with a budget", "/retry --budget 25 go on", [{ command: "retry", note: "go on", budgetUsd: 25 }]],
    ["retry with a dollar budget", "/retry --budget $12.50", [{ command: "retry", note: "", budgetUsd: 12.5 }]],
    ["retry with both flags after the note", "/retry smaller steps --budget 40 --model openai/gpt-5-mini", [{ command: "retry", note: "smaller steps", model: "openai/gpt-5-mini", budgetUsd: 40 }]],
    ["retry with the largest budget", "/retry --budget 1000", [{ command: "retry", note: "", budgetUsd: 1000 }]],
    ["escalate with a reason", "/escalate the spec is ambiguous", [{ command: "escalate", note: "the spec is ambiguous" }]],
    ["escalate keeps flag-like text as its reason", "/escalate --model openai/gpt-5 is wrong", [{ command: "escalate", note: "--model openai/gpt-5 is wrong" }]],
    ["approve", "/approve", [{ command: "approve", note: "" }]],
    ["approve with a remark", "/approve looks good", [{ command: "approve", note: "looks good" }]],
    ["cancel", "/cancel", [{ command: "cancel", note: "" }]],
    ["status", "/status", [{ command: "status", note: "" }]],
    ["help", "/help", [{ command: "help", note: "" }]],
    ["upper-case command word", "/RETRY Now", [{ command: "retry", note: "Now" }]],
    ["mixed-case command word", "/Escalate please", [{ command: "escalate", note: "please" }]],
    ["a tab after the command", "/retry\tnote", [{ command: "retry", note: "note" }]],
    ["up to three spaces of indent", "   /status", [{ command: "status", note: "" }]],
    ["CRLF line endings", "thanks\r\n/retry again\r\n", [{ command: "retry", note: "again" }]],
    ["a command after other lines", "Tests failed.\n/retry use the fake clock\nthanks", [{ command: "retry", note: "use the fake clock" }]],
    ["every command line, in order", "/status\n/retry\n/help", [{ command: "status", note: "" }, { command: "retry", note: "" }, { command: "help", note: "" }]],
    ["a zero-width space cannot hide a command", "\u200B/retry", [{ command: "retry", note: "" }]],
    ["a zero-width joiner inside the word still reads /retry", "/re\u200Dtry", [{ command: "retry", note: "" }]],
    ["a bidi override before the command", "\u202E/cancel", [{ command: "cancel", note: "" }]],
    ["an HTML comment before the command on its line", "<!-- hi -->/approve", [{ command: "approve", note: "" }]],
    ["a command after a closed fence", "```\n/retry\n```\n/status", [{ command: "status", note: "" }]],
    ["a command after a quote and a blank line", "> /retry\n\n/escalate", [{ command: "escalate", note: "" }]],
    ["a command after a closed HTML comment", "<!--\n/retry\n-->\n/status", [{ command: "status", note: "" }]],
  ];
  it.each(table)("%s", (_name, body, expected) => {
    expect(parseCommands(body)).toEqual(expected);
  });

  const ignored: [string, string][] = [
    ["no command", "Looks great, thanks!"],
    ["a command mid-line", "please /retry this"],
    ["a command after a list marker", "- /retry"],
    ["an unknown command", "/rerun"],
    ["a longer word", "/retrying"],
    ["punctuation glued to the word", "/retry: now"],
    ["no slash", "retry"],
    ["inline code", "`/retry`"],
    ["a backtick fence", "```\n/retry\n```"],
    ["a tilde fence", "~~~\n/retry\n~~~"],
    ["a long fence closed only by a long enough one", "````\n```\n/retry\n````"],
    ["a tilde fence not closed by backticks", "~~~\n```\n/retry\n~~~"],
    ["an indented fence", "   ```sh\n/retry\n   ```"],
    ["an unclosed fence", "```\n/retry"],
    ["a fence with an info string", "```text\n/retry\n```"],
    ["a block quote", "> /retry"],
    ["a block quote without a space", ">/retry"],
    ["a nested block quote", "> > /retry"],
    ["an indented block quote", "   > /retry"],
    ["a lazy continuation of a quote", "> the tests failed\n/retry"],
    ["an HTML comment", "<!-- /retry -->"],
    ["a multi-line HTML comment", "<!--\n/retry\n-->"],
    ["an unclosed HTML comment", "hello <!--\n/retry"],
    ["an indented code block", "text\n\n    /retry"],
    ["a tab-indented code block", "\t/retry"],
  ];
  it.each(ignored)("ignores %s", (_name, body) => {
    expect(parseCommands(body)).toEqual([]);
  });

  const errors: [string, string, string][] = [
    ["--budget without a value", "/retry --budget", "--budget needs a positive number of dollars"],
    ["--budget that is not a number", "/retry --budget lots", "--budget needs a positive number of dollars"],
    ["--budget of zero", "/retry --budget 0", "--budget needs a positive number of dollars"],
    ["a negative --budget", "/retry --budget -5", "--budget needs a positive number of dollars"],
    ["--budget in exponent form", "/retry --budget 1e3", "--budget needs a positive number of dollars"],
    ["--budget over the cap", "/retry --budget 1000.01", "--budget is at most 1000 dollars"],
    ["--model without a value", "/retry --model", "--model needs a route"],
    ["--model that is not a route", "/retry --model gpt-5", "--model gpt-5 is not a route"],
    ["--model with an upper-case provider", "/retry --model OpenAI/gpt-5", "is not a route"],
  ];
  it.each(errors)("reports %s", (_name, body, message) => {
    const [parsed] = parseCommands(body);
    expect(parsed?.command).toBe("retry");
    expect(parsed?.error).toContain(message);
    expect(parsed?.budgetUsd).toBeUndefined();
    expect(parsed?.model).toBeUndefined();
  });

  it("keeps the valid flag when the other is malformed, and still reports the error", () => {
    expect(parseCommands("/retry --model openai/gpt-5 --budget nope fix it")).toEqual([
      { command: "retry", note: "fix it", model: "openai/gpt-5", error: "--budget needs a positive number of dollars, such as --budget 25" },
    ]);
  });

  it("cuts a long note to the limit", () => {
    const [parsed] = parseCommands(`/escalate ${"x".repeat(5000)}`);
    expect(parsed?.note).toHaveLength(maxNoteLength);
  });

  it("does not split a surrogate pair when cutting", () => {
    const [parsed] = parseCommands(`/escalate ${"x".repeat(maxNoteLength - 1)}😀tail`);
    expect(parsed?.note).toBe("x".repeat(maxNoteLength - 1));
  });

  it("sanitizes the note", () => {
    expect(firstCommand("/escalate use\u200B the <!-- secret --> fake\u202E clock")?.note).toBe("use the  fake clock");
  });
});

describe("firstCommand", () => {
  it("acts on the first command only", () => {
    expect(firstCommand("/cancel\n/retry")).toEqual({ command: "cancel", note: "" });
  });

  it("skips commands that are quoted or fenced to find the real one", () => {
    expect(firstCommand("> /cancel\n\n```\n/approve\n```\n/retry go")).toEqual({ command: "retry", note: "go" });
  });

  it("is undefined without a command", () => {
    expect(firstCommand("just a comment")).toBeUndefined();
    expect(firstCommand("")).toBeUndefined();
  });
});

describe("helpText", () => {
  it("lists every command and the retry flags", () => {
    for (const name of commandNames) expect(helpText).toContain(`/${name}`);
    expect(helpText).toContain("--model");
    expect(helpText).toContain("--budget");
  });

  it("contains no command line of its own, so quoting the help back never runs one", () => {
    expect(parseCommands(helpText)).toEqual([]);
  });
});

describe("properties", () => {
  /** Ordinary text: nothing that opens or closes a fence, a quote or a comment, no slash. */
  const filler = fc.stringMatching(/^[A-Za-z0-9 .,!?]{0,30}$/);
  const fillerLines = fc.array(filler.map((s) => `w${s}`), { maxLength: 4 });
  const command = fc.constantFrom(...commandNames).chain((name) =>
    fc.tuple(fc.constantFrom(name, name.toUpperCase()), filler).map(([word, note]) => `/${word}${note === "" ? "" : ` ${note}`}`),
  );
  /** Sprinkles invisible characters anywhere in the text. */
  const sprinkle = (text: string) =>
    fc.array(fc.tuple(fc.nat({ max: text.length }), fc.constantFrom(...invisible)), { maxLength: 6 }).map((inserts) => {
      let out = text;
      for (const [at, ch] of inserts.sort((a, b) => b[0] - a[0])) out = out.slice(0, at) + ch + out.slice(at);
      return out;
    });
  const indent = fc.constantFrom("", " ", "  ", "   ");
  const wrapped = fc.oneof(
    fc.tuple(indent, fc.constantFrom("```", "````", "~~~", "~~~~~"), fc.constantFrom("", "sh", "text"), fillerLines, command, fc.boolean()).map(
      ([pad, fence, info, lines, cmd, closed]) => [`${pad}${fence}${info}`, ...lines, cmd, ...(closed ? [fence] : [])].join("\n"),
    ),
    fc.tuple(indent, fc.constantFrom(">", "> ", "> > "), command).map(([pad, mark, cmd]) => `${pad}${mark}${cmd}`),
    fc.tuple(fillerLines, command).map(([lines, cmd]) => [`> ${lines.join(" ")}quoted`, cmd].join("\n")),
    fc.tuple(command, fc.boolean()).map(([cmd, closed]) => `<!--\n${cmd}\n${closed ? "-->" : ""}`),
    command.map((cmd) => `<!-- ${cmd} -->`),
    command.map((cmd) => `    ${cmd}`),
  );
  const around = fc.tuple(fillerLines, fillerLines);

  it("sanitizeUntrusted leaves no comment, zero-width or bidi character in a seeded comment body", () => {
    const piece = fc.oneof(
      fc.constantFrom(...invisible, "<!--", "-->", "<!-- note -->", "```", "~~~", "> ", "\n", "/retry", "<"),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }).map((p) => p.join("")), (body) => {
        const out = sanitizeUntrusted(body);
        expect(out).not.toContain("<!--");
        expect(out).not.toMatch(HIDDEN);
      }),
      { numRuns: 1000 },
    );
  });

  it("never finds a command that sits only in a fence, a quote, an HTML comment or indented code", () => {
    const bodies = fc.tuple(around, wrapped).chain(([[before, after], block]) => sprinkle([...before, "", block, "", ...after].join("\n")));
    fc.assert(
      fc.property(bodies, (body) => {
        expect(parseCommands(body)).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });

  it("finds a plain command line however invisible characters are sprinkled into it", () => {
    const cases = fc.tuple(around, command).chain(([[before, after], cmd]) =>
      sprinkle(cmd).map((seeded) => ({ cmd, body: [...before, "", seeded, "", ...after].join("\n") })),
    );
    fc.assert(
      fc.property(cases, ({ cmd, body }) => {
        expect(firstCommand(body)?.command).toBe(cmd.slice(1).split(" ")[0]!.toLowerCase());
      }),
      { numRuns: 1000 },
    );
  });
});
