export class Atom { constructor(readonly text: string) {} }
export class Literal { constructor(readonly data: Buffer) {} }
export type ImapValue = string | number | null | Buffer | Atom | Literal | ImapValue[];
export function encodeValue(v: ImapValue): Buffer { void v; throw new Error("not implemented"); }
export function quoted(s: string): string { void s; throw new Error("not implemented"); }
