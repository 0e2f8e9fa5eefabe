/**
 * Writes Kubernetes protobuf bodies (the `k8s\0` envelope around runtime.Unknown) for tests, the
 * way kubectl's serializer lays them out: typeMeta (1), raw (2) holding the object, whose
 * metadata is field 1. Field numbers from apimachinery's generated.proto files.
 */
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

export interface ObjectFields {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly name?: string;
  readonly generateName?: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** Bytes of the object after its metadata (spec and the rest), unread by the broker. */
  readonly rest?: Uint8Array;
}

export const MAGIC = Buffer.from('k8s\0', 'latin1');

export function objectMeta(f: ObjectFields): Uint8Array {
  const w = new BinaryWriter();
  if (f.name !== undefined) w.tag(1, WireType.LengthDelimited).string(f.name);
  if (f.generateName !== undefined) w.tag(2, WireType.LengthDelimited).string(f.generateName);
  if (f.namespace !== undefined) w.tag(3, WireType.LengthDelimited).string(f.namespace);
  for (const [key, value] of Object.entries(f.labels ?? {})) {
    w.tag(11, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(key).tag(2, WireType.LengthDelimited).string(value).join();
  }
  return w.finish();
}

/** The object inside `raw`: metadata, then whatever else the caller brings. */
export function objectBytes(f: ObjectFields): Uint8Array {
  const w = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(objectMeta(f));
  return Buffer.concat([w.finish(), f.rest ?? new Uint8Array(0)]);
}

export function envelope(typeMeta: Uint8Array, raw: Uint8Array): Buffer {
  const w = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(typeMeta).tag(2, WireType.LengthDelimited).bytes(raw);
  return Buffer.concat([MAGIC, w.finish()]);
}

export function typeMeta(apiVersion: string, kind: string): Uint8Array {
  return new BinaryWriter().tag(1, WireType.LengthDelimited).string(apiVersion).tag(2, WireType.LengthDelimited).string(kind).finish();
}

/** A whole body as kubectl would send it. */
export function protobufBody(f: ObjectFields): Buffer {
  return envelope(typeMeta(f.apiVersion ?? 'v1', f.kind ?? 'ConfigMap'), objectBytes(f));
}
