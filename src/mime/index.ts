// Message parsing for ENVELOPE, BODYSTRUCTURE, BODY[section] and SEARCH.

export { parseMime } from "./parse";
export { envelope } from "./envelope";
export { addressTexts } from "./address";
export { bodyStructure } from "./body-structure";
export { section, resolvePart } from "./section";
export { headerValues, searchableText, sentDate } from "./text";
export { formatSexp } from "./sexp-format";
export { ADJACENT, type MimeNode, type MimeParam, type EnvelopeFields, type Sexp } from "./types";
