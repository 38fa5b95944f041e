// The parsed shape of one stored message. A MimeNode tree is computed once at
// APPEND and cached as JSON next to the blob, so everything here is plain data:
// byte offsets into the blob instead of slices, strings instead of Buffers.

/** RFC 3501 response data built by this module: string → quoted/literal, null → NIL, array → list. */
export type Sexp = string | number | null | Sexp[];

/**
 * RFC 3501 writes some lists with no SP between adjacent elements: the bodies of a
 * multipart (`1*body SP media-subtype`) and the addresses of an envelope list
 * (`"(" 1*address ")"`). An array carrying this symbol as an own property holds that
 * many leading elements written back to back; the remaining ones are separated by SP.
 */
export const ADJACENT: unique symbol = Symbol.for("charon.sexp.adjacent") as never;

export interface MimeParam {
  /** Lower-cased parameter name. */
  name: string;
  /** Parameter value, unquoted (RFC 2231 continuations joined by libmime). */
  value: string;
}

/** Header values ENVELOPE needs: first occurrence, unfolded and trimmed, never RFC 2047 decoded. */
export interface EnvelopeFields {
  date?: string;
  subject?: string;
  from?: string;
  sender?: string;
  replyTo?: string;
  to?: string;
  cc?: string;
  bcc?: string;
  inReplyTo?: string;
  messageId?: string;
}

export interface MimeNode {
  /**
   * IMAP part number: "" for the top-level message, "1", "1.2", ... An embedded
   * message's root carries the number of its message/rfc822 container, since it
   * has none of its own.
   */
  part: string;
  /** Offset of the first header byte within the whole message. */
  headerStart: number;
  /** Offset just past the header block (including its blank line): the body starts here. */
  bodyStart: number;
  /** Offset just past the body; the line break in front of a boundary is not part of it. */
  bodyEnd: number;
  /** Content type as written (case kept), "text" when absent or unreadable. */
  type: string;
  subtype: string;
  params: MimeParam[];
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding as written; null when absent or not a token (treated as 7bit). */
  encoding: string | null;
  /** Body size in octets (bodyEnd - bodyStart). */
  size: number;
  /** Number of LF in the body (RFC 3501 body-fld-lines, used for text/* and message/rfc822). */
  lines: number;
  md5: string | null;
  disposition: { value: string; params: MimeParam[] } | null;
  language: string[] | null;
  location: string | null;
  /** True for multipart/* nodes; their parts are in `children`. */
  multipart: boolean;
  children: MimeNode[];
  /** For message/rfc822 parts: the root node of the embedded message. */
  message?: MimeNode;
  /** Present on the top-level message root and on each embedded message root. */
  envelope?: EnvelopeFields;
}
