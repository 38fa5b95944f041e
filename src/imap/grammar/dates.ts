export function parseDateTime(text: string): number { void text; throw new Error("not implemented"); }
export function parseSearchDate(text: string): string { void text; throw new Error("not implemented"); }
export function formatInternalDate(ms: number): string { void ms; throw new Error("not implemented"); }
