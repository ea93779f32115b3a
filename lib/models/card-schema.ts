// The shape of a model card, one TypeBox definition for each part: this
// package's card format (models/*.yaml, card.yaml) as written, and the
// resolved pre-processing that reaches the native readers whatever the card's
// origin (inference.yml included). A value outside them is ERR_MODEL_CARD
// naming the key, never a NaN handed to static_cast<int> natively.
import { TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ShituError } from '../errors';
import { describeValue, pointerToKey } from '../util/json-path';

/** Image sides the pre-processing may resize to (0: from the model's input shape). */
export const RESIZE_SIDE = { min: 0, max: 8192 } as const;
export const INTERPOLATIONS = ['nearest', 'linear', 'cubic', 'area', 'lanczos'] as const;
export const DETECTION_CONTRACTS = ['auto', 'nms', 'gfl'] as const;
export const TASKS = ['detection', 'feature'] as const;

// Unions of literals (TypeBox's Value checks know no raw `enum`); checkCard lists the allowed values.
const Enum = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));
// TypeBox's Value checks refuse NaN and ±Infinity for Type.Number (TypeSystemPolicy.AllowNaN is off).
const Finite = (o: Record<string, unknown> = {}) => Type.Number(o);
const Triple = (o: Record<string, unknown> = {}) => Type.Array(Finite(o), { minItems: 3, maxItems: 3 });
const Side = Type.Integer({ minimum: RESIZE_SIDE.min, maximum: RESIZE_SIDE.max });
const Name = Type.String({ minLength: 1 });

/** This package's card format, as written in YAML (snake_case). */
export const CardFile = Type.Object({
  name: Type.Optional(Name),
  task: Enum(TASKS),
  source: Type.Optional(Type.String()),
  model_file: Type.Optional(Name),
  preprocess: Type.Optional(Type.Object({
    resize: Type.Optional(Type.Object({
      width: Type.Optional(Side),
      height: Type.Optional(Side),
      keep_ratio: Type.Optional(Type.Boolean()),
      interpolation: Type.Optional(Type.Union([Enum(INTERPOLATIONS), Type.Integer({ minimum: 0, maximum: 4 })])),
    }, { additionalProperties: false })),
    scale: Type.Optional(Finite({ exclusiveMinimum: 0 })),
    mean: Type.Optional(Triple()),
    std: Type.Optional(Triple({ exclusiveMinimum: 0 })),
    channel_order: Type.Optional(Enum(['rgb', 'bgr'] as const)),
  }, { additionalProperties: false })),
  detection: Type.Optional(Type.Object({
    contract: Type.Optional(Enum(DETECTION_CONTRACTS)),
    strides: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 1024 }), { minItems: 1, maxItems: 16 })),
    reg_max: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
    nms_iou: Type.Optional(Finite({ minimum: 0, maximum: 1 })),
    max_detections: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
    threshold: Type.Optional(Finite({ minimum: 0, maximum: 1 })),
    labels: Type.Optional(Type.Array(Type.String())),
    labels_file: Type.Optional(Name),
    boxes_output: Type.Optional(Name),
    count_output: Type.Optional(Name),
  }, { additionalProperties: false })),
  feature: Type.Optional(Type.Object({
    output: Type.Optional(Name),
    input: Type.Optional(Name),
    max_batch: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
  }, { additionalProperties: false })),
}, { additionalProperties: false });

/** The resolved pre-processing (any card origin), as the native readers take it. */
export const Preprocess = Type.Object({
  width: Side,
  height: Side,
  keepRatio: Type.Boolean(),
  interpolation: Enum(INTERPOLATIONS),
  scale: Finite({ exclusiveMinimum: 0 }),
  mean: Triple(),
  std: Triple({ exclusiveMinimum: 0 }),
  channelOrder: Enum(['rgb', 'bgr'] as const),
});

/** Throws ERR_MODEL_CARD naming the first key that does not fit `schema`. */
export function checkCard(schema: TSchema, value: unknown, file: string, prefix = ''): void {
  const first = Value.Errors(schema, value).First();
  if (!first) return;
  const key = prefix + pointerToKey(first.path);
  const anyOf = (first.schema as { anyOf?: Array<{ const?: unknown }> }).anyOf;
  const allowed = anyOf && anyOf.every((s) => s.const !== undefined) ? ` (one of ${anyOf.map((s) => JSON.stringify(s.const)).join(', ')})` : '';
  throw new ShituError('ERR_MODEL_CARD', `model card ${file}: ${key}: ${first.message.toLowerCase()}${allowed}, got ${describeValue(first.value)}`);
}
