// libqp ships no typings; only the decoder is used here.
declare module "libqp" {
  /** Decodes quoted-printable text into the bytes it stands for. */
  export function decode(input: string | Buffer): Buffer;
}
