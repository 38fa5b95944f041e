// Test helpers for the grammar unit tests: wire bytes → framer → tokenizer,
// the same path a session's input takes. Not used by production code.
import { CommandFramer } from "../framer";
import { parseCommand } from "../tokenizer";
import type { ParsedCommand } from "../types";

export const TEST_LIMITS = { maxLineLength: 65536, maxLiteralSize: 1024 * 1024 };

/** Frames `wire` (CRLF appended unless it already ends in LF) and tokenises the single command unit in it. */
export function tokenize(wire: string | Buffer): ParsedCommand {
  let bytes = typeof wire === "string" ? Buffer.from(wire, "utf8") : wire;
  if (bytes[bytes.length - 1] !== 0x0a) bytes = Buffer.concat([bytes, Buffer.from("\r\n")]);
  const framer = new CommandFramer(TEST_LIMITS, () => {});
  const events = framer.push(bytes);
  const units = events.filter((e) => e.type === "unit");
  if (events.length !== 1 || units.length !== 1) {
    throw new Error(`expected one command unit, got ${JSON.stringify(events.map((e) => e.type))}`);
  }
  const unit = units[0]!;
  if (unit.type !== "unit") throw new Error("unreachable");
  return parseCommand(unit.parts, unit.literalAt);
}
