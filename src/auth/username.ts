export const MAX_USERNAME_BYTES = 255;

/**
 * Why a user name is unacceptable, or undefined if it is fine. Names travel as
 * IMAP astrings and as `NAME:PASSWORD` on the command line, so whitespace,
 * control characters and ':' are refused; the rest of Unicode is allowed.
 */
export function usernameProblem(name: string): string | undefined {
  if (name.length === 0) return "user name is empty";
  if (Buffer.byteLength(name, "utf8") > MAX_USERNAME_BYTES) return `user name is longer than ${MAX_USERNAME_BYTES} bytes`;
  if (/[\s\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(name)) return "user name contains whitespace or control characters";
  if (name.includes(":")) return "user name contains ':'";
  if (/\p{Cs}/u.test(name)) return "user name is not well-formed Unicode";
  return undefined;
}

export function isValidUsername(name: string): boolean {
  return usernameProblem(name) === undefined;
}
