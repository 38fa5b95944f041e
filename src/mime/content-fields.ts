// The Content-* fields of one MIME part, as BODYSTRUCTURE reports them.

import libmime from "libmime";
import type { EnvelopeFields, MimeNode, MimeParam } from "./types";
import { fieldValue, firstField, type RawField } from "./header-block";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export type ContentFields = Pick<
  MimeNode,
  "type" | "subtype" | "params" | "id" | "description" | "encoding" | "md5" | "disposition" | "language" | "location"
>;

function nonEmpty(s: string | undefined): string | null {
  return s === undefined || s === "" ? null : s;
}

function toParams(params: Record<string, string>): MimeParam[] {
  return Object.entries(params).map(([name, value]) => ({ name: name.toLowerCase(), value }));
}

function stripComments(s: string): string {
  // CTE and Content-Language are bare tokens; nested comments are rare enough to strip one level.
  return s.replace(/\([^()]*\)/g, "");
}

/**
 * Reads the Content-* fields. `defaultType` is what an absent Content-Type means
 * (message/rfc822 inside multipart/digest, text/plain elsewhere, RFC 2046 §5.1).
 */
export function readContentFields(buf: Buffer, fields: RawField[], defaultType: [string, string]): ContentFields {
  const get = (key: string): string | undefined => {
    const f = firstField(fields, key);
    return f ? fieldValue(buf, f) : undefined;
  };

  let type = defaultType[0];
  let subtype = defaultType[1];
  let params: MimeParam[] = [];
  const ct = get("content-type");
  if (ct !== undefined) {
    const parsed = libmime.parseHeaderValue(ct, { stripComments: true });
    const [t, s, ...rest] = parsed.value.trim().split("/");
    if (t !== undefined && s !== undefined && rest.length === 0 && TOKEN.test(t.trim()) && TOKEN.test(s.trim())) {
      type = t.trim();
      subtype = s.trim();
      params = toParams(parsed.params);
    } else {
      // An unreadable type is treated as absent, as RFC 2045 §5.2 asks.
      type = "text";
      subtype = "plain";
    }
  }

  let encoding: string | null = null;
  const cte = get("content-transfer-encoding");
  if (cte !== undefined) {
    const token = stripComments(cte).trim();
    if (TOKEN.test(token)) encoding = token;
  }

  let disposition: ContentFields["disposition"] = null;
  const cd = get("content-disposition");
  if (cd !== undefined) {
    const parsed = libmime.parseHeaderValue(cd, { stripComments: true });
    const value = parsed.value.trim();
    if (value !== "") disposition = { value, params: toParams(parsed.params) };
  }

  let language: string[] | null = null;
  const cl = get("content-language");
  if (cl !== undefined) {
    const tags = stripComments(cl)
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== "");
    if (tags.length > 0) language = tags;
  }

  return {
    type,
    subtype,
    params,
    id: nonEmpty(get("content-id")),
    description: nonEmpty(get("content-description")),
    encoding,
    md5: nonEmpty(get("content-md5")),
    disposition,
    language,
    location: nonEmpty(get("content-location")),
  };
}

const ENVELOPE_KEYS: Array<[keyof EnvelopeFields, string]> = [
  ["date", "date"],
  ["subject", "subject"],
  ["from", "from"],
  ["sender", "sender"],
  ["replyTo", "reply-to"],
  ["to", "to"],
  ["cc", "cc"],
  ["bcc", "bcc"],
  ["inReplyTo", "in-reply-to"],
  ["messageId", "message-id"],
];

export function readEnvelopeFields(buf: Buffer, fields: RawField[]): EnvelopeFields {
  const out: EnvelopeFields = {};
  for (const [prop, key] of ENVELOPE_KEYS) {
    const f = firstField(fields, key);
    if (f) out[prop] = fieldValue(buf, f);
  }
  return out;
}
