declare module "utf7" {
  export const imap: { encode(s: string): string; decode(s: string): string };
  export function encode(s: string): string;
  export function decode(s: string): string;
}
